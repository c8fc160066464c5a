"""The in-memory path projection (`kg.projection`) finds exactly the paths Neo4j's query finds,
shape by shape, on graphs written here; and it follows the writes the API makes."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from api.explain import hop_scores, path_scores
from kg import Graph
from kg.paths import RawPath, explanation_paths
from kg.projection import NodeKey, PathProjection
from kg.records import BrandRow, InteractionRow, ItemBrandRow, ItemRow
from kg.version import read_stamp
from kg.write import GraphWriter, write_atomically

PathKey = tuple[tuple[tuple[Any, ...], ...], tuple[tuple[Any, ...], ...]]
EVERYTHING = 10_000  # per_item: every candidate, so the two answers compare as sets


def as_set(found: Mapping[str, Sequence[RawPath]]) -> dict[str, set[PathKey]]:
    return {
        target: {(tuple(map(tuple, p.nodes)), tuple(map(tuple, p.relationships))) for p in paths}
        for target, paths in found.items()
    }


def unit_vectors(keys: Sequence[NodeKey]) -> NDArray[np.float32]:
    """A fixed random unit vector per node, as the model's would be."""
    vectors = [np.random.default_rng(list(map(ord, f"{label}:{node_id}"))).normal(size=8)
               for label, node_id in keys]  # fmt: skip
    matrix = np.array(vectors, dtype=np.float32).reshape(-1, 8)
    units: NDArray[np.float32] = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return units


def write_shop(graph: Graph) -> None:
    """Every shape's path at least once: items linked both ways, shared brands, categories
    and attributes, shared facts (and one with another relation), co-customers, a repeated
    interaction, a liked item that is also a target."""
    writer = GraphWriter(graph)
    writer.users([{"id": "u1", "name": "Ann"}, {"id": "u2"}, {"id": "u3"}])
    writer.items([{"id": f"i{n}", "title": f"Item {n}"} for n in range(1, 9)])
    writer.brands([{"id": "glowco", "name": "GlowCo"}])
    writer.categories([{"id": "skin", "name": "Skin"}])
    writer.attributes([{"id": "skin_type:dry skin", "name": "dry skin", "kind": "skin_type"}])
    writer.entities([{"id": "m.nolan", "name": "Nolan"}, {"id": "m.action"}])
    writer.interactions([
        {"user_id": "u1", "item_id": "i1", "kind": "purchase", "ts": 1},
        {"user_id": "u1", "item_id": "i1", "kind": "view", "ts": 2},
        {"user_id": "u1", "item_id": "i2", "kind": "cart", "ts": 3},
        {"user_id": "u2", "item_id": "i1", "kind": "rate", "ts": 4, "rating": 5},
        {"user_id": "u2", "item_id": "i5", "kind": "purchase", "ts": 5},
        {"user_id": "u3", "item_id": "i2", "kind": "click", "ts": 6},
        {"user_id": "u3", "item_id": "i6", "kind": "purchase", "ts": 7},
        {"user_id": "u3", "item_id": "i1", "kind": "purchase", "ts": 8},
    ])  # fmt: skip
    writer.item_links([
        {"source_id": "i1", "target_id": "i3", "type": "ALSO_BOUGHT"},
        {"source_id": "i4", "target_id": "i2", "type": "ALSO_VIEWED"},
        {"source_id": "i2", "target_id": "i1", "type": "BOUGHT_TOGETHER"},
        {"source_id": "i7", "target_id": "i5", "type": "ALSO_BOUGHT"},
    ])  # fmt: skip
    writer.related([
        {"head_id": h, "head_label": "Item", "relation": r, "tail_id": t,
         "tail_label": "Item" if t.startswith("i") else "Entity"}
        for h, r, t in [("i1", "directed_by", "m.nolan"), ("i6", "directed_by", "m.nolan"),
                        ("i2", "genre", "m.action"), ("i8", "genre", "m.action"),
                        ("i8", "written_by", "m.nolan"), ("i1", "sequel", "i7")]
    ])  # fmt: skip
    provenance = {"source": "metadata", "extractor": "metadata"}
    writer.item_brands([{"item_id": i, "brand_id": "glowco", **provenance} for i in ("i1", "i4")])
    writer.item_categories(
        [{"item_id": i, "category_id": "skin", **provenance} for i in ("i2", "i3", "i5")]
    )
    writer.item_attributes(
        [{"item_id": i, "attribute_id": "skin_type:dry skin", **provenance} for i in ("i1", "i8")]
    )


REQUESTS: list[dict[str, Any]] = [
    {"user_id": "u1"},
    {"user_id": "u2"},
    {"liked": ["i1", "i2"]},
    {"liked": ["i6"]},
    {"entities": ["glowco", "skin", "skin_type:dry skin"]},
    {"user_id": "u1", "liked": ["i4"], "entities": ["glowco"]},
    {"user_id": "nobody", "liked": ["missing"]},
]
TARGETS = [f"i{n}" for n in range(1, 9)] + ["missing"]


def test_the_projection_finds_the_paths_the_query_finds(graph: Graph) -> None:
    write_shop(graph)
    projection = PathProjection.read(graph)
    shapes: set[tuple[str, ...]] = set()
    for request in REQUESTS:
        expected = as_set(explanation_paths(graph, TARGETS, per_item=EVERYTHING, **request))
        got = projection.candidates(TARGETS, per_item=EVERYTHING, **request).by_target()
        assert as_set(got) == expected, request
        shapes |= {tuple(n[0] for n in p.nodes) for paths in got.values() for p in paths}
    assert shapes >= {
        ("User", "Item", "Item"), ("User", "Item", "Brand", "Item"),
        ("User", "Item", "Category", "Item"), ("User", "Item", "Attribute", "Item"),
        ("User", "Item", "Entity", "Item"), ("User", "Item", "User", "Item"),
        ("Item", "Item"), ("Item", "Brand", "Item"), ("Item", "Entity", "Item"),
        ("Brand", "Item"), ("Category", "Item"), ("Brand", "Item", "Item"),
    }  # fmt: skip


def test_the_projection_matches_the_query_on_a_random_shop(graph: Graph) -> None:
    rng = random.Random(7)
    writer = GraphWriter(graph)
    items = [f"i{n}" for n in range(40)]
    writer.items([{"id": i, "title": i} for i in items])
    writer.brands([{"id": f"b{n}", "name": f"B{n}"} for n in range(4)])
    writer.interactions(
        {"user_id": f"u{rng.randrange(15)}", "item_id": rng.choice(items),
         "kind": rng.choice(["view", "purchase"]), "ts": ts}
        for ts in range(150)
    )  # fmt: skip
    writer.item_links(
        {"source_id": a, "target_id": b, "type": rng.choice(["ALSO_BOUGHT", "ALSO_VIEWED"])}
        for a, b in {tuple(rng.sample(items, 2)) for _ in range(60)}
    )  # fmt: skip
    writer.item_brands(
        {"item_id": i, "brand_id": f"b{rng.randrange(4)}", "source": "metadata",
         "extractor": "metadata"} for i in items
    )  # fmt: skip
    projection = PathProjection.read(graph)
    for user in range(15):
        targets = rng.sample(items, 10)
        request: dict[str, Any] = {"user_id": f"u{user}", "liked": rng.sample(items, 2),
                                   "entities": ["b1"]}  # fmt: skip
        everything = explanation_paths(graph, targets, per_item=EVERYTHING, **request)
        expected = as_set(everything)
        assert (
            as_set(projection.candidates(targets, per_item=EVERYTHING, **request).by_target())
            == expected
        )
        # Capped: as many paths a target as the query gives, each one of the query's.
        capped = projection.candidates(targets, per_item=3, **request).by_target()
        assert capped.keys() == everything.keys()
        for target, paths in capped.items():
            assert as_set({target: paths})[target] <= expected[target]
            assert len(paths) == min(3, len(everything[target]))
        # Ranked from their hops, unbuilt, the candidates score as the built paths do.
        found = projection.candidates(targets, per_item=3, **request)
        built = [found.build(n) for n in range(len(found))]
        assert as_set(found.by_target()) == as_set(capped) and len(built) > 10
        from_hops = hop_scores(len(found), found.keys, found.hops, unit_vectors)
        assert np.allclose(from_hops, path_scores(built, unit_vectors))


def test_api_writes_update_the_projection_like_a_fresh_read(graph: Graph) -> None:
    write_shop(graph)
    projection = PathProjection.read(graph)
    events = [InteractionRow(user_id="u9", item_id="i3", kind="purchase", ts=20),
              InteractionRow(user_id="u1", item_id="i6", kind="view", ts=21)]  # fmt: skip
    written = write_atomically(graph, events)
    projection.add_interactions(written.new_interactions)
    projection.add_interactions(events)  # again: already there, nothing changes
    # i4 written again: by another brand now (its GlowCo link dropped), linked to i8.
    rows = [
        ItemRow(id="i4", title="Item 4 again"),
        BrandRow(id="dewy", name="Dewy"),
        ItemBrandRow(item_id="i4", brand_id="dewy", source="metadata", extractor="metadata"),
    ]
    written = write_atomically(graph, rows)
    assert written.dropped_links == [("i4", "HAS_BRAND", "glowco")]
    dropped = [(rel_type, target) for _, rel_type, target in written.dropped_links]
    projection.add_item("i4", "Item 4 again", [("HAS_BRAND", "dewy")], {("Brand", "dewy"): "Dewy"},
                        dropped)  # fmt: skip
    fresh = PathProjection.read(graph)
    for request in [*REQUESTS, {"user_id": "u9"}, {"entities": ["dewy", "glowco"]}]:
        expected = as_set(explanation_paths(graph, TARGETS, per_item=EVERYTHING, **request))
        assert (
            as_set(projection.candidates(TARGETS, per_item=EVERYTHING, **request).by_target())
            == expected
        )
        assert (
            as_set(fresh.candidates(TARGETS, per_item=EVERYTHING, **request).by_target())
            == expected
        )


def test_every_write_bumps_the_graph_version(graph: Graph) -> None:
    before = read_stamp(graph)
    GraphWriter(graph).items([{"id": "i1"}])
    after = write_atomically(graph, [ItemRow(id="i2")]).stamp
    assert after.epoch == read_stamp(graph).epoch is not None
    assert after.version == read_stamp(graph).version == before.version + 2
