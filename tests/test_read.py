from __future__ import annotations

import pytest

from kg import Graph
from kg.catalogue import USER_ITEMS
from kg.read import counts, neighbourhood
from kg.records import InteractionRow, UserRow
from kg.write import GraphWriter
from tests.graph_fixtures import write_shop


def test_counts_of_an_empty_graph_are_zero(graph: Graph) -> None:
    result = counts(graph)
    assert result.total_nodes == 0 and result.total_relationships == 0
    assert set(result.nodes) == {"User", "Item", "Brand", "Category", "Attribute", "Review",
                                 "Entity"}  # fmt: skip


def test_neighbourhood_of_an_item(graph: Graph) -> None:
    write_shop(GraphWriter(graph))
    found = {(n.type, n.direction, n.label, n.id) for n in neighbourhood(graph, "Item", "i1")}
    assert found == {
        ("ALSO_BOUGHT", "out", "Item", "i2"),
        ("ALSO_VIEWED", "in", "Item", "i2"),
        ("BOUGHT_TOGETHER", "out", "Item", "i3"),
        ("HAS_ATTRIBUTE", "out", "Attribute", "dry skin"),
        ("HAS_BRAND", "out", "Brand", "glowco"),
        ("IN_CATEGORY", "out", "Category", "skin-care"),
        ("INTERACTED", "in", "User", "u1"),
        ("REVIEWS", "in", "Review", "r1"),
    }
    brand = next(n for n in neighbourhood(graph, "Item", "i1") if n.type == "HAS_BRAND")
    assert brand.name == "GlowCo" and brand.properties["extractor"] == "metadata"


def test_neighbourhood_limit_and_unknown_ids(graph: Graph) -> None:
    write_shop(GraphWriter(graph))
    assert len(neighbourhood(graph, "Item", "i1", limit=2)) == 2
    assert neighbourhood(graph, "Item", "') DETACH DELETE n //") == []
    assert counts(graph).nodes["Item"] == 3


@pytest.mark.parametrize(("label", "limit"), [("Item) DETACH DELETE (n", 10), ("Item", 0)])
def test_neighbourhood_rejects_bad_arguments(graph: Graph, label: str, limit: int) -> None:
    with pytest.raises(ValueError, match=r"Unknown label|limit must be"):
        neighbourhood(graph, label, "i1", limit=limit)


def test_a_paged_read_returns_every_start_nodes_rows_once(graph: Graph) -> None:
    """Pages of one user each, with a user of no history between them, give what one page of
    every user gives: each user's items, each once; users without any are left out."""
    write_shop(GraphWriter(graph))
    writer = GraphWriter(graph)
    writer.users([UserRow(id="u15")])  # sorts between u1 and u2, no interactions
    writer.interactions([InteractionRow(user_id="u1", item_id="i1", kind="view", ts=1_600_000_000)])
    whole = graph.read_collected_paged(USER_ITEMS, "User", page=1000)
    assert sorted((user, sorted(items)) for user, items in whole) == [
        ("u1", ["i1", "i2"]), ("u2", ["i2"]), ("u3", ["i3"])
    ]  # fmt: skip
    assert graph.read_collected_paged(USER_ITEMS, "User", page=1) == whole
