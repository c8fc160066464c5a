"""Helpers the test modules share: running `kgrec` as a user does, and comparing graphs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import httpx

from kg import Graph
from kg.version import VERSION_LABEL


def kgrec(
    *args: str, env: dict[str, str], timeout: float = 300, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`kgrec ...` in a fresh process, with `env` on top of this one's environment and `stdin`
    as its input."""
    return subprocess.run(
        [sys.executable, "-m", "kg.cli", *args],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200", **env},
        input=stdin, timeout=timeout, check=False,
    )  # fmt: skip


def snapshot(graph: Graph) -> list[str]:
    """Every node and relationship with all its properties, in a stable order; the version
    stamp, which counts writes rather than holding data, left out."""
    nodes = graph.read(
        f"MATCH (n) WHERE NOT n:{VERSION_LABEL} RETURN labels(n) AS l, properties(n) AS p"
    )
    rels = graph.read(
        "MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, properties(r) AS p, b.id AS b"
    )
    return sorted(map(str, nodes + rels))


class RecommendationLoop:
    """A client asking for recommendations from a thread, one path after another, until the
    `with` ends: each answer's status and the model version that scored it (or what went
    wrong), in order. Through a model swap, every status must be 200."""

    def __init__(self, client: httpx.Client, paths: list[str], pause_s: float = 0.02) -> None:
        self.client = client
        self.paths = paths
        self.pause_s = pause_s
        self.answers: list[tuple[int, str]] = []
        self.running = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self) -> None:
        turn = 0
        while self.running.is_set():
            path = self.paths[turn % len(self.paths)]
            turn += 1
            try:
                response = self.client.get(path, params={"k": 3})
                said = response.json()["model"] if response.is_success else response.text[:200]
                self.answers.append((response.status_code, said))
            except httpx.HTTPError as exc:  # a failed request, however it fails
                self.answers.append((0, repr(exc)))
            time.sleep(self.pause_s)

    def __enter__(self) -> RecommendationLoop:
        self.running.set()
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.running.clear()
        self.thread.join(timeout=60)

    @property
    def failed(self) -> list[tuple[int, str]]:
        return [answer for answer in self.answers if answer[0] != 200]

    def wait_for(self, version: str, timeout_s: float = 120) -> None:
        """Until an answer comes from `version`; TimeoutError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while not self.answers or self.answers[-1][1] != version:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API did not serve {version}: {self.answers[-3:]}")
            time.sleep(0.1)
