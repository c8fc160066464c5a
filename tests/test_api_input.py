"""Hostile input over HTTP against the real app, Neo4j and model: every request a tester found
answering 500 (lone surrogates, NaN and Infinity, booleans as numbers, timestamps past int64,
ids the server builds too long) answers a 4xx naming the field and writes nothing; malformed
bodies say what is wrong; the OpenAPI lists every status code each route answers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response  # what the TestClient answers

from api.schemas import MAX_TS
from kg import Graph, Settings
from kg.records import review_id
from tests.api_shop import KEY

SURROGATE = "\ud800"  # JSON "\ud800": decodes to a str that UTF-8 cannot encode


@pytest.fixture()
def graph(shop: Settings) -> Iterator[Graph]:
    """The shop's graph as written (never wiped here)."""
    with Graph.connect(shop, wait_s=30) as connected:
        yield connected


def send(client: TestClient, path: str, body: Any, key: str | None = KEY) -> Response:
    """POST `body` as Python's json writes it: NaN and Infinity as such, a lone surrogate as
    its escape, so the request holds exactly what a hostile client sends."""
    headers = {"Content-Type": "application/json"} | ({"X-API-Key": key} if key else {})
    return client.post(path, content=json.dumps(body), headers=headers)


def refused(response: Response, field: str) -> str:
    """The 422's one-line message, which names `field` (e.g. "body.events.0.ts")."""
    assert response.status_code == 422, response.text
    message: str = response.json()["message"]
    assert f"{field}: " in message, message
    return message


def nodes(graph: Graph, node_id: str) -> int:
    [row] = graph.read("MATCH (n {id: $id}) RETURN count(n) AS n", {"id": node_id})
    count: int = row["n"]
    return count


def event(user: str, **fields: Any) -> dict[str, Any]:
    return {"events": [{"user_id": user, "item_id": "g0", "kind": "rate", **fields}]}


def item(item_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "title": "Gloss pen", **fields}


# -- values that answered 500 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": SURROGATE}, "body.query"),
        ({"liked_items": ["g0", f"g{SURROGATE}"]}, "body.liked_items.1"),
        ({"attributes": [SURROGATE]}, "body.attributes.0"),
        ({"k": float("nan")}, "body.k"),
        ({"k": float("inf")}, "body.k"),
        ({"k": True}, "body.k"),
        ({"k": 5.0}, "body.k"),
        ({"explain": 1}, "body.explain"),
        ({SURROGATE: 1}, "body"),  # pydantic cannot read the key: the body is what is named
    ],
)
def test_bad_context_requests_answer_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    refused(send(client, "/recommendations", body, key=None), field)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"user_id": f"input-bad-event{SURROGATE}"}, "body.events.0.user_id"),
        ({"review": f"great {SURROGATE}"}, "body.events.0.review"),
        ({"rating": float("nan")}, "body.events.0.rating"),
        ({"rating": float("inf")}, "body.events.0.rating"),
        ({"rating": False}, "body.events.0.rating"),
        ({"ts": 2**63}, "body.events.0.ts"),
        ({"ts": MAX_TS + 1}, "body.events.0.ts"),
        ({"ts": 1.6e9}, "body.events.0.ts"),
        ({"ts": True}, "body.events.0.ts"),
    ],
)
def test_bad_events_answer_422_naming_the_field_and_write_nothing(
    client: TestClient, graph: Graph, fields: dict[str, Any], field: str
) -> None:
    body = event("input-bad-event", **{"rating": 4, "review": "ok", **fields})
    refused(send(client, "/events", body), field)
    # (A lone surrogate cannot even be sent to Neo4j as a query parameter.)
    assert graph.read("MATCH (u:User) WHERE u.id STARTS WITH 'input-bad-event' RETURN u") == []


def test_a_review_whose_built_id_would_be_too_long_is_refused_and_the_longest_that_fits_kept(
    client: TestClient, graph: Graph
) -> None:
    # The server names a review "<user>:<item>:<ts>"; kg's ids hold 1024 characters.
    long_user = "u" * 1020
    message = refused(
        send(client, "/events", event(long_user, review="nice")), "body.events.0.review"
    )
    assert "shorten user_id or item_id" in message
    assert nodes(graph, long_user) == 0
    assert send(client, "/events", event(long_user)).status_code == 201  # no review: no review id

    ts = 1_600_000_000
    fitting = "v" * (1024 - len(review_id("", "g0", ts)))
    answer = send(client, "/events", event(fitting, ts=ts, review="nice", rating=5))
    assert answer.status_code == 201, answer.text  # and an int is a float (rating 5)
    assert nodes(graph, review_id(fitting, "g0", ts)) == 1
    # Without a ts the server's clock decides: the id is checked with the longest ts.
    refused(send(client, "/events", event(fitting, review="nice")), "body.events.0.review")


def test_the_last_timestamp_python_and_neo4j_both_hold_is_recorded(
    client: TestClient, graph: Graph
) -> None:
    answer = send(client, "/events", event("input-far-future", ts=MAX_TS))
    assert answer.status_code == 201, answer.text
    [row] = graph.read(
        "MATCH (:User {id: 'input-far-future'})-[r:INTERACTED]->() RETURN r.ts AS ts"
    )
    assert row["ts"] == MAX_TS


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": f"Gloss {SURROGATE}"}, "body.title"),
        ({"description": SURROGATE}, "body.description"),
        ({"brand": SURROGATE}, "body.brand"),
        ({"categories": ["Beauty", SURROGATE]}, "body.categories.1"),
        ({"features": [SURROGATE]}, "body.features.0"),
        ({"links": {"ALSO_BOUGHT": [SURROGATE]}}, "body.links.ALSO_BOUGHT.0"),
        # pydantic names the key by its 3 UTF-8 bytes, each as U+FFFD
        ({"links": {SURROGATE: ["g0"]}}, f"body.links.{chr(0xFFFD) * 3}.[key]"),
        ({"price": float("inf")}, "body.price"),
        ({"price": float("nan")}, "body.price"),
        ({"price": False}, "body.price"),
        ({"price": "3"}, "body.price"),
        # Each category's id is the case-folded path down to it: "ﬃ" folds to "ffi", so 20
        # parts of 60 make ids of up to 3,660 characters.
        ({"categories": ["\ufb03" * 60] * 20}, "body.categories"),
    ],
)
def test_bad_items_answer_422_naming_the_field_and_write_nothing(
    client: TestClient, graph: Graph, fields: dict[str, Any], field: str
) -> None:
    refused(send(client, "/items", item("input-bad-item", **fields)), field)
    assert nodes(graph, "input-bad-item") == 0


def test_an_id_with_a_lone_surrogate_is_refused(client: TestClient, graph: Graph) -> None:
    refused(send(client, "/items", item(f"surrogate{SURROGATE}")), "body.id")
    assert graph.read("MATCH (n:Item) WHERE n.id STARTS WITH 'surrogate' RETURN n") == []


def test_a_category_no_name_is_left_out_and_an_int_price_is_a_price(
    client: TestClient, graph: Graph
) -> None:
    # A 1,500-character part is no category name: the path is cut there, as ingestion does.
    body = item("input-long-category", categories=["Beauty", "b" * 1500], price=3)
    answer = send(client, "/items", body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["categories"] == ["beauty"]
    [row] = graph.read("MATCH (i:Item {id: 'input-long-category'}) RETURN i.price AS price")
    assert row["price"] == 3.0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/users/g-user0/recommendations", {"k": "NaN"}),
        ("/users/g-user0/recommendations", {"k": "1e400"}),
        ("/items/g0/similar", {"k": str(2**64)}),
        ("/search", {"q": "lipstick", "k": "inf"}),
    ],
)
def test_query_numbers_that_are_no_small_ints_answer_422(
    client: TestClient, path: str, params: dict[str, str]
) -> None:
    refused(client.get(path, params=params), "query.k")


# -- bodies that are not JSON ------------------------------------------------------------------


def test_malformed_json_says_where(client: TestClient) -> None:
    response = client.post(
        "/recommendations", content=b'{"k": ', headers={"Content-Type": "application/json"}
    )
    assert "not valid JSON: Expecting value at character 6" in refused(response, "body.6")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"query": "\xff"}', "the body is not UTF-8 text (invalid start byte at byte 11)"),
        (b"[" * 5000, "nested too deeply"),
        (b'{"k": 1' + b"0" * 5000 + b"}", f"over {sys.get_int_max_str_digits()} digits"),
    ],
)
def test_a_body_json_cannot_read_answers_400_saying_why(
    client: TestClient, content: bytes, says: str
) -> None:
    response = client.post(
        "/recommendations", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert says in response.json()["detail"]


def test_a_body_that_is_not_json_is_not_echoed(client: TestClient) -> None:
    # Without a JSON content type FastAPI validates the raw bytes, which cannot be rendered.
    response = client.post(
        "/recommendations", content=b"\xff\xfe", headers={"Content-Type": "text/plain"}
    )
    refused(response, "body")
    assert all("input" not in problem for problem in response.json()["detail"])


# -- the OpenAPI -------------------------------------------------------------------------------


def test_the_openapi_lists_every_status_code_with_its_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    caller = {"401", "403", "429"}  # every route but health checks: keys and rate limits
    body = {"400", "413", "422"}
    lookup = {"404", "422"}  # ids and parameters
    expected = {
        ("get", "/users/{user_id}/recommendations"): {"200", *caller, *lookup},
        ("post", "/recommendations"): {"200", *caller, *body, "404"},
        ("get", "/search"): {"200", *caller, *lookup},
        ("get", "/items/{item_id}/similar"): {"200", *caller, *lookup},
        ("post", "/items"): {"201", *caller, *body, "404", "503"},  # unknown link targets
        ("post", "/events"): {"201", *caller, *body, "404", "503"},
        ("get", "/explain"): {"200", *caller, *lookup},
        ("post", "/admin/reload"): {"200", *caller, "409", "422"},  # 409: could not load
        ("get", "/admin/users"): {"200", *caller, "422"},
        ("get", "/health/ready"): {"200", "503"},
        ("get", "/health/live"): {"200"},
    }
    listed = {(method, path): set(operation["responses"])
              for path, operations in spec["paths"].items()
              for method, operation in operations.items()}  # fmt: skip
    assert listed == expected
    for (method, path), codes in expected.items():
        for code in codes - {"200", "201"}:
            schema = spec["paths"][path][method]["responses"][code]["content"]["application/json"]
            model = ("Readiness" if path == "/health/ready"
                     else "ValidationErrorBody" if code == "422" else "ErrorBody")  # fmt: skip
            assert schema["schema"] == {"$ref": f"#/components/schemas/{model}"}, (path, code)
    # The read routes answer a Response they serialise themselves; their 200 is still the model.
    for method, path in [("get", "/users/{user_id}/recommendations"), ("post", "/recommendations"),
                         ("get", "/search")]:  # fmt: skip
        ok = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": "#/components/schemas/Recommendations"}, path
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's 422 shape is not what we answer
    assert set(schemas["ValidationErrorBody"]["required"]) == {"detail", "message"}
    assert "9999" in schemas["Event"]["properties"]["ts"]["description"]
