"""Explanation sentences and Browser Cypher for every path shape `kg.paths` returns (pure, but
for the paths through entities, fetched from Neo4j here; the API tests run the rest)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from api.explain import MAX_EXPLANATIONS, explain, path_scores, relation_words, sentence
from kg import Graph
from kg.paths import (
    GraphPath,
    PathNode,
    PathRelationship,
    RawPath,
    cypher_string,
    explanation_paths,
    path_cypher,
)
from kg.write import GraphWriter

USER = PathNode(label="User", id="u1")
OTHER = PathNode(label="User", id="u2")
SERUM = PathNode(label="Item", id="i1", name="Rose serum")
CREAM = PathNode(label="Item", id="i2", name="Night cream")
STUB = PathNode(label="Item", id="B00STUB")
GLOW = PathNode(label="Brand", id="glowco", name="GlowCo")
SKIN = PathNode(label="Category", id="beauty > skin", name="Skin")
DRY = PathNode(label="Attribute", id="dry skin", name="dry skin")
DARK = PathNode(label="Item", id="i7", name="The Dark Knight")
RISES = PathNode(label="Item", id="i8", name="The Dark Knight Rises")
NOLAN = PathNode(label="Entity", id="m.0nolan", name="Christopher Nolan")
ACTION = PathNode(label="Entity", id="m.0action")  # no name: only its relation can be told


def path(
    *steps: PathNode | tuple[str, bool] | tuple[str, bool, str] | tuple[str, bool, None, str],
) -> GraphPath:
    """Nodes interleaved with (type, forward[, kind[, relation]]) hops."""
    nodes = [step for step in steps if isinstance(step, PathNode)]
    hops = [step for step in steps if isinstance(step, tuple)]
    rels = [
        PathRelationship(type=hop[0], start=i if hop[1] else i + 1, end=i + 1 if hop[1] else i,
                         kind=hop[2] if len(hop) > 2 else None,
                         relation=hop[3] if len(hop) > 3 else None)
        for i, hop in enumerate(hops)
    ]  # fmt: skip
    return GraphPath(nodes=nodes, relationships=rels)


BOUGHT = ("INTERACTED", True, "purchase")


def fact(relation: str, forward: bool = True) -> tuple[str, bool, None, str]:
    return ("RELATED", forward, None, relation)


DIRECTED, GENRE = "film.film.directed_by", "film.film.genre"


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
        (path(USER, BOUGHT, DARK, fact(DIRECTED), NOLAN, fact(DIRECTED, False), RISES),
         'You bought "The Dark Knight"; "The Dark Knight Rises" shares its directed by, '
         'Christopher Nolan.'),
        (path(USER, BOUGHT, DARK, fact(GENRE), ACTION, fact(GENRE, False), RISES),
         'You bought "The Dark Knight"; "The Dark Knight Rises" shares its genre with '
         '"The Dark Knight".'),
        (path(DARK, fact(GENRE), ACTION, fact(GENRE, False), RISES),
         'You like "The Dark Knight"; "The Dark Knight Rises" shares its genre with '
         '"The Dark Knight".'),
        (path(USER, BOUGHT, RISES, fact("film.film.sequel", False), DARK),
         'You bought "The Dark Knight Rises"; "The Dark Knight" is linked to "The Dark Knight '
         'Rises" (sequel).'),
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


@pytest.mark.parametrize(
    ("relation", "words"),
    [("film.film.directed_by", "directed by"), ("http://dbpedia.org/ontology/director", "director"),
     ("hasGenre", "has genre"), ("rdf:type", "type"), ("ISBN", "ISBN"), ("made of", "made of"),
     ("...", "...")],
)  # fmt: skip
def test_relations_read_as_plain_words(relation: str, words: str) -> None:
    assert relation_words(relation) == words


def test_paths_through_entities_come_from_the_graph_and_name_the_relation(graph: Graph) -> None:
    writer = GraphWriter(graph)
    writer.items([{"id": "i7", "title": "The Dark Knight"},
                  {"id": "i8", "title": "The Dark Knight Rises"}])  # fmt: skip
    writer.interactions([{"user_id": "u1", "item_id": "i7", "kind": "purchase", "ts": 1}])
    writer.entities([{"id": "m.0nolan", "name": "Christopher Nolan"}])
    facts = [("i7", DIRECTED, "m.0nolan"), ("i8", DIRECTED, "m.0nolan"), ("i7", GENRE, "m.0action"),
             ("i8", GENRE, "m.0action"), ("i8", "film.film.written_by", "m.0nolan"),
             ("i7", "film.film.sequel", "i8")]  # fmt: skip
    writer.related(
        {"head_id": head, "head_label": "Item", "relation": relation, "tail_id": tail,
         "tail_label": "Item" if tail.startswith("i") else "Entity"}
        for head, relation, tail in facts
    )  # fmt: skip
    # Written by one, directed by the other: not the same fact, so no path.
    expected = [
        '"The Dark Knight Rises" shares its directed by, Christopher Nolan.',
        '"The Dark Knight Rises" shares its genre with "The Dark Knight".',
        '"The Dark Knight" is linked to "The Dark Knight Rises" (sequel).',
    ]
    for start, opening in (({"user_id": "u1"}, "You bought"), ({"liked": ["i7"]}, "You like")):
        found = explanation_paths(graph, ["i8"], **start)["i8"]
        paths = [GraphPath.from_raw(raw) for raw in found]
        assert sorted(sentence(p) for p in paths) == [
            f'{opening} "The Dark Knight"; {rest}' for rest in expected
        ]
        for graph_path in paths:  # the Browser query finds exactly this path
            assert len(graph.read(path_cypher(graph_path))) == 1


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
        [
            [rel.type, nodes[rel.start].id, rel.kind, rel.relation]
            for rel in graph_path.relationships
        ],
    )


def test_raw_paths_become_the_same_path_with_each_direction_kept() -> None:
    for graph_path in (
        path(USER, BOUGHT, SERUM, ("HAS_BRAND", True), GLOW, ("HAS_BRAND", False), CREAM),
        path(USER, BOUGHT, SERUM, ("INTERACTED", False, "view"), OTHER, BOUGHT, CREAM),
    ):
        assert GraphPath.from_raw(raw(graph_path)) == graph_path


# Unit vectors with known cosines: user-serum 0.6, serum-cream 0.8, serum-GlowCo 0.936,
# GlowCo-cream 0.96, serum-other user -0.6; the stub item has none.
UNITS = {("User", "u1"): [1.0, 0.0], ("Item", "i1"): [0.6, 0.8], ("Item", "i2"): [0.0, 1.0],
         ("Brand", "glowco"): [0.28, 0.96], ("User", "u2"): [-1.0, 0.0]}  # fmt: skip


def units(keys: Sequence[tuple[str, str]]) -> NDArray[np.float32]:
    return np.array([UNITS.get(key, [0.0, 0.0]) for key in keys], dtype=np.float32)


def test_paths_rank_by_the_product_of_hop_similarities() -> None:
    direct = path(USER, BOUGHT, SERUM, ("ALSO_BOUGHT", True), CREAM)
    via_brand = path(USER, BOUGHT, SERUM, ("HAS_BRAND", True), GLOW, ("HAS_BRAND", False), CREAM)
    via_other = path(USER, BOUGHT, SERUM, ("INTERACTED", False), OTHER, BOUGHT, CREAM)
    candidates = [raw(direct), raw(via_other), raw(via_brand), raw(path(USER, BOUGHT, STUB))]
    scores = path_scores(candidates, units)
    assert scores == pytest.approx([0.6 * 0.8, 0.0, 0.6 * 0.936 * 0.96, 0.0], abs=1e-6)

    ranked = explain(["i2", "i3"], {"i2": candidates[:3], "i9": candidates[3:]}, units)
    assert set(ranked) == {"i2", "i3"}  # every target asked about, no other
    assert [e.path for e in ranked["i2"]] == [via_brand, direct, via_other]  # 0.539 > 0.48 > 0
    assert ranked["i2"][0].sentence == sentence(via_brand)
    assert ranked["i2"][0].score == pytest.approx(0.5391, abs=1e-4)
    assert ranked["i3"] == []
    ties = explain(["i2"], {"i2": [raw(direct)] * 5}, units)["i2"]
    assert len(ties) == MAX_EXPLANATIONS
