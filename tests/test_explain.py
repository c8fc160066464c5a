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
    path_query,
)
from kg.write import GraphWriter

USER = PathNode(label="User", id="u1")
OTHER = PathNode(label="User", id="u2")
SERUM = PathNode(label="Item", id="i1", name="Rose serum")
CREAM = PathNode(label="Item", id="i2", name="Night cream")
STUB = PathNode(label="Item", id="B00STUB")
GLOW = PathNode(label="Brand", id="glowco", name="GlowCo")
SKIN = PathNode(label="Category", id="beauty > skin", name="Skin")
DRY = PathNode(label="Attribute", id="skin_type:dry skin", name="dry skin")
FAMILY = PathNode(label="Attribute", id="topic:family", name="family")
HEROES = PathNode(label="Attribute", id="film_genre:superhero film", name="superhero films")
DARK = PathNode(label="Item", id="i7", name="The Dark Knight")
RISES = PathNode(label="Item", id="i8", name="The Dark Knight Rises")
NOLAN = PathNode(label="Entity", id="m.0nolan", name="Christopher Nolan")
ACTION = PathNode(label="Entity", id="m.0action")  # no name: only its relation can be told
NAMED_ACTION = PathNode(label="Entity", id="m.0action", name="Action")
UNNAMED = PathNode(label="Entity", id="m.0nolan")


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
        # The stored edge points from the cream: its buyers (or viewers) also had the serum.
        (path(USER, BOUGHT, SERUM, ("ALSO_BOUGHT", False), CREAM),
         'You bought "Rose serum"; customers who bought "Night cream" also bought "Rose serum".'),
        (path(USER, ("INTERACTED", True, "view"), SERUM, ("ALSO_VIEWED", False), CREAM),
         'You viewed "Rose serum"; customers who viewed "Night cream" also viewed "Rose serum".'),
        (path(USER, ("INTERACTED", True, "cart"), SERUM, ("BOUGHT_TOGETHER", False), CREAM),
         'You put "Rose serum" in your cart; "Night cream" is often bought together with '
         '"Rose serum".'),
        (path(USER, BOUGHT, SERUM, ("HAS_BRAND", True), GLOW, ("HAS_BRAND", False), CREAM),
         'You bought "Rose serum"; "Night cream" is also by GlowCo.'),
        (path(USER, BOUGHT, SERUM, ("IN_CATEGORY", True), SKIN, ("IN_CATEGORY", False), CREAM),
         'You bought "Rose serum"; "Night cream" is also in the Skin category.'),
        (path(USER, BOUGHT, SERUM, ("HAS_ATTRIBUTE", True), DRY, ("HAS_ATTRIBUTE", False), CREAM),
         'You bought "Rose serum"; "Night cream" is also for dry skin.'),
        (path(USER, ("INTERACTED", True, "click"), SERUM, ("HAS_ATTRIBUTE", True), FAMILY,
              ("HAS_ATTRIBUTE", False), CREAM),
         'You clicked on "Rose serum"; "Night cream" is also about family.'),
        (path(USER, BOUGHT, SERUM, ("HAS_ATTRIBUTE", True), HEROES, ("HAS_ATTRIBUTE", False),
              CREAM),
         'You bought "Rose serum"; "Night cream" also has the film genre superhero films.'),
        (path(USER, BOUGHT, SERUM, ("HAS_ATTRIBUTE", True), PathNode(label="Attribute", id="x",
              name="shiny"), ("HAS_ATTRIBUTE", False), CREAM),
         'You bought "Rose serum"; "Night cream" also has the attribute shiny.'),
        (path(USER, BOUGHT, STUB, ("ALSO_VIEWED", True), CREAM),
         'You bought item B00STUB; customers who viewed item B00STUB also viewed "Night cream".'),
        (path(USER, BOUGHT, SERUM, ("INTERACTED", False, "rate"), OTHER, BOUGHT, CREAM),
         'You bought "Rose serum"; another customer who rated "Rose serum" also bought '
         '"Night cream".'),
        (path(SERUM, ("BOUGHT_TOGETHER", True), CREAM),
         'You like "Rose serum"; "Rose serum" is often bought together with "Night cream".'),
        (path(GLOW, ("HAS_BRAND", False), CREAM),
         '"Night cream" is by GlowCo, as you asked.'),
        (path(SKIN, ("IN_CATEGORY", False), CREAM),
         '"Night cream" is in the Skin category, as you asked.'),
        (path(DRY, ("HAS_ATTRIBUTE", False), CREAM),
         '"Night cream" is for dry skin, as you asked.'),
        (path(GLOW, ("HAS_BRAND", False), SERUM, ("ALSO_BOUGHT", True), CREAM),
         '"Rose serum" is by GlowCo, as you asked; customers who bought "Rose serum" '
         'also bought "Night cream".'),
        (path(GLOW, ("HAS_BRAND", False), SERUM, ("ALSO_BOUGHT", False), CREAM),
         '"Rose serum" is by GlowCo, as you asked; customers who bought "Night cream" '
         'also bought "Rose serum".'),
        (path(USER, BOUGHT, DARK, fact(DIRECTED), NOLAN, fact(DIRECTED, False), RISES),
         'You bought "The Dark Knight"; "The Dark Knight Rises" is also directed by '
         'Christopher Nolan.'),
        (path(USER, BOUGHT, DARK, fact(DIRECTED), UNNAMED, fact(DIRECTED, False), RISES),
         'You bought "The Dark Knight"; "The Dark Knight Rises" is directed by the same one as '
         '"The Dark Knight".'),
        (path(USER, BOUGHT, DARK, fact(GENRE), ACTION, fact(GENRE, False), RISES),
         'You bought "The Dark Knight"; "The Dark Knight Rises" has the same genre as '
         '"The Dark Knight".'),
        (path(DARK, fact(GENRE), NAMED_ACTION, fact(GENRE, False), RISES),
         'You like "The Dark Knight"; "The Dark Knight Rises" has the same genre, Action.'),
        (path(USER, BOUGHT, RISES, fact("film.film.sequel", False), DARK),
         'You bought "The Dark Knight Rises"; "The Dark Knight Rises" is the sequel of '
         '"The Dark Knight".'),
        (path(USER, BOUGHT, DARK, fact("hasSequel"), RISES),
         'You bought "The Dark Knight"; "The Dark Knight" has sequel "The Dark Knight Rises".'),
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
        '"The Dark Knight Rises" has the same genre as "The Dark Knight".',
        '"The Dark Knight Rises" is also directed by Christopher Nolan.',
        '"The Dark Knight Rises" is the sequel of "The Dark Knight".',
    ]
    for start, opening in (({"user_id": "u1"}, "You bought"), ({"liked": ["i7"]}, "You like")):
        found = explanation_paths(graph, ["i8"], **start)["i8"]
        paths = [GraphPath.from_raw(raw) for raw in found]
        assert sorted(sentence(p) for p in paths) == [
            f'{opening} "The Dark Knight"; {rest}' for rest in expected
        ]
        for graph_path in paths:  # the Browser query finds exactly this path, as does the check's
            assert len(graph.read(path_cypher(graph_path))) == 1
            text, parameters = path_query(graph_path)
            assert "'" not in text and graph.read(text, parameters) == graph.read(
                path_cypher(graph_path)
            )


# What each stored edge (a)-[type]->(b) says, written out here apart from api.explain's tables.
EDGE_SAYS = {
    "ALSO_BOUGHT": 'customers who bought "{a}" also bought "{b}"',
    "ALSO_VIEWED": 'customers who viewed "{a}" also viewed "{b}"',
    "BOUGHT_TOGETHER": '"{a}" is often bought together with "{b}"',
    "RELATED": '"{b}" is the successor of "{a}"',  # relation "product.successor"
    "HAS_BRAND": '"{a}" is also by {b}',
    "IN_CATEGORY": '"{a}" is also in the {b} category',
    "HAS_ATTRIBUTE": '"{a}" is also for {b}',
    "INTERACTED": 'another customer who rated "Rose serum" also bought "{b}"',
}
# Each target item reached from the serum its user bought through one relationship type,
# stored from the target to the serum or from the serum to the target.
TARGETS = {"ALSO_BOUGHT": "Night cream", "ALSO_VIEWED": "Lip oil", "BOUGHT_TOGETHER": "Face mask",
           "RELATED": "Rose serum 2", "HAS_BRAND": "Day cream", "IN_CATEGORY": "Toner",
           "HAS_ATTRIBUTE": "Body lotion", "INTERACTED": "Hand soap"}  # fmt: skip


def write_one_link_per_type(graph: Graph) -> dict[str, str]:
    """The serum (bought by u1) and one target per relationship type; the target ids."""
    writer = GraphWriter(graph)
    ids = {kind: f"t-{kind.lower()}" for kind in TARGETS}
    writer.items(
        [{"id": "serum", "title": "Rose serum"}]
        + [{"id": ids[kind], "title": title} for kind, title in TARGETS.items()]
    )
    writer.brands([{"id": "glowco", "name": "GlowCo"}])
    writer.categories([{"id": "beauty > skin", "name": "Skin"}])
    writer.attributes([{"id": "skin_type:dry skin", "name": "dry skin", "kind": "skin_type"}])
    writer.interactions([
        {"user_id": "u1", "item_id": "serum", "kind": "purchase", "ts": 1},
        {"user_id": "u2", "item_id": "serum", "kind": "rate", "ts": 2, "rating": 5},
        {"user_id": "u2", "item_id": ids["INTERACTED"], "kind": "purchase", "ts": 3},
    ])  # fmt: skip
    writer.item_links([
        {"source_id": ids["ALSO_BOUGHT"], "target_id": "serum", "type": "ALSO_BOUGHT"},
        {"source_id": "serum", "target_id": ids["ALSO_VIEWED"], "type": "ALSO_VIEWED"},
        {"source_id": ids["BOUGHT_TOGETHER"], "target_id": "serum", "type": "BOUGHT_TOGETHER"},
    ])  # fmt: skip
    writer.related([{"head_id": "serum", "head_label": "Item", "relation": "product.successor",
                     "tail_id": ids["RELATED"], "tail_label": "Item"}])  # fmt: skip
    provenance = {"source": "metadata", "extractor": "metadata"}
    both = ("serum", None)
    writer.item_brands([{"item_id": i or ids["HAS_BRAND"], "brand_id": "glowco", **provenance}
                        for i in both])  # fmt: skip
    writer.item_categories([{"item_id": i or ids["IN_CATEGORY"], "category_id": "beauty > skin",
                             **provenance} for i in both])  # fmt: skip
    writer.item_attributes([{"item_id": i or ids["HAS_ATTRIBUTE"],
                             "attribute_id": "skin_type:dry skin", **provenance}
                            for i in both])  # fmt: skip
    return ids


STORED_EDGE = """MATCH (a)-[r]->(b) WHERE type(r) = $type AND $target IN [a.id, b.id]
RETURN coalesce(a.name, a.title) AS a, coalesce(b.name, b.title) AS b"""


def test_each_relationship_type_is_told_the_way_its_stored_edge_points(graph: Graph) -> None:
    ids = write_one_link_per_type(graph)
    found = explanation_paths(graph, list(ids.values()), user_id="u1")
    for kind, target in ids.items():
        [raw_path] = found[target]
        told = sentence(GraphPath.from_raw(raw_path))
        if kind == "INTERACTED":
            ends = [{"a": None, "b": TARGETS[kind]}]
        else:  # the edge as Neo4j holds it, read apart from the path
            ends = graph.read(STORED_EDGE, {"type": kind, "target": target})
        [edge] = ends
        assert told == f'You bought "Rose serum"; {EDGE_SAYS[kind].format(**edge)}.', kind
    # From a brand asked for: the item that has it, then the link to the target.
    found = explanation_paths(graph, [ids["HAS_BRAND"], ids["ALSO_BOUGHT"]], entities=["glowco"])
    asked = {sentence(GraphPath.from_raw(raw)) for paths in found.values() for raw in paths}
    assert asked == {
        '"Day cream" is by GlowCo, as you asked.',
        '"Rose serum" is by GlowCo, as you asked; customers who bought "Night cream" also '
        'bought "Rose serum".',
    }


def test_a_fact_reached_twice_is_told_once(graph: Graph) -> None:
    ids = write_one_link_per_type(graph)
    # A second customer who rated the serum and bought the soap: the same sentence again.
    GraphWriter(graph).interactions([
        {"user_id": "u3", "item_id": "serum", "kind": "rate", "ts": 4, "rating": 4},
        {"user_id": "u3", "item_id": ids["INTERACTED"], "kind": "purchase", "ts": 5},
    ])  # fmt: skip
    target = ids["INTERACTED"]
    paths = explanation_paths(graph, [target], user_id="u1")[target]
    assert len(paths) == 2
    [told] = explain([target], {target: paths}, units)[target]
    soap = EDGE_SAYS["INTERACTED"].format(b="Hand soap")
    assert told.sentence == f'You bought "Rose serum"; {soap}.'


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
    stubs = [PathNode(label="Item", id=f"s{n}") for n in range(5)]
    ties = [raw(path(USER, BOUGHT, stub, ("ALSO_BOUGHT", True), CREAM)) for stub in stubs]
    told = explain(["i2"], {"i2": ties}, units)["i2"]
    assert [e.path.nodes[1] for e in told] == stubs[:MAX_EXPLANATIONS]  # in the graph's order
    assert len(explain(["i2"], {"i2": [raw(direct)] * 5}, units)["i2"]) == 1  # said once
