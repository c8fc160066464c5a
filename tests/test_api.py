"""The HTTP API over real HTTP (Starlette's TestClient drives the real app, lifespan included)
against the real Neo4j and a small model trained here: every endpoint, every error, auth, the
cold-start flows, explanation Cypher run back against Neo4j, and Neo4j stopped and restarted
under a running API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from kg import Graph, Settings, provision
from kg.provision.local import LocalNeo4j
from tests.api_shop import KEY, LIPS, TOOLS

HOSTILE = "x'}) DETACH DELETE n //\\"


@pytest.fixture()
def graph(shop: Settings) -> Iterator[Graph]:
    """The shop's graph as written (this module never wipes it between tests)."""
    with Graph.connect(shop, wait_s=30) as connected:
        yield connected


def recommend(client: TestClient, user: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/users/{user}/recommendations", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def mostly(side: str, items: list[str]) -> bool:
    """The first item and at least two thirds of them are from this side of the shop."""
    own = [item for item in items if item.startswith(side)]
    return items[0].startswith(side) and len(own) * 3 >= len(items) * 2


def post(client: TestClient, path: str, body: Any, key: str | None = KEY) -> Any:
    return client.post(path, json=body, headers={"X-API-Key": key} if key else {})


# -- recommendations and explanations ----------------------------------------------------------


def test_a_user_gets_unseen_items_of_their_side_with_paths_that_explain_them(
    client: TestClient, graph: Graph
) -> None:
    body = recommend(client, "g-user0", k=3)
    assert body["strategy"] == "personalised"
    assert body["warnings"] == []
    assert len(ids(body)) == 3
    assert not {"g0", "g1", "g2"} & set(ids(body))  # bought: excluded by default
    assert mostly("g", ids(body))
    for item in body["items"]:
        assert item["title"] in LIPS + TOOLS
        # Nothing links g-user0 to the tool shop within 3 hops: lip items only are explained.
        assert (len(item["explanations"]) >= 1) == item["item_id"].startswith("g")
        assert len(item["explanations"]) <= 3
        scores = [e["score"] for e in item["explanations"]]
        assert scores == sorted(scores, reverse=True)
        for explanation in item["explanations"]:
            path = explanation["path"]
            assert path["nodes"][0] == {"label": "User", "id": "g-user0", "name": None}
            assert path["nodes"][-1]["id"] == item["item_id"]
            assert len(path["relationships"]) <= 3
            assert explanation["sentence"].startswith("You bought ")
            [row] = graph.read(explanation["cypher"])  # exactly that path, and only it
            # Another customer's id is not shown (None): any customer on that path will do.
            for shown, node in zip(path["nodes"], row["p"][::2], strict=True):
                assert shown["id"] in (node["id"], None)


def test_explain_gives_the_paths_between_a_user_and_an_item(client: TestClient) -> None:
    body = client.get("/explain", params={"user_id": "g-user0", "item_id": "g3"}).json()
    sentences = [e["sentence"] for e in body["explanations"]]
    assert 1 <= len(sentences) <= 3
    # g-user0 bought g0..g2; g2 "Coral lip liner" is also bought with g3 "Nude lipstick set".
    assert all(s.startswith("You bought ") and "Nude lipstick set" in s for s in sentences)
    # Open reads tell no one which users exist: an unknown one has no path, like a known one.
    stranger = client.get("/explain", params={"user_id": "nobody", "item_id": "g3"})
    assert stranger.json()["explanations"] == []
    assert client.get("/explain", params={"user_id": "g-user0", "item_id": "x"}).status_code == 404


def test_explain_false_seen_items_and_category_filter(client: TestClient) -> None:
    plain = recommend(client, "g-user0", k=5, explain=False)
    assert all(item["explanations"] is None for item in plain["items"])
    with_seen = recommend(client, "g-user0", k=12, explain=False, exclude_seen=False)
    assert {"g0", "g1", "g2"} <= set(ids(with_seen))
    for category in ("Tools", "tools", "Hand tools"):
        tools = recommend(client, "g-user0", k=5, explain=False, category=category)
        assert all(item.startswith("t") for item in ids(tools)), category
    missing = client.get("/users/g-user0/recommendations", params={"category": "Garden"})
    assert missing.status_code == 404
    assert "Garden" in missing.json()["detail"]


def test_similar_items_stay_on_their_side(client: TestClient) -> None:
    response = client.get("/items/t3/similar", params={"k": 3})
    assert response.status_code == 200
    similar = [item["item_id"] for item in response.json()]
    assert "t3" not in similar
    assert mostly("t", similar)
    assert client.get("/items/nope/similar").status_code == 404


def test_through_the_ann_index_the_answers_are_the_exact_ones(
    client: TestClient, shop: Settings
) -> None:
    """KGREC_API_ANN_MIN_ITEMS=0 ranks every catalogue through the index and the term's
    candidates; this shop's items are fewer than those proposed, so nothing may differ."""
    with TestClient(create_app(shop.model_copy(update={"api_ann_min_items": 0}))) as indexed:
        assert indexed.app.state.service.recommender.index is not None  # type: ignore[attr-defined]
        assert client.app.state.service.recommender.index is None  # type: ignore[attr-defined]
        for user in ("g-user0", "t-user1"):
            assert recommend(indexed, user, k=8) == recommend(client, user, k=8)
        for item in ("t3", "g1"):
            similar = indexed.get(f"/items/{item}/similar", params={"k": 5}).json()
            assert similar == client.get(f"/items/{item}/similar", params={"k": 5}).json()


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/users/g-user0/recommendations", {"k": 0}, 422, "query.k"),
        ("/users/g-user0/recommendations", {"k": 1001}, 422, "query.k"),
        ("/users/g-user0/recommendations", {"k": "ten"}, 422, "query.k"),
        ("/items/g0/similar", {"k": -1}, 422, "query.k"),
    ],
)
def test_bad_requests_get_clear_errors(
    client: TestClient, path: str, params: dict[str, Any], status: int, says: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    assert says in str(response.json())


# -- context (cold-start) recommendations -------------------------------------------------------


def test_a_stranger_with_no_context_gets_popular_items_labelled_as_such(client: TestClient) -> None:
    body = post(client, "/recommendations", {"k": 4, "category": "Beauty"}, key=None).json()
    assert body["strategy"] == "popular"
    assert "most popular" in body["warnings"][0]
    assert all(item.startswith("g") for item in ids(body))


@pytest.mark.parametrize(
    ("request_body", "side"),
    [
        ({"query": "a power tool for drilling holes"}, "t"),
        ({"query": "lipstick"}, "g"),
        ({"liked_items": ["t4"]}, "t"),
        ({"attributes": ["GlowCo"]}, "g"),
        ({"attributes": ["toolco"], "query": "wrench"}, "t"),
        ({"user_id": "a-new-visitor", "liked_items": ["g5"]}, "g"),
    ],
)
def test_context_alone_personalises(
    client: TestClient, request_body: dict[str, Any], side: str
) -> None:
    body = post(client, "/recommendations", {**request_body, "k": 3}, key=None).json()
    assert body["strategy"] == ("search" if "query" in request_body else "context")
    assert mostly(side, ids(body)), body
    assert not set(request_body.get("liked_items", [])) & set(ids(body))
    if request_body.get("liked_items") or request_body.get("attributes"):
        assert all(item["explanations"] for item in body["items"])


def test_context_explanations_start_from_what_the_request_named(client: TestClient) -> None:
    body = post(client, "/recommendations", {"attributes": ["GlowCo"], "k": 2}).json()
    first = body["items"][0]["explanations"][0]
    assert first["path"]["nodes"][0]["label"] == "Brand"
    assert "is by GlowCo, as you asked" in first["sentence"]


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        ('{"query": ', 422, "JSON"),
        ('{"k": 0}', 422, "body.k"),
        ('{"liked_items": "g1"}', 422, "body.liked_items"),
        ('{"querry": "typo"}', 422, "body.querry"),
        ('{"liked_items": ["nope"]}', 404, "unknown item 'nope'"),
        ('{"attributes": ["Acme"]}', 404, "'Acme'"),
        ("[1, 2]", 422, "body"),
    ],
)
def test_malformed_context_requests_name_the_field(
    client: TestClient, raw: str, status: int, says: str
) -> None:
    response = client.post(
        "/recommendations", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert says in str(response.json())


# -- writes: auth, new items, events ------------------------------------------------------------

LACQUER = {"id": "g-new", "title": "Glossy lip lacquer", "brand": "GlowCo",
           "description": "A glossy lip lacquer with a rose scent.",
           "categories": ["Beauty", "Lips"]}  # fmt: skip


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("wrong", 403)])
def test_writes_need_a_valid_api_key(
    client: TestClient, graph: Graph, key: str | None, status: int
) -> None:
    assert post(client, "/items", {**LACQUER, "id": "sneaky"}, key=key).status_code == status
    event = {"user_id": "sneaky", "item_id": "g1", "kind": "view"}
    assert post(client, "/events", {"events": [event]}, key=key).status_code == status
    assert post(client, "/admin/reload", {}, key=key).status_code == status
    assert graph.read("MATCH (n {id: 'sneaky'}) RETURN n") == []


def test_a_new_item_is_recommendable_at_once_and_explained_by_its_links(
    client: TestClient, graph: Graph
) -> None:
    response = post(client, "/items", LACQUER)
    assert response.status_code == 201, response.text
    added = response.json()
    assert added["created"] is True
    assert added["embedding"] == "inductive"
    assert "glowco" in added["brands"]
    assert added["categories"] == ["beauty", "beauty > lips"]
    [row] = graph.read("MATCH (i:Item {id: 'g-new'})-[:HAS_BRAND]->(b) RETURN b.id AS brand")
    assert row["brand"] == "glowco"
    # A customer who likes GlowCo sees it among their lip picks, ahead of every tool.
    body = recommend(client, "g-user0", k=24)
    assert "g-new" in ids(body)
    assert ids(body).index("g-new") < min(ids(body).index(i) for i in ids(body) if i[0] == "t")
    lacquer = body["items"][ids(body).index("g-new")]
    assert any("GlowCo" in e["sentence"] for e in lacquer["explanations"])
    brand_only = post(client, "/recommendations", {"attributes": ["GlowCo"], "k": 13}).json()
    assert "g-new" in ids(brand_only)
    assert client.get("/items/g-new/similar", params={"k": 3}).status_code == 200
    # A brand first seen in a new item can be asked for at once.
    balm = {"id": "g-lumi", "title": "Lumi tinted lip balm", "brand": "Lumi"}
    assert "lumi" in post(client, "/items", balm).json()["brands"]
    assert "g-lumi" in ids(post(client, "/recommendations", {"attributes": ["Lumi"]}).json())
    # Posting it again updates it in place.
    again = post(client, "/items", {**LACQUER, "title": "Glossy lip lacquer, 5 ml"})
    assert again.json()["created"] is False
    assert recommend(client, "g-user0", k=24)["items"][0]["item_id"]  # still serving


def test_a_trained_item_keeps_its_learned_embedding_when_updated(client: TestClient) -> None:
    response = post(client, "/items", {"id": "t0", "title": "Steel claw hammer, 16 oz"})
    assert response.status_code == 201
    assert response.json()["embedding"] == "trained"


def test_a_new_users_first_events_personalise_their_next_recommendations(
    client: TestClient, graph: Graph
) -> None:
    assert client.get("/users/newbie/recommendations").json()["strategy"] == "popular"
    events = [{"user_id": "newbie", "item_id": item, "kind": "purchase", "ts": 1_700_000_000 + n}
              for n, item in enumerate(("t1", "t2"))]  # fmt: skip
    events.append({"user_id": "newbie", "item_id": "t3", "kind": "rate", "rating": 5,
                   "review": "Sturdy, great grip.", "ts": 1_700_000_100})  # fmt: skip
    response = post(client, "/events", {"events": events})
    assert response.status_code == 201, response.text
    assert response.json() == {"recorded": 3, "users_updated": ["newbie"]}
    body = recommend(client, "newbie", k=3)
    assert body["strategy"] == "personalised"
    assert mostly("t", ids(body))
    assert not {"t1", "t2", "t3"} & set(ids(body))
    [row] = graph.read("MATCH (:User {id: 'newbie'})-[r:INTERACTED]->() RETURN count(r) AS n")
    assert row["n"] == 3
    assert graph.read("MATCH (:User {id: 'newbie'})-[:WROTE]->(r:Review) RETURN r.text AS t") == [
        {"t": "Sturdy, great grip."}
    ]
    # The same events again (same ts) change nothing in the graph.
    post(client, "/events", {"events": events})
    [row] = graph.read("MATCH (:User {id: 'newbie'})-[r:INTERACTED]->() RETURN count(r) AS n")
    assert row["n"] == 3


def test_events_move_a_known_user_without_retraining(client: TestClient) -> None:
    before = ids(recommend(client, "g-user5", k=4, explain=False))
    assert mostly("g", before)
    events = [{"user_id": "g-user5", "item_id": f"t{n}", "kind": "purchase",
               "ts": 1_700_000_000 + n} for n in range(6)]  # fmt: skip
    assert post(client, "/events", {"events": events}).status_code == 201
    after = ids(recommend(client, "g-user5", k=4, explain=False))
    assert any(item.startswith("t") for item in after), after


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"events": []}, 422, "body.events"),
        ({"events": [{"user_id": "u", "item_id": "g1", "kind": "teleport"}]}, 422,
         "body.events.0.kind"),
        ({"events": [{"user_id": "u", "item_id": "g1", "kind": "rate", "rating": 9}]}, 422,
         "body.events.0.rating"),
        ({"events": [{"user_id": "half", "item_id": "g1", "kind": "view"},
                     {"user_id": "half", "item_id": "ghost-item", "kind": "view"}]}, 404,
         "unknown item 'ghost-item'"),
        ({"events": [{"user_id": "", "item_id": "g1", "kind": "view"}]}, 422,
         "body.events.0.user_id"),
        ({"id": "x", "title": ""}, 422, "body.title"),
    ],
)  # fmt: skip
def test_bad_writes_are_refused_whole_and_write_nothing(
    client: TestClient, graph: Graph, body: dict[str, Any], status: int, says: str
) -> None:
    path = "/items" if "id" in body else "/events"
    response = post(client, path, body)
    assert response.status_code == status
    assert says in str(response.json())
    assert graph.read("MATCH (n) WHERE n.id IN ['u', 'half', 'x'] RETURN n") == []


def test_oversized_bodies_get_413(client: TestClient) -> None:
    huge = {**LACQUER, "id": "huge", "description": "x" * 70_000}
    response = post(client, "/items", huge)
    assert response.status_code == 413
    assert "KGREC_API_MAX_BODY_BYTES" in response.json()["detail"]
    streamed = client.post(
        "/items", content=iter([b"{" + b" " * 40_000, b" " * 40_000 + b"}"]),
        headers={"X-API-Key": KEY, "Content-Type": "application/json"},
    )  # fmt: skip
    assert streamed.status_code == 413


def test_hostile_ids_are_only_ever_data(client: TestClient, graph: Graph) -> None:
    event = {"user_id": HOSTILE, "item_id": "g1", "kind": "purchase", "ts": 1}
    assert post(client, "/events", {"events": [event]}).status_code == 201
    body = recommend(client, quote(HOSTILE, safe=""), k=2)
    cypher = body["items"][0]["explanations"][0]["cypher"]
    [row] = graph.read(cypher)
    assert row["p"][0]["id"] == HOSTILE
    [count] = graph.read("MATCH (n:Item) RETURN count(n) AS n")
    assert count["n"] >= len(LIPS) + len(TOOLS)


# -- operations ---------------------------------------------------------------------------------


def test_health_metrics_and_docs(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert ready.json()["catalogue_loaded"] is True
    metrics = client.get("/metrics").text
    assert (
        'kgrec_http_requests_total{method="GET",route="/users/{user_id:path}/recommendations"'
        in (metrics)
    )
    assert "kgrec_neo4j_up 1.0" in metrics
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/users/{user_id}/recommendations", "/recommendations", "/items", "/events",
            "/explain", "/items/{item_id}/similar"} <= set(paths)  # fmt: skip


def test_reload_switches_to_the_newest_model(client: TestClient) -> None:
    response = post(client, "/admin/reload", {})
    assert response.status_code == 200
    assert response.json()["model"] == response.json()["previous"]
    assert recommend(client, "g-user0", k=2)["strategy"] == "personalised"


def test_neo4j_stopped_and_restarted_under_a_running_api(shop: Settings) -> None:
    if provision.resolve_mode(shop) != "local":
        pytest.skip("stops the server: only for the local one the tests started")
    server = LocalNeo4j(shop)
    with ExitStack() as running:
        client = running.enter_context(TestClient(create_app(shop)))
        assert recommend(client, "t-user1", k=3)["items"][0]["explanations"]
        server.stop()
        try:
            body = recommend(client, "t-user1", k=3)
            assert len(body["items"]) == 3
            # The paths come from the API's projection of the graph: no round trip needed.
            assert body["items"][0]["explanations"] and not body["warnings"]
            # Search falls back to the query's vector through the model, and says so.
            found = client.get("/search", params={"q": "claw hammer", "k": 3}).json()
            assert found["strategy"] == "search"
            assert found["items"][0]["item_id"].startswith("t")
            assert "without the search indexes" in found["warnings"][0]
            ready = client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["ready"] is False
            event = {"user_id": "t-user1", "item_id": "t7", "kind": "view"}
            refused = post(client, "/events", {"events": [event]})
            assert refused.status_code == 503
            assert "nothing was written" in refused.json()["detail"]
            # An API started while Neo4j is down serves from the model alone meanwhile.
            cold = running.enter_context(TestClient(create_app(shop)))
            assert cold.get("/health/ready").json()["catalogue_loaded"] is False
            body = recommend(cold, "t-user1", k=3)
            assert body["strategy"] == "personalised"
            # Without a projection read yet, explanations need Neo4j: none, and it says why.
            assert all(item["explanations"] is None for item in body["items"])
            assert any("unreachable" in warning for warning in body["warnings"])
        finally:
            server.start()
        for api in (client, cold):
            deadline = time.monotonic() + 60
            while api.get("/health/ready").status_code != 200:
                assert time.monotonic() < deadline, "the API did not see Neo4j come back"
                time.sleep(0.5)
            # A restarted Neo4j plans the path query afresh: on a busy machine the first
            # tries may still time out (and answer without explanations).
            while not recommend(api, "t-user1", k=3)["items"][0]["explanations"]:
                assert time.monotonic() < deadline, "no explanations once Neo4j was back"
                time.sleep(0.5)
        assert not {"t1", "t2", "t3"} & set(ids(recommend(cold, "t-user1", k=3)))  # seen again


def test_kgrec_serve_without_a_model_says_how_to_get_one(tmp_path: Path) -> None:
    from tests.helpers import kgrec

    outcome = kgrec("serve", env={"KGREC_MODELS_DIR": str(tmp_path)})
    assert outcome.returncode == 2
    assert "kgrec train" in outcome.stderr
    help_text = kgrec("serve", "--help", env={}).stdout
    assert "KGREC_API_KEYS" in help_text
