"""Neo4j frozen (SIGSTOP) and resumed under kg's Graph and under the API: no call waits longer
than its query timeout, failures are kg's errors (never a 500), and calls are fast again once
the server answers. On a server of this module's own: freezing the suite's shared one would
stall the other tests."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.service import GraphDownError, GraphGuard
from kg import Graph, GraphQueryError, GraphTimeoutError, GraphUnavailableError, Settings, provision
from kg.catalogue import read_catalogue
from kg.connection import PLANNING_S
from kg.provision.local import LocalNeo4j
from tests.api_shop import KEY, trained_shop

pytestmark = pytest.mark.skipif(
    provision.resolve_mode(Settings()) != "local",
    reason="freezes the Java process of a local server, which only the local mode runs",
)

TIMEOUT_S = 0.3
# What a call may take beyond its timeout: the client's margin, a thread switch, and on this
# shared machine a busy CPU.
SLACK_S = 0.1
# A read that a server which answers (even after a freeze) runs well within.
QUICK_S = 0.1


@pytest.fixture(scope="module")
def own_server() -> Iterator[Settings]:
    small = Settings().model_copy(update={"neo4j_heap": "512m", "neo4j_pagecache": "64m"})
    with provision.throwaway_local(small, "neo4j-test") as settings:
        with Graph.connect(settings, wait_s=30) as graph:
            graph.read("RETURN 1 AS one")  # a fresh server's first query takes a while
        yield settings


@contextmanager
def frozen(settings: Settings) -> Iterator[None]:
    """The server's Java process stopped (as a hung or swapped-out server is) until the end."""
    pid = LocalNeo4j(settings).running_pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def timed_read(graph: Graph) -> float:
    started = time.monotonic()
    assert graph.read("RETURN 1 AS one") == [{"one": 1}]
    return time.monotonic() - started


def assert_fast_again(graph: Graph) -> None:
    """Within 5 s of a resumed server, reads are quick, and stay so."""
    deadline = time.monotonic() + 5
    while True:
        try:
            if timed_read(graph) < QUICK_S:
                break
        except (GraphTimeoutError, GraphUnavailableError):
            pass
        assert time.monotonic() < deadline, "reads stayed slow after the server resumed"
    took = sorted(timed_read(graph) for _ in range(20))
    assert took[10] < QUICK_S, took


def test_reads_on_a_frozen_server_end_in_time_and_are_fast_once_it_resumes(
    own_server: Settings,
) -> None:
    with Graph.connect(own_server, wait_s=30, query_timeout_s=TIMEOUT_S) as graph:
        timed_read(graph)  # a pooled connection, as a busy service has
        with frozen(own_server):
            # On the pooled connection, then after the liveness check's idle time (the pool
            # checks, and opens new connections, that hang too), and a write.
            for pause in (0.0, 1.2, 0.0):
                time.sleep(pause)
                started = time.monotonic()
                with pytest.raises((GraphTimeoutError, GraphUnavailableError)):
                    graph.read("RETURN 1 AS one")
                assert time.monotonic() - started < TIMEOUT_S + SLACK_S
            started = time.monotonic()
            with pytest.raises((GraphTimeoutError, GraphUnavailableError)):
                graph.write_transaction(lambda tx: tx.run("CREATE (:Probe)").consume())
            assert time.monotonic() - started < TIMEOUT_S + SLACK_S
        assert_fast_again(graph)


def test_a_query_the_server_refuses_is_a_query_error_not_an_outage(own_server: Settings) -> None:
    # A generous timeout: the parser's first error can take a while on a busy machine.
    with Graph.connect(own_server, wait_s=30, query_timeout_s=10) as graph:
        with pytest.raises(GraphQueryError, match="refused a query"):
            graph.read("RETURN nonsense(")
        with pytest.raises(GraphQueryError, match="refused a query"):
            graph.write_transaction(lambda tx: tx.run("CREATE (:Probe {id: $missing})").consume())
        assert graph.read("RETURN 1 AS one") == [{"one": 1}]


def test_a_query_past_the_servers_transaction_memory_says_to_give_it_more(
    own_server: Settings,
) -> None:
    """The driver takes running out of transaction memory for a transient outage; it is the
    query's size (the same query needs as much again), and the server still answers."""
    quick = own_server.model_copy(update={"max_retry_time_s": 1.0})
    with Graph.connect(quick, wait_s=30, query_timeout_s=60) as graph:
        with pytest.raises(
            GraphQueryError, match=r"ran out of transaction memory.*KGREC_NEO4J_HEAP"
        ):
            graph.read_collected("UNWIND range(1, 100000000) AS n RETURN collect(n)")
        assert graph.read("RETURN 1 AS one") == [{"one": 1}]


def test_the_server_ends_a_query_that_runs_past_its_timeout(own_server: Settings) -> None:
    endless = "UNWIND range(1, 10000000000) AS n RETURN count(n) AS kgrec_endless"
    running = (
        "SHOW TRANSACTIONS YIELD currentQuery WHERE currentQuery CONTAINS 'kgrec_endless' "
        "AND NOT currentQuery STARTS WITH 'SHOW' RETURN count(*) AS n"
    )
    with (
        Graph.connect(own_server, wait_s=30, query_timeout_s=TIMEOUT_S) as graph,
        Graph.connect(own_server, wait_s=30) as observer,
    ):
        # Its first run here is run again with time for Neo4j to plan it; later ones are not.
        bound_s = TIMEOUT_S + SLACK_S
        for allowed_s in (2 * bound_s + PLANNING_S, bound_s):
            started = time.monotonic()
            with pytest.raises(GraphTimeoutError):
                graph.read(endless)
            assert time.monotonic() - started < allowed_s
        # Not left running on the server (which checks timeouts every couple of seconds).
        deadline = time.monotonic() + 10
        while observer.read(running)[0]["n"]:
            assert time.monotonic() < deadline, "the server kept running the timed-out query"
            time.sleep(0.25)


def test_the_api_answers_in_time_while_neo4j_is_frozen(
    own_server: Settings, tmp_path: Path
) -> None:
    shop = trained_shop(own_server, tmp_path / "models").model_copy(
        update={"api_graph_timeout_s": TIMEOUT_S}
    )
    path = "/users/t-user1/recommendations"
    with TestClient(create_app(shop)) as client:
        # On a fresh server: the explanation query's first run, which Neo4j plans, gets longer.
        assert client.get(path, params={"k": 3}).json()["items"][0]["explanations"]
        with frozen(own_server):
            started = time.monotonic()
            body = client.get(path, params={"k": 3}).json()
            assert time.monotonic() - started < TIMEOUT_S + SLACK_S
            # Explanations come from the API's projection of the graph, with no round trip.
            assert body["items"][0]["explanations"] and not body["warnings"]
            event = {"user_id": "t-user1", "item_id": "t7", "kind": "view"}
            refused = client.post("/events", json={"events": [event]}, headers={"X-API-Key": KEY})
            assert refused.status_code == 503
            # The API's first call to the frozen server: it timed out, so it may land yet.
            assert "did not answer in time" in refused.json()["detail"]
            started = time.monotonic()
            assert client.get("/health/ready").status_code == 503
            assert time.monotonic() - started < TIMEOUT_S + SLACK_S
        deadline = time.monotonic() + 5
        while not client.get(path, params={"k": 3}).json()["items"][0]["explanations"]:
            assert time.monotonic() < deadline, "still no explanations 5 s after Neo4j resumed"
            time.sleep(0.1)
        assert client.get("/health/ready").status_code == 200


def test_a_reload_while_neo4j_is_frozen_is_refused_and_the_serving_model_keeps_its_catalogue(
    own_server: Settings, tmp_path: Path
) -> None:
    shop = trained_shop(own_server, tmp_path / "models").model_copy(
        update={"api_graph_timeout_s": TIMEOUT_S}
    )
    write = {"X-API-Key": KEY}
    newcomer = "/users/frozen-newcomer/recommendations"
    with TestClient(create_app(shop)) as client:
        event = {"user_id": "frozen-newcomer", "item_id": "t3", "kind": "purchase", "ts": 1}
        assert client.post("/events", json={"events": [event]}, headers=write).status_code == 201
        with frozen(own_server):
            # A successor that cannot read the catalogue would know neither the newcomer nor
            # any title: the reload is refused and says why.
            refused = client.post("/admin/reload", headers=write)
            assert refused.status_code == 409
            assert "Neo4j did not answer while it read the catalogue" in refused.json()["detail"]
            answer = client.get(newcomer, params={"k": 3, "explain": False}).json()
            assert answer["strategy"] == "personalised" and answer["items"][0]["title"]
        deadline = time.monotonic() + 10  # a resumed server may take a moment to shake hands
        while (reload := client.post("/admin/reload", headers=write)).status_code != 200:
            assert time.monotonic() < deadline, reload.text
            time.sleep(0.2)
        assert client.get(newcomer, params={"k": 3}).json()["strategy"] == "personalised"


def test_a_catalogue_read_on_a_frozen_server_ends_at_the_load_timeout(own_server: Settings) -> None:
    with Graph.connect(own_server, wait_s=30) as graph:
        guard = GraphGuard(graph.with_timeout(TIMEOUT_S), retry_s=5.0, load_timeout_s=1.0)
        assert guard.load(read_catalogue).titles is not None  # a load is not held to TIMEOUT_S
        with frozen(own_server):
            started = time.monotonic()
            with pytest.raises(GraphDownError, match="did not answer in time"):
                guard.load(read_catalogue)
            assert 1.0 <= time.monotonic() - started < 1.0 + SLACK_S
