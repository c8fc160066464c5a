"""The API explains from its path projection and keeps it true to the graph (real app, Neo4j
and model): its own writes show at once; another writer's, through `kg`, once the version
check has seen them, Neo4j's query answering until the projection is read again; a deleted
edge is never served, and one deleted behind kg's back is caught by replaying a served path."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.schemas import Explanation
from api.service import Service
from kg import Graph, Settings
from kg.records import ItemBrandRow, ItemCategoryRow, ItemRow
from kg.write import GraphWriter, write_atomically
from tests.api_shop import KEY

Hop = tuple[str | None, str, str | None]  # (start id, type, end id) of one relationship


@pytest.fixture(scope="module")
def settings(shop: Settings) -> Settings:
    # The background check never runs by itself here: the tests call it, as it would.
    return shop.model_copy(update={"api_graph_timeout_s": 10.0, "api_projection_check_s": 3600.0,
                                   "api_projection": True})  # fmt: skip


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as running:
        yield running


@pytest.fixture()
def graph(settings: Settings) -> Iterator[Graph]:
    with Graph.connect(settings, wait_s=30) as connected:
        yield connected


def service_of(client: TestClient) -> Service:
    service: Service = client.app.state.service  # type: ignore[attr-defined]
    return service


def hops(explanation: Explanation) -> set[Hop]:
    nodes = explanation.path.nodes
    return {(nodes[rel.start].id, rel.type, nodes[rel.end].id)
            for rel in explanation.path.relationships}  # fmt: skip


def explained(service: Service, user: str, target: str) -> set[Hop]:
    found, warnings = service.explanations([target], user_id=user)
    assert found is not None and not warnings
    return set().union(*(hops(e) for e in found[target]))


def from_projection(service: Service) -> float:
    """How many answers the service explained from its projection."""
    value = service.metrics.registry.get_sample_value(
        "kgrec_explained_responses_total", {"source": "projection"}
    )
    return value or 0.0


def settled(service: Service) -> None:
    """What the background thread does once the check found the projection stale."""
    deadline = time.monotonic() + 30
    while service.paths.ready() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.paths.ready() is not None


def test_api_writes_show_in_the_projection_at_once(client: TestClient) -> None:
    service = service_of(client)
    assert service.paths.ready() is not None
    assert ("t3", "ALSO_BOUGHT", "t4") not in explained(service, "g-user0", "t4")
    event: dict[str, Any] = {"user_id": "g-user0", "item_id": "t3", "kind": "purchase"}
    posted = client.post("/events", json={"events": [event]}, headers={"X-API-Key": KEY})
    assert posted.status_code == 201, posted.text
    before = from_projection(service)
    assert ("t3", "ALSO_BOUGHT", "t4") in explained(service, "g-user0", "t4")
    assert from_projection(service) == before + 1  # not from Neo4j's query
    item = {
        "id": "g-new",
        "title": "Rose lip oil",
        "brand": "GlowCo",
        "links": {"ALSO_BOUGHT": ["t9"]},
    }
    assert client.post("/items", json=item, headers={"X-API-Key": KEY}).status_code == 201
    found, _ = service.explanations(["t9"], liked=["g-new"])
    assert found is not None and ("g-new", "ALSO_BOUGHT", "t9") in set().union(
        *map(hops, found["t9"])
    )
    assert service.paths.ready() is not None


def test_another_writers_edge_is_explained_once_the_check_has_seen_it(
    client: TestClient, graph: Graph
) -> None:
    service = service_of(client)
    assert ("g0", "ALSO_VIEWED", "t7") not in explained(service, "g-user0", "t7")
    GraphWriter(graph).item_links([{"source_id": "g0", "target_id": "t7", "type": "ALSO_VIEWED"}])
    service.paths.check()  # what the background thread does every api_projection_check_s
    assert service.paths.ready() is None  # stale: Neo4j's query answers until it is read again
    assert ("g0", "ALSO_VIEWED", "t7") in explained(service, "g-user0", "t7")
    settled(service)
    assert ("g0", "ALSO_VIEWED", "t7") in explained(service, "g-user0", "t7")


def test_an_edge_another_writer_deleted_is_never_served(client: TestClient, graph: Graph) -> None:
    service = service_of(client)
    gone = ("t6", "HAS_BRAND", "toolco")
    projection = service.paths.ready()
    assert projection is not None
    candidates = projection.candidates(["t9"], user_id="t-user6", per_item=100).by_target()["t9"]
    assert any(node[1] == "t6" for raw in candidates for node in raw.nodes[1:2])
    # t6 written again through kg with another brand: its ToolCo link is deleted.
    written = write_atomically(graph, [
        ItemRow(id="t6", title="Socket wrench set"),
        ItemBrandRow(item_id="t6", brand_id="glowco", source="metadata", extractor="metadata"),
        ItemCategoryRow(item_id="t6", category_id="tools > hand tools", source="metadata",
                        extractor="metadata"),
    ])  # fmt: skip
    assert ("t6", "HAS_BRAND", "toolco") in written.dropped_links
    service.paths.check()
    for _ in range(2):  # from Neo4j while stale, then from the projection read again
        for user in ("t-user4", "t-user5", "t-user6"):
            assert gone not in explained(service, user, "t9")
        settled(service)
    projection = service.paths.ready()
    assert projection is not None
    fresh = projection.candidates(["t9"], user_id="t-user6", per_item=100).by_target()["t9"]
    assert not any(["HAS_BRAND", "t6", None, None] in raw.relationships for raw in fresh)


def test_a_reload_shares_the_parts_and_reads_the_projection_only_when_behind(
    client: TestClient, graph: Graph
) -> None:
    def reload() -> Service:
        answer = client.post("/admin/reload", headers={"X-API-Key": KEY})
        assert answer.status_code == 200, answer.text
        return service_of(client)

    before = service_of(client)
    projection = before.paths.ready()
    assert projection is not None
    after = reload()
    # The encoder, spaCy and the projection are not built again: the graph is where it was.
    assert after is not before and after.parts is before.parts
    assert after.paths.ready() is projection
    assert ("g0", "ALSO_VIEWED", "t8") not in explained(after, "g-user0", "t8")
    GraphWriter(graph).item_links([{"source_id": "g0", "target_id": "t8", "type": "ALSO_VIEWED"}])
    behind = reload()  # another writer's version, not seen by a check yet: read with the model
    assert behind.paths.ready() not in (None, projection)
    assert ("g0", "ALSO_VIEWED", "t8") in explained(behind, "g-user0", "t8")


def test_a_served_path_deleted_behind_kgs_back_is_caught_by_its_replay(
    client: TestClient, graph: Graph, settings: Settings
) -> None:
    service = service_of(client)
    before = service.paths.ready()
    found, _ = service.explanations(["t9"], user_id="t-user6")
    assert before is not None and found and found["t9"]
    served = found["t9"][0].path  # the one sampled: the first path of the answer
    last = served.relationships[-1]
    start, end = served.nodes[last.start].id, served.nodes[last.end].id
    # Deleted with plain Cypher: no kg write, so no version stamp tells the check.
    deleted = graph.run(f"MATCH ({{id: $start}})-[r:{last.type}]->({{id: $end}}) DELETE r "
                        "RETURN count(*) AS n", {"start": start, "end": end})  # fmt: skip
    assert deleted[0]["n"] >= 1
    # Served again from memory until it is sampled (one in api_projection_sample served
    # paths), then replayed by the check that comes next.
    for _ in range(settings.api_projection_sample):
        again, _ = service.explanations(["t9"], user_id="t-user6")
        assert again and again["t9"][0].path == served
    service.paths.check()
    deadline = time.monotonic() + 30
    while service.paths.ready() in (None, before):  # found stale, then read again
        assert time.monotonic() < deadline, "the replay did not find the path gone"
        time.sleep(0.05)
    assert (start, last.type, end) not in explained(service, "t-user6", "t9")


def test_paths_are_scored_with_each_nodes_served_vector(client: TestClient) -> None:
    recommender = service_of(client).recommender
    brand = next(iter(recommender.node_row["brand"]))
    keys = [("Item", "t9"), ("User", "t-user6"), ("Brand", brand), ("Item", "no-such-item")]
    vectors = recommender.node_vectors(keys)
    assert np.array_equal(vectors[0], recommender.items[recommender.item_row["t9"]])
    user = recommender.user_vector("t-user6")
    assert user is not None and np.array_equal(vectors[1], user)
    assert np.array_equal(vectors[2], recommender.nodes[recommender.node_row["brand"][brand]])
    assert not vectors[3].any() and vectors[:3].any(axis=1).all()
