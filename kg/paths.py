"""Graph paths that explain recommendations, fetched for all k items in one round trip.

From a user (through the items they interacted with), from liked items, or from named brands,
categories and attributes, to each recommended item, in at most 3 hops:

    (u)-[:INTERACTED]->(m)-[:ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER|RELATED]-(t)
    (u)-[:INTERACTED]->(m)-[:HAS_...]->(x)<-[:HAS_...]-(t)   x: a shared brand, category, attribute
    (u)-[:INTERACTED]->(m)-[:RELATED]->(x)<-[:RELATED]-(t)   x: an Entity, the same relation twice
    (u)-[:INTERACTED]->(m)<-[:INTERACTED]-(v)-[:INTERACTED]->(t)      v: another customer
    (m)-[...]-(t), (m)-[:HAS_...|RELATED]->(x)<-[...]-(t)  m: an item the request says it likes
    (e)<-[r]-(t), (e)<-[r]-(x)-[:ALSO_...|RELATED]-(t)     e: a brand/category/attribute asked for

Each shape joins the start side and the item side on the middle node (`USING JOIN`), so a
category with thousands of items is never expanded. Items that merely share a linked item are
left out: on Beauty that shape multiplied the candidate rows twentyfold (every pair of the
user's and the target's also-bought neighbours) and doubled the query's time for 0.6 points of
coverage. Only facts whose head is the item share an Entity: "(m) directed by (x), (t)
directed by (x)". `path_cypher` renders a path as a query that returns exactly it in Neo4j
Browser; `GraphPath.without_other_users` takes other customers' ids out of a path (and so out of
its query) for callers who may not see them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, NamedTuple

from pydantic import BaseModel, Field

from kg.connection import Graph
from kg.schema import NODE_LABELS, RELATIONSHIP_TYPES

ITEM_LINK = "ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER|RELATED"
HAS = "HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE"
ENTITY = "(e:Brand OR e:Category OR e:Attribute) AND e.id IN $entities"
# Two items with the same fact about one Entity (its relation the same on both sides).
SHARED_FACT = "(m:Item)-[a:RELATED]->(x:Entity)<-[b:RELATED]-(t:Item)"

# Each start side's path shapes; a request's query holds only the shapes its start needs, as
# every shape costs a plan branch even when its parameter is empty.
FROM_USER = (
    f"""MATCH p = (:User {{id: $user}})-[:INTERACTED]->(m:Item)-[:{ITEM_LINK}]-(t:Item)
  USING JOIN ON m
  WHERE t.id IN $targets""",
    f"""MATCH p = (:User {{id: $user}})-[:INTERACTED]->(m:Item)-[:{HAS}]->(x)<-[:{HAS}]-(t:Item)
  USING JOIN ON x
  WHERE t.id IN $targets AND m <> t""",
    f"""MATCH p = (:User {{id: $user}})-[:INTERACTED]->{SHARED_FACT}
  USING JOIN ON x
  WHERE t.id IN $targets AND m <> t AND a.relation = b.relation""",
    """MATCH p = (u:User {id: $user})-[:INTERACTED]->(m:Item)<-[:INTERACTED]-(v:User)
            -[:INTERACTED]->(t:Item)
  USING JOIN ON v
  WHERE t.id IN $targets AND v <> u AND m <> t""",
)
FROM_LIKED = (
    f"""MATCH p = (m:Item)-[:{ITEM_LINK}]-(t:Item)
  WHERE m.id IN $liked AND t.id IN $targets AND m <> t""",
    f"""MATCH p = (m:Item)-[:{HAS}]->(x)<-[:{HAS}]-(t:Item)
  USING JOIN ON x
  WHERE m.id IN $liked AND t.id IN $targets AND m <> t""",
    f"""MATCH p = {SHARED_FACT}
  USING JOIN ON x
  WHERE m.id IN $liked AND t.id IN $targets AND m <> t AND a.relation = b.relation""",
)
FROM_ENTITIES = (
    f"""MATCH p = (e)<-[:{HAS}]-(t:Item)
  WHERE t.id IN $targets AND {ENTITY}""",
    f"""MATCH p = (e)<-[:{HAS}]-(x:Item)-[:{ITEM_LINK}]-(t:Item)
  USING JOIN ON x
  WHERE t.id IN $targets AND {ENTITY} AND x <> t""",
)


@cache
def paths_query(user: bool, liked: bool, entities: bool) -> str:
    """One query for the shapes from the start sides a request has (the shapes never overlap,
    so UNION ALL: no de-duplication pass); one row per target with its first candidates."""
    shapes = [
        *(FROM_USER if user else ()),
        *(FROM_LIKED if liked else ()),
        *(FROM_ENTITIES if entities else ()),
    ]
    branches = "\n  UNION ALL\n  ".join(f"{shape}\n  RETURN t, p" for shape in shapes)
    return f"""CALL () {{
  {branches}
}}
WITH t, collect(p)[..$per_item] AS paths
RETURN t.id AS target,
       [p IN paths | [[n IN nodes(p) | [labels(n)[0], n.id, toString(coalesce(n.name, n.title))]],
                      [r IN relationships(p) | [type(r), startNode(r).id, r.kind, r.relation]]
      ]] AS paths
"""


class PathNode(BaseModel):
    label: str
    id: str | None = Field(description="None: another customer, whose id is not shown")
    name: str | None = None


# Another customer on a path, as anyone but an admin sees them.
ANOTHER_CUSTOMER = PathNode(label="User", id=None, name="another customer")


class PathRelationship(BaseModel):
    type: str
    start: int  # index into the path's nodes
    end: int
    kind: str | None = None  # INTERACTED: view, click, cart, purchase, rate
    relation: str | None = None  # RELATED: the fact's relation ("film.film.directed_by")


class RawPath(NamedTuple):
    """A candidate path as the query returns it: [label, id, name] per node, [type, start
    node id, kind, relation] per relationship. Candidates are ranked in this form; only the few
    chosen become `GraphPath` models."""

    nodes: list[list[Any]]
    relationships: list[list[Any]]


class GraphPath(BaseModel):
    nodes: list[PathNode]
    relationships: list[PathRelationship]

    @classmethod
    def from_raw(cls, raw: RawPath) -> GraphPath:
        nodes = [
            {"label": label, "id": node_id, "name": name} for label, node_id, name in raw.nodes
        ]
        relationships = []
        for hop, (rel_type, start_id, kind, relation) in enumerate(raw.relationships):
            forward = nodes[hop]["id"] == start_id
            start, end = (hop, hop + 1) if forward else (hop + 1, hop)
            relationships.append(
                {"type": rel_type, "start": start, "end": end, "kind": kind, "relation": relation}
            )
        return cls.model_validate({"nodes": nodes, "relationships": relationships})

    def without_other_users(self) -> GraphPath:
        """The path with every user but the first (the one asking) made ANOTHER_CUSTOMER."""
        nodes = [self.nodes[0]]
        nodes += [ANOTHER_CUSTOMER if n.label == "User" else n for n in self.nodes[1:]]
        return self.model_copy(update={"nodes": nodes})


def explanation_paths(
    graph: Graph,
    targets: Sequence[str],
    *,
    user_id: str | None = None,
    liked: Sequence[str] = (),
    entities: Sequence[str] = (),
    per_item: int = 30,
) -> dict[str, list[RawPath]]:
    """Up to `per_item` candidate paths to each target item, from the user, the liked items
    and the entity ids given; an item no path reaches is absent from the answer."""
    if not (user_id or liked or entities):
        return {}
    rows = graph.read_values(
        paths_query(bool(user_id), bool(liked), bool(entities)),
        {
            "targets": list(targets),
            "user": user_id,
            "liked": list(liked),
            "entities": list(entities),
            "per_item": per_item,
        },
    )
    return {target: [RawPath(*path) for path in paths] for target, paths in rows}


def path_cypher(path: GraphPath) -> str:
    """A query that returns this path in Neo4j Browser; ids are quoted Cypher literals, labels
    and types come from the kgrec schema only. A node without an id matches any node of its
    label other than the start (another customer): the query returns one such path."""
    return _path_match(path, cypher_string)


def path_query(path: GraphPath) -> tuple[str, dict[str, str]]:
    """`path_cypher`'s query with its ids and properties as parameters: one text per shape,
    which Neo4j plans once (each literal text is planned anew), for checks run by the many."""
    parameters: dict[str, str] = {}

    def parameter(value: str) -> str:
        name = f"v{len(parameters)}"
        parameters[name] = value
        return f"${name}"

    return _path_match(path, parameter), parameters


def _path_match(path: GraphPath, value: Callable[[str], str]) -> str:
    """The path's MATCH query, each id and property value written by `value`."""
    parts = [_node_pattern(0, path.nodes[0], value)]
    for hop, rel in enumerate(path.relationships):
        if rel.type not in RELATIONSHIP_TYPES:
            raise ValueError(f"not a kgrec relationship type: {rel.type!r}")
        properties = {"kind": rel.kind, "relation": rel.relation}
        given = ", ".join(f"{key}: {value(v)}" for key, v in properties.items() if v)
        detail = f" {{{given}}}" if given else ""
        forward = rel.start == hop
        arrow = f"-[:{rel.type}{detail}]->" if forward else f"<-[:{rel.type}{detail}]-"
        parts.append(arrow + _node_pattern(hop + 1, path.nodes[hop + 1], value))
    anonymous = [f"n{hop} <> n0" for hop, node in enumerate(path.nodes) if node.id is None]
    if anonymous:
        return f"MATCH p = {''.join(parts)} WHERE {' AND '.join(anonymous)} RETURN p LIMIT 1"
    return f"MATCH p = {''.join(parts)} RETURN p"


def cypher_string(value: str) -> str:
    """A single-quoted Cypher string literal of `value`."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _node_pattern(position: int, node: PathNode, value: Callable[[str], str]) -> str:
    if node.label not in NODE_LABELS:
        raise ValueError(f"not a kgrec node label: {node.label!r}")
    if node.id is None:
        return f"(n{position}:{node.label})"
    return f"(n{position}:{node.label} {{id: {value(node.id)}}})"
