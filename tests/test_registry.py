"""The model registry on real files and the small shop's real model: cards and checksums, a
damaged artefact refused at load, the SERVING pointer (atomic, locked, followed by
`resolve_model_dir`) and registry.jsonl, `kgrec models ...` and `kgrec train`'s promotion, and
a running API that follows a promotion and a rollback without failing a request."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from gnn import cli, models_cli
from gnn.artifacts import (
    CARD,
    FINGERPRINT,
    SERVING,
    DamagedModelError,
    resolve_model_dir,
    save_model,
)
from gnn.dataset import RecDataset, build_dataset
from gnn.infer import LoadedModel
from gnn.registry import LOG, Registry, RegistryError
from gnn.text import TextEncoder
from gnn.train import TrainConfig, TrainResult, train
from kg import Graph, Settings
from kg.export import export_graph
from tests.api_shop import KEY, SMALL


@dataclass(frozen=True)
class Fit:
    """The shop's data and a model trained on it, to save as many versions as a test needs."""

    dataset: RecDataset
    result: TrainResult
    config: TrainConfig

    def save(self, models_dir: Path, parent: str | None = None) -> str:
        model = self.result.model
        path = save_model(model, self.dataset, self.config.to_dict(), self.result.test,
                          models_dir, parent=parent)  # fmt: skip
        return path.name


@pytest.fixture(scope="module")
def fit(shop: Settings) -> Fit:
    config = replace(SMALL, max_epochs=3)
    with Graph.connect(shop, wait_s=30) as graph, TextEncoder(shop) as text:
        dataset = build_dataset(export_graph(graph), text.encode)
    return Fit(dataset, train(dataset, config), config)


@pytest.fixture()
def models(tmp_path: Path) -> Path:
    return tmp_path / "models"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal wide enough for a table row per line."""
    monkeypatch.setattr(models_cli.console, "width", 200)
    monkeypatch.setattr(models_cli.err_console, "width", 200)


def run(*args: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(models_cli.models_app, list(args))
    return outcome.exit_code, outcome.output


def rows(table: str) -> dict[str, list[str]]:
    """A rich table's body rows by their first cell."""
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in table.splitlines()]
    return {row[0]: row[1:] for row in cells if row}


# -- cards and checksums ----------------------------------------------------------------------


def test_a_saved_model_has_a_card_with_its_data_metrics_parent_and_checksums(
    fit: Fit, models: Path
) -> None:
    first = fit.save(models)
    second = fit.save(models, parent=first)
    card = json.loads((models / second / CARD).read_text())
    assert card["version"] == second
    assert card["parent"] == first
    assert json.loads((models / first / CARD).read_text())["parent"] is None
    assert card["created"].startswith(second[:4])
    assert card["data"] == json.loads((models / second / FINGERPRINT).read_text())
    assert card["data"]["interactions"]["train"] > 0
    assert card["metrics"] == fit.result.test
    others = {path.name for path in (models / second).iterdir()} - {CARD}
    assert set(card["files"]) == others
    for name, file in card["files"].items():
        assert file == {"sha256": sha256(models / second / name),
                        "bytes": (models / second / name).stat().st_size}  # fmt: skip


def test_kgrec_trains_reports_are_in_the_card(fit: Fit, models: Path) -> None:
    directory = cli.save_results(fit.result, fit.dataset, fit.config, models)
    card = json.loads((directory / CARD).read_text())
    assert {"results.md", "curves.png", "weights.pt", "metrics.json"} <= set(card["files"])
    assert card["metrics"] == fit.result.test  # the summary's "ours"


@pytest.mark.parametrize("damage", ["flipped byte", "truncated"])
def test_a_damaged_artefact_is_refused_at_load_and_at_promotion(
    fit: Fit, models: Path, damage: str
) -> None:
    version = fit.save(models)
    embeddings = models / version / "embeddings.pt"
    data = bytearray(embeddings.read_bytes())
    if damage == "flipped byte":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[: len(data) - 100]
    embeddings.write_bytes(bytes(data))
    with pytest.raises(DamagedModelError) as refused:
        LoadedModel.load(models)
    message = str(refused.value)
    assert f"model {version} is damaged: embeddings.pt" in message
    assert ("sha256" if damage == "flipped byte" else "truncated") in message
    assert "`kgrec models rollback`" in message and "`kgrec train`" in message
    with pytest.raises(DamagedModelError, match=r"embeddings\.pt"):
        Registry(models).promote(version, "test")
    assert Registry(models).serving() is None


def test_a_model_saved_before_cards_still_loads_and_says_so(
    fit: Fit, models: Path, caplog: pytest.LogCaptureFixture
) -> None:
    version = fit.save(models)
    (models / version / CARD).unlink()
    with caplog.at_level(logging.INFO, logger="kgrec.gnn"):
        loaded = LoadedModel.load(models)
    assert loaded.path.name == version
    assert f"model {version} has no card.json" in caplog.text


# -- the pointer and the log ------------------------------------------------------------------


def test_promote_and_rollback_move_the_pointer_and_log_why(fit: Fit, models: Path) -> None:
    v1 = fit.save(models)
    v2 = fit.save(models, parent=v1)
    v3 = fit.save(models, parent=v2)
    registry = Registry(models)
    assert registry.versions() == [v1, v2, v3]
    assert registry.serving() is None
    assert resolve_model_dir(models).name == v3  # no pointer: the newest, as before

    assert registry.promote(v1, "first") is not None
    assert resolve_model_dir(models).name == v1
    assert registry.promote(v1, "again") is None  # serves already: nothing to log
    registry.promote(v2, "better")
    registry.promote(v3, "better still")
    assert registry.rollback("v3 is slow").version == v2
    assert registry.rollback().version == v1
    assert LoadedModel.load(models).path.name == v1
    with pytest.raises(RegistryError, match=f"no version served before {v1}"):
        registry.rollback()

    registry.reject(v3, "NDCG@10 fell by 3%")
    with pytest.raises(RegistryError, match="is serving"):
        registry.reject(v1, "no")
    lines = [json.loads(line) for line in (models / LOG).read_text().splitlines()]
    assert [(d["action"], d["version"], d["previous"], d["reason"]) for d in lines] == [
        ("promote", v1, None, "first"),
        ("promote", v2, v1, "better"),
        ("promote", v3, v2, "better still"),
        ("rollback", v2, v3, "v3 is slow"),
        ("rollback", v1, v2, "rolled back by hand"),
        ("reject", v3, None, "NDCG@10 fell by 3%"),
    ]
    # Promoted again after rollbacks: one rollback goes back to what served just before.
    registry.promote(v3, "fixed")
    assert registry.rollback().version == v1

    with pytest.raises(RegistryError) as unknown:
        registry.promote(v2[:-1] + "x", "typo")
    assert f"the closest: {v2}" in str(unknown.value)
    assert "kgrec models list" in str(unknown.value)


def test_a_crash_between_the_temp_pointer_and_the_swap_leaves_the_old_pointer(
    fit: Fit, models: Path
) -> None:
    v1 = fit.save(models)
    v2 = fit.save(models)
    registry = Registry(models)
    registry.promote(v1, "first")
    # What a writer killed after writing its temp file and before os.replace leaves behind.
    stray = models / f".{SERVING}.4242.tmp"
    stray.write_text(json.dumps({"version": v2, "since": "now"}))
    assert registry.serving() == v1
    assert resolve_model_dir(models).name == v1
    # And one killed halfway through its log line.
    with (models / LOG).open("a") as log:
        log.write('{"time": "2026-01-01T00:00:00+00:00", "action": "prom')
    registry.promote(v2, "second")  # the next writer cleans up after them
    assert registry.serving() == v2
    assert not list(models.glob(f".{SERVING}.*"))
    assert [(d.version, d.reason) for d in registry.history()] == [(v1, "first"), (v2, "second")]


def test_two_writers_never_interleave(fit: Fit, models: Path) -> None:
    versions = [fit.save(models), fit.save(models)]

    def writer(start: int) -> None:
        registry = Registry(models)
        for n in range(15):
            registry.promote(versions[(start + n) % 2], f"writer {start}")

    threads = [threading.Thread(target=writer, args=(n % 2,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = Registry(models).history()
    # Each decision saw the pointer the one before it left: no two read the same pointer.
    assert all(later.previous == earlier.version for earlier, later in pairwise(history))
    assert len((models / LOG).read_text().splitlines()) == len(history)
    assert Registry(models).serving() == history[-1].version


# -- the commands -----------------------------------------------------------------------------


@pytest.mark.usefixtures("wide")
def test_kgrec_models_list_show_promote_rollback(fit: Fit, models: Path) -> None:
    v1 = fit.save(models)
    v2 = fit.save(models, parent=v1)
    v3 = fit.save(models, parent=v1)
    where = ["--models-dir", str(models)]

    code, output = run("list", *where)
    assert code == 0
    interactions = sum(getattr(fit.dataset.interactions, name).nnz
                       for name in ("train", "valid", "test"))  # fmt: skip
    ndcg = f"{fit.result.test['ndcg@10']:.4f}"
    listed = rows(output)
    assert list(listed) == [v1, v2, v3]
    assert listed[v2][1:] == [f"{interactions:,}", ndcg, "candidate", v1]
    assert listed[v3][3] == "serving (the newest; no SERVING pointer yet)"

    assert run("promote", v1, "--reason", "the baseline", *where) == (
        0, f"Serving {v1} (before: the newest, without a pointer).\n"
    )  # fmt: skip
    assert run("promote", v2, *where)[0] == 0
    Registry(models).reject(v3, "NDCG@10 below v2's")
    statuses = {version: row[3] for version, row in rows(run("list", *where)[1]).items()}
    assert statuses == {v1: "promoted before", v2: "serving", v3: "rejected"}

    code, output = run("show", v3, *where)
    assert code == 0
    assert re.search(r"status\s+rejected\s*\n", output)
    assert re.search(rf"parent\s+{v1}\s*\n", output)
    assert re.search(r"weights.pt\s+[\d,]+ bytes, sha256 [0-9a-f]{16}", output)
    decisions = rows(output[output.index("Registry decisions") :])
    assert list(decisions.values()) == [["reject", v3, "-", "NDCG@10 below v2's"]]
    code, output = run("show", *where)  # the serving one
    assert output.splitlines()[0].strip() == v2
    assert "promoted with `kgrec models promote`" in output

    assert run("rollback", *where) == (0, f"Serving {v1} again (instead of {v2}).\n")
    code, output = run("rollback", *where)
    message = " ".join(output.split())  # as one line, however the terminal wrapped it
    assert code == 1
    assert f"no version served before {v1}" in message and "kgrec models promote" in message
    code, output = run("promote", "nonsense", *where)
    assert code == 1
    assert "no model 'nonsense'" in output and v3 in output

    for command in ("list", "show", "promote", "rollback"):
        code, output = run(command, "--help")
        assert code == 0 and "--models-dir" in output
    assert "SERVING" in run("--help")[1]


@pytest.mark.usefixtures("server_env", "shop")
def test_kgrec_train_promotes_its_model_unless_told_not_to(models: Path) -> None:
    args = ["--epochs", "2", "--dim", "8", "--batch-size", "64", "--no-baselines",
            "--no-write-back", "--models-dir", str(models)]  # fmt: skip
    outcome = CliRunner().invoke(cli.train_app, args)
    assert outcome.exit_code == 0, outcome.output
    [first] = Registry(models).versions()
    assert Registry(models).serving() == first
    assert "Serving it" in outcome.output
    outcome = CliRunner().invoke(cli.train_app, [*args, "--no-promote"])
    assert outcome.exit_code == 0, outcome.output
    [_, candidate] = Registry(models).versions()
    assert Registry(models).serving() == first
    assert f"`kgrec models promote {candidate}`" in outcome.output.replace("\n", "")


# -- the API follows the pointer ----------------------------------------------------------------


@pytest.fixture()
def watched(shop: Settings, fit: Fit, models: Path) -> Iterator[tuple[TestClient, str]]:
    """An API over the shop serving v1 through the registry, watching its pointer often."""
    v1 = fit.save(models)
    Registry(models).promote(v1, "first")
    settings = shop.model_copy(update={"models_dir": models, "api_model_watch_s": 0.2,
                                       "api_graph_timeout_s": 10.0})  # fmt: skip
    with TestClient(create_app(settings)) as client:
        yield client, v1


def served(client: TestClient) -> str:
    response = client.get("/users/g-user0/recommendations", params={"k": 2, "explain": False})
    assert response.status_code == 200, response.text
    name: str = response.json()["model"]
    return name


def wait_for(client: TestClient, version: str) -> None:
    deadline = time.monotonic() + 90
    while served(client) != version:
        assert time.monotonic() < deadline, f"the API did not switch to {version}"
        time.sleep(0.1)


def test_the_api_follows_a_promotion_and_a_rollback_without_failing_a_request(
    watched: tuple[TestClient, str], fit: Fit, models: Path
) -> None:
    client, v1 = watched
    assert served(client) == v1
    answered: list[tuple[int, str]] = []
    looping = threading.Event()
    looping.set()

    def loop() -> None:
        while looping.is_set():
            try:
                response = client.get("/users/t-user1/recommendations", params={"k": 3})
                answered.append((response.status_code, response.json()["model"]))
            except Exception as exc:  # a failed request, however it fails
                answered.append((0, repr(exc)))

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        v2 = fit.save(models, parent=v1)
        Registry(models).promote(v2, "better")
        wait_for(client, v2)
        Registry(models).rollback("v2 misbehaves")
        wait_for(client, v1)
    finally:
        looping.clear()
        thread.join(timeout=60)
    assert [status for status, _ in answered if status != 200] == []
    seen = [model for _, model in answered]
    assert seen[0] == v1 and v2 in seen and seen[-1] == v1
    # A reload loads what the pointer names, not the newest (v2).
    response = client.post("/admin/reload", headers={"X-API-Key": KEY})
    assert response.status_code == 200
    assert response.json() == {"model": v1, "previous": v1}


def test_a_damaged_promotion_is_refused_and_the_api_serves_on(
    watched: tuple[TestClient, str], fit: Fit, models: Path
) -> None:
    client, v1 = watched
    v2 = fit.save(models)
    shutil.copy(models / v2 / "ids.json", models / v2 / "weights.pt")  # overwritten by mistake
    with pytest.raises(DamagedModelError):
        Registry(models).promote(v2, "refused")
    # Pointed at it by hand: the API tries, says why in its answer to a reload, serves on.
    (models / SERVING).write_text(json.dumps({"version": v2}))
    response = client.post("/admin/reload", headers={"X-API-Key": KEY})
    while "another reload is in progress" in response.text:  # the watcher tries it too
        response = client.post("/admin/reload", headers={"X-API-Key": KEY})
    assert response.status_code == 409
    assert f"model {v2} is damaged: weights.pt" in response.json()["detail"]
    assert f"still serving {v1}" in response.json()["detail"]
    time.sleep(0.5)  # a few watch periods
    assert served(client) == v1
