"""`kgrec ingest` killed with SIGKILL half-way, then run again: the graph ends exactly as an
uninterrupted run leaves it. Real process, real spaCy extraction, real Neo4j."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

from kg import Graph
from kg.read import counts
from kg.settings import PROJECT_ROOT
from kg.write import delete_all
from tests.helpers import kgrec, snapshot

SAMPLE = PROJECT_ROOT / "data" / "sample"


def head(source: Path, lines: int, target: Path) -> Path:
    with gzip.open(source, "rb") as whole:
        target.write_bytes(gzip.compress(b"".join(islice(whole, lines))))
    return target


def test_a_killed_load_completes_on_rerun(
    graph: Graph, server_env: dict[str, str], tmp_path: Path
) -> None:
    meta = head(SAMPLE / "meta_Magazine_Subscriptions.json.gz", 900, tmp_path / "meta.json.gz")
    reviews = head(SAMPLE / "Magazine_Subscriptions_5.json.gz", 900, tmp_path / "r_5.json.gz")
    args = ("ingest", "amazon2018", "--reviews", str(reviews), "--meta", str(meta),
            "--batch-size", "50")  # fmt: skip

    whole = kgrec(*args, env={**server_env, "KGREC_CACHE_DIR": str(tmp_path / "cache-whole")})
    assert whole.returncode == 0, whole.stderr
    expected, expected_counts = snapshot(graph), counts(graph)
    assert expected_counts.relationships["HAS_ATTRIBUTE"] > 0

    delete_all(graph)
    env = {**os.environ, **server_env, "KGREC_CACHE_DIR": str(tmp_path / "cache-killed")}
    run = subprocess.Popen(
        [sys.executable, "-m", "kg.cli", *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while counts(graph).total_nodes == 0:  # wait for the first committed batch
            assert run.poll() is None, "the load ended before it could be killed"
            assert time.monotonic() < deadline, "nothing was written within 2 minutes"
            time.sleep(0.05)
        run.send_signal(signal.SIGKILL)
    finally:
        run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL  # killed mid-run, not finished
    assert counts(graph) != expected_counts

    rerun = kgrec(*args, env={**server_env, "KGREC_CACHE_DIR": env["KGREC_CACHE_DIR"]})
    assert rerun.returncode == 0, rerun.stderr
    assert counts(graph) == expected_counts
    assert snapshot(graph) == expected
