"""Graph paths that explain recommendations, fetched for all k items in one round trip.

From a user (through the items they interacted with), from liked items, or from named brands,
categories and attributes, to each recommended item, in at most 3 hops:

    (u)-[:INTERACTED]->(m)-[:ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER]-(t)
    (u)-[:INTERACTED]->(m)-[r1]-(x)-[r2]-(t)        x: a shared brand, category, attribute or item
    (u)-[:INTERACTED]->(m)<-[:INTERACTED]-(v)-[:INTERACTED]->(t)      v: another customer
    (m)-[...]-(t), (m)-[r1]-(x)-[r2]-(t)                  m: an item the request says it likes
    (e)<-[r]-(t), (e)<-[r]-(x)-[:ALSO_...]-(t)             e: a brand/category/attribute asked for

Each shape joins the start side and the item side on the middle node (`USING JOIN`), so a
category with thousands of items is never expanded. `path_cypher` renders a path as a query
that returns exactly it in Neo4j Browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from kg.connection import Graph
from kg.schema import NODE_LABELS, RELATIONSHIP_TYPES

ITEM_LINK = "ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER"
LINK = f"HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE|{ITEM_LINK}"

PATHS_QUERY = f"""
CALL () {{
  MATCH p = (:User {{id: $user}})-[:INTERACTED]->(m:Item)-[:{ITEM_LINK}]-(t:Item)
  USING JOIN ON m
  WHERE t.id IN $targets
  RETURN t, p
  UNION
  MATCH p = (:User {{id: $user}})-[:INTERACTED]->(m:Item)-[r1:{LINK}]-(x)-[r2:{LINK}]-(t:Item)
  USING JOIN ON x
  WHERE t.id IN $targets AND x <> t AND x <> m AND m <> t
  RETURN t, p
  UNION
  MATCH p = (u:User {{id: $user}})-[:INTERACTED]->(m:Item)<-[:INTERACTED]-(v:User)
            -[:INTERACTED]->(t:Item)
  USING JOIN ON v
  WHERE t.id IN $targets AND v <> u AND m <> t
  RETURN t, p
  UNION
  MATCH p = (m:Item)-[:{ITEM_LINK}]-(t:Item)
  WHERE m.id IN $liked AND t.id IN $targets AND m <> t
  RETURN t, p
  UNION
  MATCH p = (m:Item)-[r1:{LINK}]-(x)-[r2:{LINK}]-(t:Item)
  USING JOIN ON x
  WHERE m.id IN $liked AND t.id IN $targets AND x <> t AND x <> m AND m <> t
  RETURN t, p
  UNION
  MATCH p = (e)<-[:HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE]-(t:Item)
  WHERE t.id IN $targets AND (e:Brand OR e:Category OR e:Attribute) AND e.id IN $entities
  RETURN t, p
  UNION
  MATCH p = (e)<-[:HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE]-(x:Item)-[:{ITEM_LINK}]-(t:Item)
  USING JOIN ON x
  WHERE t.id IN $targets AND (e:Brand OR e:Category OR e:Attribute) AND e.id IN $entities
        AND x <> t
  RETURN t, p
}}
WITH t, collect(p)[..$per_item] AS paths
UNWIND paths AS p
RETURN t.id AS target,
       [n IN nodes(p) | [labels(n)[0], n.id, toString(coalesce(n.title, n.name))]] AS nodes,
       [r IN relationships(p) | [type(r), startNode(r).id, r.kind]] AS relationships
"""


class PathNode(BaseModel):
    label: str
    id: str
    name: str | None = None


class PathRelationship(BaseModel):
    type: str
    start: int  # index into the path's nodes
    end: int
    kind: str | None = None  # INTERACTED: view, click, cart, purchase, rate


class GraphPath(BaseModel):
    nodes: list[PathNode]
    relationships: list[PathRelationship]

    @classmethod
    def from_values(cls, nodes: list[list[Any]], relationships: list[list[Any]]) -> GraphPath:
        """From the query's lists; built without validation (it is the graph's own data, and
        this runs for every candidate path of every request)."""
        path_nodes = [PathNode.model_construct(label=label, id=node_id, name=name)
                      for label, node_id, name in nodes]  # fmt: skip
        rels = []
        for hop, (rel_type, start_id, kind) in enumerate(relationships):
            forward = path_nodes[hop].id == start_id
            start, end = (hop, hop + 1) if forward else (hop + 1, hop)
            rels.append(
                PathRelationship.model_construct(type=rel_type, start=start, end=end, kind=kind)
            )
        return cls.model_construct(nodes=path_nodes, relationships=rels)


def explanation_paths(
    graph: Graph,
    targets: Sequence[str],
    *,
    user_id: str | None = None,
    liked: Sequence[str] = (),
    entities: Sequence[str] = (),
    per_item: int = 30,
) -> dict[str, list[GraphPath]]:
    """Up to `per_item` paths to each target item, from the user, the liked items and the
    entity ids given; an item no path reaches is absent from the answer."""
    rows = graph.read_values(
        PATHS_QUERY,
        {
            "targets": list(targets),
            "user": user_id,
            "liked": list(liked),
            "entities": list(entities),
            "per_item": per_item,
        },
    )
    found: dict[str, list[GraphPath]] = {}
    for target, nodes, relationships in rows:
        found.setdefault(target, []).append(GraphPath.from_values(nodes, relationships))
    return found


def path_cypher(path: GraphPath) -> str:
    """A query that returns this path in Neo4j Browser; ids are quoted Cypher literals, labels
    and types come from the kgrec schema only."""
    parts = [_node_pattern(0, path.nodes[0])]
    for hop, rel in enumerate(path.relationships):
        if rel.type not in RELATIONSHIP_TYPES:
            raise ValueError(f"not a kgrec relationship type: {rel.type!r}")
        detail = f" {{kind: {cypher_string(rel.kind)}}}" if rel.kind else ""
        forward = rel.start == hop
        arrow = f"-[:{rel.type}{detail}]->" if forward else f"<-[:{rel.type}{detail}]-"
        parts.append(arrow + _node_pattern(hop + 1, path.nodes[hop + 1]))
    return f"MATCH p = {''.join(parts)} RETURN p"


def cypher_string(value: str) -> str:
    """A single-quoted Cypher string literal of `value`."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _node_pattern(position: int, node: PathNode) -> str:
    if node.label not in NODE_LABELS:
        raise ValueError(f"not a kgrec node label: {node.label!r}")
    return f"(n{position}:{node.label} {{id: {cypher_string(node.id)}}})"
