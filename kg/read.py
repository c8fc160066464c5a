"""Reads for people and tools: counts by label and type, and a node's neighbourhood."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from kg.connection import Graph
from kg.schema import NODE_LABELS, RELATIONSHIP_TYPES

# Count-store lookups, one per known label/type; built from constants, never from input.
_COUNT_NODES = " UNION ALL ".join(
    f"MATCH (n:{label}) RETURN '{label}' AS name, count(n) AS count" for label in NODE_LABELS
)
_COUNT_RELATIONSHIPS = " UNION ALL ".join(
    f"MATCH ()-[r:{rel}]->() RETURN '{rel}' AS name, count(r) AS count"
    for rel in RELATIONSHIP_TYPES
)


def _neighbourhood_query(label: str) -> str:
    # `label` is checked against NODE_LABELS; the id index is per label, so it must be literal.
    return f"""
MATCH (n:{label} {{id: $id}})-[r]-(m)
RETURN type(r) AS type,
       CASE WHEN startNode(r) = n THEN 'out' ELSE 'in' END AS direction,
       labels(m)[0] AS label, m.id AS id,
       toString(coalesce(m.name, m.title, m.id)) AS name,
       properties(r) AS properties
ORDER BY type, label, id
LIMIT $limit
"""


class GraphCounts(BaseModel):
    nodes: dict[str, int]
    relationships: dict[str, int]

    @property
    def total_nodes(self) -> int:
        return sum(self.nodes.values())

    @property
    def total_relationships(self) -> int:
        return sum(self.relationships.values())


class Neighbour(BaseModel):
    type: str
    direction: str
    label: str
    id: str | None
    name: str | None
    properties: dict[str, Any]


def counts(graph: Graph) -> GraphCounts:
    """Nodes per label and relationships per type of the kgrec schema."""
    # A label or type the database has never seen yields no row at all, hence the zeros.
    nodes = dict.fromkeys(NODE_LABELS, 0)
    nodes.update({row["name"]: row["count"] for row in graph.read(_COUNT_NODES)})
    relationships = dict.fromkeys(RELATIONSHIP_TYPES, 0)
    relationships.update({row["name"]: row["count"] for row in graph.read(_COUNT_RELATIONSHIPS)})
    return GraphCounts(nodes=nodes, relationships=relationships)


def neighbourhood(graph: Graph, label: str, node_id: str, limit: int = 100) -> list[Neighbour]:
    """The relationships and direct neighbours of one node (`label` must be a kgrec label)."""
    if label not in NODE_LABELS:
        raise ValueError(f"Unknown label {label!r}; expected one of {', '.join(NODE_LABELS)}.")
    if not 1 <= limit <= 10_000:
        raise ValueError(f"limit must be between 1 and 10000, got {limit}")
    rows = graph.read(_neighbourhood_query(label), {"id": node_id, "limit": limit})
    return [Neighbour.model_validate(row) for row in rows]
