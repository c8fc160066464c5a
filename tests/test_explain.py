"""Explanation sentences and Browser Cypher for every path shape `kg.paths` returns (pure: the
API tests run the Cypher against Neo4j)."""

from __future__ import annotations

import pytest

from api.explain import explain, path_score, sentence
from kg.paths import (
    GraphPath,
    PathNode,
    PathRelationship,
    RawPath,
    cypher_string,
    path_cypher,
)

USER = PathNode(label="User", id="u1")
OTHER = PathNode(label="User", id="u2")
SERUM = PathNode(label="Item", id="i1", name="Rose serum")
CREAM = PathNode(label="Item", id="i2", name="Night cream")
STUB = PathNode(label="Item", id="B00STUB")
GLOW = PathNode(label="Brand", id="glowco", name="GlowCo")
SKIN = PathNode(label="Category", id="beauty > skin", name="Skin")
DRY = PathNode(label="Attribute", id="dry skin", name="dry skin")


def path(*steps: PathNode | tuple[str, bool] | tuple[str, bool, str]) -> GraphPath:
    """Nodes interleaved with (type, forward[, kind]) hops."""
    nodes = [step for step in steps if isinstance(step, PathNode)]
    hops = [step for step in steps if isinstance(step, tuple)]
    rels = [
        PathRelationship(type=hop[0], start=i if hop[1] else i + 1, end=i + 1 if hop[1] else i,
                         kind=hop[2] if len(hop) > 2 else None)
        for i, hop in enumerate(hops)
    ]  # fmt: skip
    return GraphPath(nodes=nodes, relationships=rels)


BOUGHT = ("INTERACTED", True, "purchase")


@pytest.mark.parametrize(
    ("graph_path", "expected"),
    [
        (path(USER, BOUGHT, SERUM, ("ALSO_BOUGHT", True), CREAM),
         'You bought "Rose serum"; customers who bought "Rose serum" also bought "Night cream".'),
        (path(USER, ("INTERACTED", True, "view"), SERUM, ("ALSO_VIEWED", False), CREAM),
         'You viewed "Rose serum"; customers who viewed "Rose serum" also viewed "Night cream".'),
        (path(USER, BOUGHT, SERUM, ("HAS_BRAND", True), GLOW, ("HAS_BRAND", False), CREAM),
         'You bought "Rose serum"; "Night cream" shares its brand, GlowCo.'),
        (path(USER, BOUGHT, SERUM, ("IN_CATEGORY", True), SKIN, ("IN_CATEGORY", False), CREAM),
         'You bought "Rose serum"; "Night cream" is in the same category, Skin.'),
        (path(USER, BOUGHT, SERUM, ("HAS_ATTRIBUTE", True), DRY, ("HAS_ATTRIBUTE", False), CREAM),
         'You bought "Rose serum"; "Night cream" is also dry skin.'),
        (path(USER, BOUGHT, STUB, ("ALSO_VIEWED", True), CREAM),
         'You bought item B00STUB; customers who viewed item B00STUB also viewed "Night cream".'),
        (path(USER, BOUGHT, SERUM, ("INTERACTED", False), OTHER, ("INTERACTED", True), CREAM),
         'You bought "Rose serum"; another customer who bought "Rose serum" also bought '
         '"Night cream".'),
        (path(SERUM, ("BOUGHT_TOGETHER", True), CREAM),
         'You like "Rose serum"; "Rose serum" is often bought together with "Night cream".'),
        (path(GLOW, ("HAS_BRAND", False), CREAM),
         '"Night cream" is by GlowCo, which you asked for.'),
        (path(SKIN, ("IN_CATEGORY", False), CREAM),
         '"Night cream" is in Skin, which you asked for.'),
        (path(GLOW, ("HAS_BRAND", False), SERUM, ("ALSO_BOUGHT", True), CREAM),
         '"Rose serum" is by GlowCo, which you asked for; customers who bought "Rose serum" '
         'also bought "Night cream".'),
    ],
)  # fmt: skip
def test_every_path_shape_reads_as_one_sentence(graph_path: GraphPath, expected: str) -> None:
    assert sentence(graph_path) == expected


def test_cypher_follows_each_relationship_direction_and_quotes_ids() -> None:
    hostile = PathNode(label="User", id="x'}) DETACH DELETE n //\\")
    graph_path = path(hostile, BOUGHT, SERUM, ("HAS_BRAND", True), GLOW, ("HAS_BRAND", False),
                      CREAM)  # fmt: skip
    assert path_cypher(graph_path) == (
        "MATCH p = (n0:User {id: 'x\\'}) DETACH DELETE n //\\\\'})"
        "-[:INTERACTED {kind: 'purchase'}]->(n1:Item {id: 'i1'})-[:HAS_BRAND]->"
        "(n2:Brand {id: 'glowco'})<-[:HAS_BRAND]-(n3:Item {id: 'i2'}) RETURN p"
    )
    assert cypher_string("it's") == "'it\\'s'"


def test_labels_and_types_outside_the_schema_are_refused() -> None:
    with pytest.raises(ValueError, match="label"):
        path_cypher(path(PathNode(label="Evil) DETACH DELETE (x", id="1")))
    with pytest.raises(ValueError, match="relationship type"):
        path_cypher(path(USER, ("KNOWS]->() DELETE (x", True), SERUM))


def raw(graph_path: GraphPath) -> RawPath:
    """The path in the form the paths query returns it."""
    nodes = graph_path.nodes
    return RawPath(
        [[node.label, node.id, node.name] for node in nodes],
        [[rel.type, nodes[rel.start].id, rel.kind] for rel in graph_path.relationships],
    )


def test_raw_paths_become_the_same_path_with_each_direction_kept() -> None:
    for graph_path in (
        path(USER, BOUGHT, SERUM, ("HAS_BRAND", True), GLOW, ("HAS_BRAND", False), CREAM),
        path(USER, BOUGHT, SERUM, ("INTERACTED", False, "view"), OTHER, BOUGHT, CREAM),
    ):
        assert GraphPath.from_raw(raw(graph_path)) == graph_path


def test_paths_rank_by_the_product_of_hop_similarities() -> None:
    similarity = {("u1", "i1"): 0.9, ("i1", "i2"): 0.8, ("i1", "glowco"): 0.9,
                  ("glowco", "i2"): 0.95}  # fmt: skip

    def lookup(a: tuple[str, str], b: tuple[str, str]) -> float | None:
        return similarity.get((a[1], b[1]))

    direct = raw(path(USER, BOUGHT, SERUM, ("ALSO_BOUGHT", True), CREAM))
    via_brand = path(USER, BOUGHT, SERUM, ("HAS_BRAND", True), GLOW, ("HAS_BRAND", False), CREAM)
    assert path_score(direct, lookup) == pytest.approx(0.72)
    assert path_score(raw(via_brand), lookup) == pytest.approx(0.9 * 0.9 * 0.95)
    ranked = explain([raw(via_brand), direct, raw(via_brand), raw(via_brand)], lookup)
    assert len(ranked) == 3
    assert ranked[0].path == via_brand  # 0.7695 > 0.72
    assert ranked[0].sentence == sentence(via_brand)
    assert path_score(raw(path(USER, BOUGHT, STUB)), lookup) == 0.0  # unknown pair
