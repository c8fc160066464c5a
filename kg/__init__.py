"""Everything that speaks to Neo4j: settings, connection, schema, batched writes, reads, export."""

from kg.connection import Graph
from kg.settings import Settings, get_settings

__all__ = ["Graph", "Settings", "get_settings"]
