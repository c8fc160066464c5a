"""Helpers the test modules share: running `kgrec` as a user does, and comparing graphs."""

from __future__ import annotations

import os
import subprocess
import sys

from kg import Graph


def kgrec(
    *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`kgrec ...` in a fresh process, with `env` on top of this one's environment."""
    return subprocess.run(
        [sys.executable, "-m", "kg.cli", *args],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200", **env},
        timeout=timeout, check=False,
    )  # fmt: skip


def snapshot(graph: Graph) -> list[str]:
    """Every node and relationship with all its properties, in a stable order."""
    nodes = graph.read("MATCH (n) RETURN labels(n) AS l, properties(n) AS p")
    rels = graph.read(
        "MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, properties(r) AS p, b.id AS b"
    )
    return sorted(map(str, nodes + rels))
