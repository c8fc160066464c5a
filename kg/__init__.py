"""Everything that speaks to Neo4j: settings, connection, schema, batched writes, reads, export.
Nothing outside `kg` imports the driver: kg's errors and `Transaction` stand in for its own."""

from kg.connection import Graph, Transaction
from kg.errors import GraphError, GraphQueryError, GraphTimeoutError, GraphUnavailableError
from kg.settings import Settings, get_settings

__all__ = [
    "Graph",
    "GraphError",
    "GraphQueryError",
    "GraphTimeoutError",
    "GraphUnavailableError",
    "Settings",
    "Transaction",
    "get_settings",
]
