"""`kgrec neo4j start|stop|status|browser` as a user runs them: real processes, real ports."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg import Graph, Settings, provision
from kg.provision import free_port
from kg.provision.local import pid_alive
from kg.read import counts
from kg.schema import describe_schema
from kg.write import GraphWriter
from tests.graph_fixtures import write_shop
from tests.helpers import kgrec

LOCAL_ONLY = pytest.mark.skipif(
    provision.resolve_mode(Settings()) != "local", reason="exercises the no-Docker local server"
)


@pytest.fixture()
def local_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings for a private local server: its own home and free ports, shared jars."""
    env = {
        "KGREC_NEO4J_MODE": "local",
        "KGREC_NEO4J_HOME": str(tmp_path / "neo4j"),
        "KGREC_NEO4J_BOLT_PORT": str(free_port()),
        "KGREC_NEO4J_HTTP_PORT": str(free_port()),
        "KGREC_NEO4J_HEAP": "512m",
        "KGREC_NEO4J_PAGECACHE": "64m",
    }
    yield env
    kgrec("neo4j", "stop", env=env)  # never leave a server behind, whatever failed


def test_help_says_what_to_do() -> None:
    top = kgrec("--help", env={})
    assert top.returncode == 0 and "neo4j" in top.stdout and "KGREC_" in top.stdout
    sub = kgrec("neo4j", "--help", env={})
    assert sub.returncode == 0
    for word in ("start", "stop", "status", "browser", "KGREC_NEO4J_URI", "Maven"):
        assert word in sub.stdout


def test_port_taken_is_a_clear_error(local_env: dict[str, str]) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = kgrec("neo4j", "start", env={**local_env, "KGREC_NEO4J_BOLT_PORT": str(port)})
    assert result.returncode == 1
    assert f"Port {port}" in result.stderr and "KGREC_NEO4J_BOLT_PORT" in result.stderr
    assert not (Path(local_env["KGREC_NEO4J_HOME"]) / "run" / "neo4j.pid").exists()


def test_invalid_setting_is_named() -> None:
    result = kgrec("neo4j", "status", env={"KGREC_NEO4J_HTTP_PORT": "not-a-port"})
    assert result.returncode == 2
    assert "KGREC_NEO4J_HTTP_PORT" in result.stderr and "Traceback" not in result.stderr


def test_external_mode_without_credentials_says_what_is_missing() -> None:
    env = {"KGREC_NEO4J_MODE": "external", "KGREC_NEO4J_URI": ""}
    result = kgrec("neo4j", "browser", env=env)
    assert result.returncode == 1 and "KGREC_NEO4J_URI and KGREC_NEO4J_PASSWORD" in result.stderr


def test_external_server_is_never_started_or_stopped() -> None:
    env = {"KGREC_NEO4J_URI": f"bolt://127.0.0.1:{free_port()}", "KGREC_NEO4J_PASSWORD": "x"}
    status = kgrec("neo4j", "status", env=env)
    assert status.returncode == 3 and "external" in status.stdout
    stop = kgrec("neo4j", "stop", env=env)
    assert stop.returncode == 0 and "does not stop it" in stop.stdout


@LOCAL_ONLY
@pytest.mark.slow
def test_start_status_stop_lifecycle(local_env: dict[str, str]) -> None:
    home = Path(local_env["KGREC_NEO4J_HOME"])
    bolt = local_env["KGREC_NEO4J_BOLT_PORT"]

    before = kgrec("neo4j", "status", env=local_env)
    assert before.returncode == 3 and "Start it with `kgrec neo4j start`" in before.stdout

    started = kgrec("neo4j", "start", env=local_env)
    assert started.returncode == 0, started.stderr
    assert "Neo4j started." in started.stdout and f"bolt://127.0.0.1:{bolt}" in started.stdout
    pid = int((home / "run" / "neo4j.pid").read_text())
    assert pid_alive(pid)
    assert stat.S_IMODE((home / "password").stat().st_mode) == 0o600

    again = kgrec("neo4j", "start", env=local_env)
    assert again.returncode == 0 and "already running" in again.stdout
    assert int((home / "run" / "neo4j.pid").read_text()) == pid

    status = kgrec("neo4j", "status", env=local_env)
    assert status.returncode == 0 and "local" in status.stdout and f"pid {pid}" in status.stdout

    browser = kgrec("neo4j", "browser", env=local_env)
    password = (home / "password").read_text().strip()
    assert "/browser/" in browser.stdout and password in browser.stdout
    http = local_env["KGREC_NEO4J_HTTP_PORT"]
    assert f":guide http://127.0.0.1:{http}/browser/kgrec/guide.html" in browser.stdout
    assert f":style http://127.0.0.1:{http}/browser/kgrec/style.grass" in browser.stdout

    stopped = kgrec("neo4j", "stop", env=local_env)
    assert stopped.returncode == 0 and "Neo4j stopped." in stopped.stdout
    assert not pid_alive(pid)
    assert "Stopped." in (home / "logs" / "console.log").read_text()  # a clean shutdown

    assert "was not running" in kgrec("neo4j", "stop", env=local_env).stdout
    assert kgrec("neo4j", "status", env=local_env).returncode == 3


@LOCAL_ONLY
def test_a_stale_pid_file_is_not_mistaken_for_a_server(local_env: dict[str, str]) -> None:
    run = Path(local_env["KGREC_NEO4J_HOME"]) / "run"
    run.mkdir(parents=True)
    (run / "neo4j.pid").write_text(f"{os.getpid()}\n")  # alive, but not a Neo4j of this home
    status = kgrec("neo4j", "status", env=local_env)
    assert status.returncode == 3
    assert not (run / "neo4j.pid").exists()


@LOCAL_ONLY
def test_a_server_that_cannot_start_shows_its_log(local_env: dict[str, str]) -> None:
    result = kgrec("neo4j", "start", env={**local_env, "KGREC_NEO4J_HEAP": "lots"})
    assert result.returncode == 1
    assert "exited with code" in result.stderr and "console log" in result.stderr
    assert "Invalid" in result.stderr  # the JVM's own complaint, from the log tail
    assert not (Path(local_env["KGREC_NEO4J_HOME"]) / "run" / "neo4j.pid").exists()


def test_reset_asks_then_empties_the_database(
    graph: Graph, server_env: dict[str, str], neo4j_settings: Settings
) -> None:
    """`kgrec neo4j reset`: nothing happens unless confirmed; then the graph is empty and the
    schema is there again (constraints and indexes a load needs)."""
    write_shop(GraphWriter(graph))
    graph.run("CREATE INDEX left_over IF NOT EXISTS FOR (n:Item) ON (n.price)")
    refused = kgrec("neo4j", "reset", env=server_env, stdin="n\n")
    assert refused.returncode == 1 and "nothing deleted" in refused.stderr
    assert counts(graph).total_nodes > 0

    done = kgrec("neo4j", "reset", "--yes", env=server_env)
    assert done.returncode == 0, done.stderr
    assert "Emptied database 'neo4j'" in done.stdout and "nodes and" in done.stdout
    assert graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 0
    schema = describe_schema(graph)
    assert ("index", "left_over") not in schema
    assert ("constraint", "item_id") in schema and ("index", "item_search") in schema


def test_reset_without_a_server_says_to_start_one(tmp_path: Path) -> None:
    env = {"KGREC_NEO4J_MODE": "external", "KGREC_NEO4J_URI": f"bolt://127.0.0.1:{free_port()}",
           "KGREC_NEO4J_PASSWORD": "not-used-1"}  # fmt: skip
    outcome = kgrec("neo4j", "reset", "--yes", env=env)
    assert outcome.returncode == 1 and "`kgrec neo4j start` first" in outcome.stderr


def test_the_demo_points_at_the_api_the_settings_name() -> None:
    """`make demo` ends with the API's URLs from the settings, not a fixed port."""
    wildcard = "0.0.0.0"  # noqa: S104 (a setting read, nothing bound)
    assert Settings(api_host=wildcard, api_port=9123).api_url == "http://127.0.0.1:9123"
    assert Settings(api_host="::", api_port=8080).api_url == "http://[::1]:8080"
    assert Settings(api_host="shop.local").api_url == "http://shop.local:8000"
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    demo = makefile.split("\ndemo:")[1].split("\n\n")[0]
    assert "get_settings().api_url" in demo and "8000" not in demo
