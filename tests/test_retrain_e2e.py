"""Retraining on the real stack, as a shop runs it: `kgrec ingest table` → `kgrec train` (v1) →
`kgrec serve` → a new item and a new customer's events through the API → a `kgrec retrain`
killed with SIGKILL (v1 serves on) → the next retrain cleans up and promotes v2, which the API
serves and which knows what arrived through the API → `kgrec models rollback` and the API
serves v1 again. A client loop asks for recommendations all along: no request fails. (A
degraded run's rejection: tests/test_retrain.py.)"""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gnn.artifacts import IDS
from gnn.registry import Registry
from gnn.retrain import LOCK
from kg.provision import free_port
from tests.api_shop import KEY, LIPS, TOOLS
from tests.helpers import RecommendationLoop, kgrec

WRITE = {"X-API-Key": KEY}


def write_tables(folder: Path) -> list[str]:
    """The small shop (tests/api_shop.py) as the CSV tables a shop exports; the ingest args."""
    items, interactions, links = [], [], []
    sides = {"g": (LIPS, "GlowCo", "Beauty > Lips"), "t": (TOOLS, "ToolCo", "Tools > Hand tools")}
    for prefix, (titles, brand, category) in sides.items():
        ids = [f"{prefix}{n}" for n in range(len(titles))]
        items += [
            {
                "item_id": i,
                "title": t,
                "description": f"{t} for everyday use.",
                "brand": brand,
                "category": category,
            }
            for i, t in zip(ids, titles, strict=True)
        ]
        links += [
            {"source_id": a, "target_id": b, "type": "ALSO_BOUGHT"}
            for a, b in itertools.pairwise(ids)
        ]
        interactions += [
            {
                "user_id": f"{prefix}-user{u}",
                "item_id": ids[(u + step) % len(ids)],
                "kind": "purchase",
                "ts": 1_600_000_000 + step,
            }
            for u in range(12)
            for step in range(3)
        ]
    args = ["ingest", "table"]
    for name, rows in (("items", items), ("interactions", interactions), ("links", links)):
        path = folder / f"{name}.csv"
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        args += [f"--{name}", str(path)]
    return args


@pytest.fixture()
def api(
    server_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[httpx.Client, Callable[..., subprocess.CompletedProcess[str]], Path]]:
    """The shop ingested and v1 trained by the CLI, `kgrec serve` over it on a free port; a
    client, a runner for `kgrec` commands on the same models, and the models directory."""
    models = tmp_path / "models"
    env = {
        **server_env,
        "KGREC_MODELS_DIR": str(models),
        "KGREC_API_KEYS": json.dumps([KEY]),
        "KGREC_API_MODEL_WATCH_S": "0.2",
        # A shared CI machine under a retrain answers slowly: this test is not about timeouts.
        "KGREC_API_GRAPH_TIMEOUT_S": "10",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return kgrec(*args, env=env)

    ingested = run(*write_tables(tmp_path), "--no-extract")
    assert ingested.returncode == 0, ingested.stderr
    trained = run(
        "train",
        "--epochs",
        "30",
        "--patience",
        "30",
        "--dim",
        "16",
        "--batch-size",
        "16",
        "--no-baselines",
    )
    assert trained.returncode == 0, trained.stderr
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "kg.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "kgrec serve did not become ready"
            try:
                if client.get("/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield client, run, models
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=30)
        log.close()


def kill_mid_run(args: list[str], env: dict[str, str], models: Path) -> bool:
    """Start `kgrec retrain` and SIGKILL it as soon as it starts saving a model (a `.partial`
    directory appears) or, if that moment is missed, once it has held the lock for 5 s.
    Whether it died mid-save."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kg.cli", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock, held_since, saving = models / LOCK, None, False
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, "the retrain ended before it could be killed"
            assert time.monotonic() < deadline, "the retrain never took its lock"
            if any(models.glob(".*.partial")):
                saving = True
                break
            if (
                held_since is None
                and lock.exists()
                and lock.read_text().strip() == str(process.pid)
            ):
                held_since = time.monotonic()
            if held_since is not None and time.monotonic() - held_since > 5:
                break
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return saving


def test_a_shop_retrains_while_serving_and_rolls_back_without_a_failed_request(
    api: tuple[httpx.Client, Callable[..., subprocess.CompletedProcess[str]], Path],
    server_env: dict[str, str],
) -> None:
    client, run, models = api
    registry = Registry(models)
    v1 = registry.serving()
    assert v1 is not None
    with RecommendationLoop(client, ["/users/g-user1/recommendations"]) as loop:
        loop.wait_for(v1)
        # What arrives through the API: a new item, a new customer buying it and two others.
        item = {
            "id": "g-new",
            "title": "Glossy lip lacquer",
            "brand": "GlowCo",
            "categories": ["Beauty > Lips"],
            "description": "A glossy lip lacquer.",
        }
        assert client.post("/items", json=item, headers=WRITE).status_code == 201
        events = [
            {"user_id": "newcomer", "item_id": i, "kind": "purchase", "ts": 1_700_000_000 + n}
            for n, i in enumerate(["g0", "g1", "g-new"])
        ]
        events.append(
            {"user_id": "g-user0", "item_id": "g-new", "kind": "purchase", "ts": 1_700_000_000}
        )
        recorded = client.post("/events", json={"events": events}, headers=WRITE)
        assert recorded.status_code == 201, recorded.text

        env = {**server_env, "KGREC_MODELS_DIR": str(models)}
        saving = kill_mid_run(["retrain", "--tolerance", "0.5"], env, models)
        assert registry.serving() == v1 and loop.answers[-1][1] == v1

        retrained = run("retrain", "--tolerance", "0.5")
        assert retrained.returncode == 0, retrained.stdout + retrained.stderr
        output = " ".join(retrained.stdout.split())
        assert ("Removed what a killed run left" in output) == saving
        assert not list(models.glob(".*.partial"))
        v2 = registry.serving()
        assert v2 not in (None, v1) and f"promoted {v2}" in output
        loop.wait_for(v2)
        # v2 learned the API's arrivals: they are in its id maps, not on the cold path.
        ids = json.loads((models / str(v2) / IDS).read_text())
        assert "newcomer" in ids["user"] and "g-new" in ids["item"]
        answer = client.get("/users/newcomer/recommendations", params={"k": 3}).json()
        assert answer["model"] == v2 and answer["strategy"] == "personalised"

        rolled = run("models", "rollback", "--reason", "v2 misbehaves")
        assert rolled.returncode == 0, rolled.stdout + rolled.stderr
        assert registry.serving() == v1
        loop.wait_for(v1)
    assert loop.failed == []
    versions = [model for _, model in loop.answers]
    assert versions[0] == v1 and v2 in versions and versions[-1] == v1
    assert len(versions) > 50  # the loop ran through every swap
