from __future__ import annotations

from typing import Any

import pytest

from kg import Graph
from kg.read import counts
from kg.records import UserRow
from kg.write import GraphWriter, InvalidRowsError
from tests.graph_fixtures import EXPECTED_NODES, EXPECTED_RELATIONSHIPS, write_shop

HOSTILE = "') DETACH DELETE n //"


def test_every_writer_stores_the_expected_graph(graph: Graph) -> None:
    write_shop(GraphWriter(graph, batch_size=2))
    result = counts(graph)
    assert result.nodes == EXPECTED_NODES
    assert result.relationships == EXPECTED_RELATIONSHIPS


def test_the_same_batches_written_twice_change_nothing(graph: Graph) -> None:
    writer = GraphWriter(graph, batch_size=2)
    write_shop(writer)
    before = counts(graph)
    properties_before = graph.read(
        "MATCH (n) RETURN n.id AS id, properties(n) AS p ORDER BY id"
    ) + graph.read("MATCH ()-[r]->() RETURN type(r) AS t, properties(r) AS p ORDER BY t")
    write_shop(writer)
    assert counts(graph) == before
    properties_after = graph.read(
        "MATCH (n) RETURN n.id AS id, properties(n) AS p ORDER BY id"
    ) + graph.read("MATCH ()-[r]->() RETURN type(r) AS t, properties(r) AS p ORDER BY t")
    assert sorted(map(str, properties_after)) == sorted(map(str, properties_before))


def test_rewrite_reports_nothing_created(graph: Graph) -> None:
    writer = GraphWriter(graph)
    rows = [{"user_id": "u1", "item_id": "i1", "kind": "view", "ts": 1}]
    first = writer.interactions(rows)
    second = writer.interactions(rows)
    assert (first.nodes_created, first.relationships_created) == (2, 1)
    assert (first.created, first.already_there, first.ends_created) == (1, 0, 2)
    assert (second.nodes_created, second.relationships_created) == (0, 0)
    assert (second.created, second.already_there, second.ends_created) == (0, 1, 0)


def test_node_rows_count_new_and_already_there_apart_from_link_ends(graph: Graph) -> None:
    writer = GraphWriter(graph)
    links = writer.item_links([{"source_id": "i1", "target_id": "i2", "type": "ALSO_BOUGHT"}])
    items = writer.items([{"id": "i1", "title": "One"}, {"id": "i2", "title": "Two"},
                          {"id": "i3", "title": "Three"}])  # fmt: skip
    assert (links.created, links.ends_created) == (1, 2)
    assert (items.rows, items.created, items.already_there) == (3, 1, 2)
    # A child whose parent no row named: the parent is a link end, not a new category row.
    categories = writer.categories([{"id": "a > b", "name": "B", "parent_id": "a"}])
    assert (categories.created, categories.ends_created) == (1, 1)
    assert categories.relationships_created == 1
    reviews = writer.reviews([{"id": "r1", "user_id": "u1", "item_id": "i3", "text": "Good"}])
    assert (reviews.created, reviews.already_there, reviews.ends_created) == (1, 0, 1)
    again = writer.reviews([{"id": "r1", "user_id": "u1", "item_id": "i3", "text": "Good"}])
    assert (again.created, again.already_there, again.ends_created) == (0, 1, 0)


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ({"name": "no id"}, "id: Field required"),
        ({"id": 12345}, "id: Input should be a valid string"),
        ({"id": ""}, "id: String should have at least 1 character"),
        ({"id": "x" * 2000}, "id: String should have at most 1024 characters"),
        ({"id": "u", "surprise": 1}, "surprise: Extra inputs are not permitted"),
        ("not a mapping", "expected a mapping, got str"),
    ],
)
def test_a_bad_row_is_named_and_other_batches_are_kept(
    graph: Graph, bad_row: Any, reason: str
) -> None:
    rows: list[Any] = [{"id": f"u{i}"} for i in range(6)]
    rows[3] = bad_row  # batch 1 of [0,1] [2,3] [4,5]
    with pytest.raises(InvalidRowsError) as caught:
        GraphWriter(graph, batch_size=2).users(rows)
    message = str(caught.value)
    assert "row 3" in message and reason in message
    assert caught.value.summary.rows == 4 and caught.value.summary.rejected_rows == 2
    stored = {row["id"] for row in graph.read("MATCH (u:User) RETURN u.id AS id")}
    assert stored == {"u0", "u1", "u4", "u5"}  # the bad row's batch is held back whole


def test_wrong_types_in_relationship_rows_name_both_ends(graph: Graph) -> None:
    rows: list[dict[str, Any]] = [
        {"user_id": "u1", "item_id": "i1", "kind": "view", "ts": 10},
        {"user_id": "u2", "item_id": "i2", "kind": "teleport", "ts": "yesterday"},
    ]
    with pytest.raises(InvalidRowsError) as caught:
        GraphWriter(graph, batch_size=1).interactions(rows)
    message = str(caught.value)
    assert "row 1 (user_id='u2', item_id='i2')" in message
    assert (
        "kind: Input should be 'view'" in message
        and "ts: Input should be a valid integer" in message
    )
    assert counts(graph).relationships["INTERACTED"] == 1


def test_cypher_in_ids_and_names_is_stored_as_plain_text(graph: Graph) -> None:
    writer = GraphWriter(graph)
    writer.users([UserRow(id="bystander")])
    writer.items(
        [{"id": HOSTILE, "title": '"}) MATCH (x) DETACH DELETE x //', "description": "`;"}]
    )
    writer.brands([{"id": "b`) DELETE n", "name": HOSTILE}])
    writer.interactions([{"user_id": HOSTILE, "item_id": HOSTILE, "kind": "view", "ts": 1}])
    item = graph.read("MATCH (i:Item {id: $id}) RETURN i.title AS title, i.description AS d",
                      {"id": HOSTILE})  # fmt: skip
    assert item == [{"title": '"}) MATCH (x) DETACH DELETE x //', "d": "`;"}]
    assert graph.read("MATCH (b:Brand) RETURN b.id AS id, b.name AS name") == [
        {"id": "b`) DELETE n", "name": HOSTILE}
    ]
    assert counts(graph).nodes["User"] == 2  # the bystander survived


def test_provenance_is_stored_on_extracted_relationships(graph: Graph) -> None:
    write_shop(GraphWriter(graph))
    rows = graph.read(
        "MATCH (:Item {id: 'i1'})-[r:HAS_ATTRIBUTE]->(a:Attribute) "
        "RETURN a.id AS attribute, r.source AS source, r.sources AS sources, "
        "r.extractor AS extractor, r.extractors AS extractors, r.confidence AS confidence, "
        "r.mentions AS mentions"
    )
    assert rows == [{
        "attribute": "dry skin", "source": "description", "sources": ["description", "title"],
        "extractor": "rule", "extractors": ["rule", "spacy"], "confidence": 0.9, "mentions": 3,
    }]  # fmt: skip
    mention = graph.read(
        "MATCH (:Review)-[m:MENTIONS]->() RETURN m.sentiment AS s, m.source AS src"
    )
    assert mention == [{"s": "positive", "src": "review"}]


def test_one_relationship_per_item_and_entity_whatever_found_it(graph: Graph) -> None:
    """The pair is the key: a later write (an item posted again to the API) replaces the
    provenance, and never adds a second link."""
    writer = GraphWriter(graph)
    link = {"item_id": "i1", "brand_id": "glowco", "source": "metadata", "extractor": "metadata"}
    writer.item_brands([link])
    again = writer.item_brands(
        [link | {"sources": ["title"], "extractors": ["rule"], "mentions": 2}]
    )
    assert (again.created, again.already_there) == (0, 1)
    assert graph.read(
        "MATCH (:Item {id: 'i1'})-[r:HAS_BRAND]->(:Brand {id: 'glowco'}) "
        "RETURN r.source AS source, r.sources AS sources, r.extractors AS extractors, "
        "r.mentions AS mentions"
    ) == [{"source": "metadata", "sources": ["metadata", "title"],
           "extractors": ["metadata", "rule"], "mentions": 2}]  # fmt: skip


def test_attribute_surface_forms_accumulate_without_duplicates(graph: Graph) -> None:
    writer = GraphWriter(graph)
    writer.attributes(
        [{"id": "cotton", "name": "cotton", "kind": "material", "surface_forms": ["Cotton"]}]
    )
    writer.attributes([{"id": "cotton", "name": "cotton", "kind": "material",
                        "surface_forms": ["Cotton", "100% cotton"]}])  # fmt: skip
    forms = graph.read("MATCH (a:Attribute {id: 'cotton'}) RETURN a.surface_forms AS f")
    assert forms == [{"f": ["Cotton", "100% cotton"]}]


def test_batch_size_must_be_positive(graph: Graph) -> None:
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        GraphWriter(graph, batch_size=0)
