from __future__ import annotations

import math

import torch

from kg import Graph
from kg.export import EDGE_TYPES, export_graph, node_type
from kg.read import counts
from kg.records import INTERACTION_KINDS, SPLITS
from kg.write import GraphWriter
from tests.graph_fixtures import write_shop


def test_export_round_trips_counts_and_id_maps(graph: Graph) -> None:
    write_shop(GraphWriter(graph))
    stored = counts(graph)
    exported = export_graph(graph)
    data = exported.data
    for label, count in stored.nodes.items():
        assert data[node_type(label)].num_nodes == count
        id_map = exported.id_maps[node_type(label)]
        assert len(id_map) == count
        assert all(id_map.ids[id_map.index[node_id]] == node_id for node_id in id_map.ids)
        stored_ids = graph.read(f"MATCH (n:{label}) RETURN n.id AS id")
        assert sorted(id_map.ids) == sorted(row["id"] for row in stored_ids)
    for start, rel, end in EDGE_TYPES:
        forward = data[node_type(start), rel.lower(), node_type(end)].edge_index
        backward = data[node_type(end), f"rev_{rel.lower()}", node_type(start)].edge_index
        assert forward.shape == (2, stored.relationships[rel])
        assert torch.equal(backward, forward.flip(0))


def test_exported_edges_point_at_the_right_ids(graph: Graph) -> None:
    write_shop(GraphWriter(graph))
    exported = export_graph(graph)
    users, items = exported.id_maps["user"], exported.id_maps["item"]
    store = exported.data["user", "interacted", "item"]
    pairs = {
        (users.ids[s], items.ids[d], INTERACTION_KINDS[k], int(ts))
        for s, d, k, ts in zip(*store.edge_index.tolist(), store.kind.tolist(), store.ts.tolist(),
                               strict=True)
    }  # fmt: skip
    assert pairs == {
        ("u1", "i1", "purchase", 1_500_000_000),
        ("u1", "i2", "view", 1_500_000_100),
        ("u2", "i2", "purchase", 1_500_000_200),
        ("u3", "i3", "click", 1_500_000_300),
    }
    splits = {
        (users.ids[s], items.ids[d]): (SPLITS[code] if code >= 0 else None)
        for s, d, code in zip(*store.edge_index.tolist(), store.split.tolist(), strict=True)
    }
    assert splits == {("u1", "i1"): "train", ("u1", "i2"): "test", ("u2", "i2"): None,
                      ("u3", "i3"): None}  # fmt: skip
    assert sorted(store.weight.tolist()) == [0.5, 1.0, 1.0, 1.0]
    titles = dict(zip(items.ids, exported.data["item"].title, strict=True))
    assert titles["i1"] == "Rose face serum"
    prices = dict(zip(items.ids, exported.data["item"].price.tolist(), strict=True))
    assert prices["i1"] == 19.5 and math.isnan(prices["i3"])
    brands = dict(zip(exported.id_maps["brand"].ids, exported.data["brand"].name, strict=True))
    assert brands == {"brushly": "Brushly", "glowco": "GlowCo"}


def test_export_is_deterministic(graph: Graph) -> None:
    write_shop(GraphWriter(graph))
    first, second = export_graph(graph), export_graph(graph)
    for edge_type in first.data.edge_types:
        assert torch.equal(first.data[edge_type].edge_index, second.data[edge_type].edge_index)


def test_export_of_an_empty_graph(graph: Graph) -> None:
    exported = export_graph(graph)
    assert exported.data["item"].num_nodes == 0
    assert exported.data["user", "interacted", "item"].edge_index.shape == (2, 0)


def test_entities_and_their_facts_export_with_names_and_relations(graph: Graph) -> None:
    writer = GraphWriter(graph)
    write_shop(writer)
    writer.entities([{"id": "e1", "name": "Paris"}])  # e2 has no name
    facts = [
        ("Item", "i1", "made_in", "Entity", "e1"),
        ("Item", "i1", "sold_in", "Entity", "e1"),
        ("Entity", "e1", "capital_of", "Entity", "e2"),
        ("Entity", "e2", "home_of", "Item", "i2"),
        ("Item", "i2", "refill_of", "Item", "i1"),
    ]
    writer.related(
        {"head_label": a, "head_id": head, "relation": relation, "tail_label": b, "tail_id": tail}
        for a, head, relation, b, tail in facts
    )
    exported = export_graph(graph)
    data, id_maps = exported.data, exported.id_maps
    assert id_maps["entity"].ids == ["e1", "e2"]
    assert data["entity"].name == ["Paris", None]
    found = []
    for start, rel, end in EDGE_TYPES:
        if rel != "RELATED":
            continue
        forward = (node_type(start), "related", node_type(end))
        sources, targets = data[forward].edge_index.tolist()
        ends = zip(sources, targets, data[forward].relation, strict=True)
        found += [(start, id_maps[node_type(start)].ids[s], relation, end,
                   id_maps[node_type(end)].ids[t]) for s, t, relation in ends]  # fmt: skip
        backward = data[node_type(end), "rev_related", node_type(start)].edge_index
        assert torch.equal(backward, data[forward].edge_index.flip(0))
    assert sorted(found) == sorted(facts)  # two relations between i1 and e1: two edges
