"""Neo4j itself SIGKILLed while `kgrec ingest` writes to it: the load stops with an error that
says what happened, and once Neo4j is started again a rerun leaves exactly the graph of an
uninterrupted load. Its own throwaway server, so killing it disturbs no other test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg import Graph, Settings, provision
from kg.read import counts
from kg.write import delete_all
from tests.helpers import kgrec, snapshot
from tests.test_ingest_resume import SAMPLE, head


@pytest.fixture(scope="module")
def own_server(neo4j_settings: Settings) -> Iterator[Settings]:
    small = neo4j_settings.model_copy(
        update={"neo4j_mode": "local", "neo4j_uri": None, "neo4j_heap": "512m",
                "neo4j_pagecache": "128m"}
    )  # fmt: skip
    with provision.throwaway_local(small, "neo4j-test-kill") as settings:
        yield settings


def test_a_load_whose_neo4j_was_killed_completes_on_rerun(
    own_server: Settings, tmp_path: Path
) -> None:
    info = provision.resolve_connection(own_server)
    env = {
        "KGREC_NEO4J_MODE": "external", "KGREC_NEO4J_URI": info.uri,
        "KGREC_NEO4J_PASSWORD": info.password, "KGREC_CACHE_DIR": str(tmp_path / "cache"),
    }  # fmt: skip
    meta = head(SAMPLE / "meta_Magazine_Subscriptions.json.gz", 600, tmp_path / "meta.json.gz")
    reviews = head(SAMPLE / "Magazine_Subscriptions_5.json.gz", 900, tmp_path / "r_5.json.gz")
    args = ("ingest", "amazon2018", "--reviews", str(reviews), "--meta", str(meta),
            "--batch-size", "20")  # fmt: skip
    server = provision.LocalNeo4j(own_server)

    with Graph.connect(own_server, wait_s=60) as graph:
        whole = kgrec(*args, env=env)
        assert whole.returncode == 0, whole.stderr
        expected, expected_counts = snapshot(graph), counts(graph)
        delete_all(graph)

        load = subprocess.Popen(
            [sys.executable, "-m", "kg.cli", *args], env={**os.environ, **env},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while counts(graph).total_nodes == 0:  # the first batch is in
            assert load.poll() is None, "the load ended before Neo4j could be killed"
            assert time.monotonic() < deadline, "nothing was written within 2 minutes"
            time.sleep(0.05)
        pid = server.running_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        _, stderr = load.communicate(timeout=300)

    assert load.returncode not in (0, -signal.SIGKILL), "the load must fail, not finish or hang"
    assert "Neo4j" in stderr and "Traceback" not in stderr, stderr[-2000:]

    server.start()  # Neo4j recovers its store from its transaction log
    with Graph.connect(own_server, wait_s=60) as graph:
        assert counts(graph) != expected_counts  # the kill did cut the load short
        rerun = kgrec(*args, env=env)
        assert rerun.returncode == 0, rerun.stderr
        assert counts(graph) == expected_counts
        assert snapshot(graph) == expected
