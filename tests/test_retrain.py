"""`kgrec retrain` on the small shop in the real Neo4j: a retrain after new events and a new
item promotes a fit on everything whose id maps hold them (a warm start copies by id), a run
on degraded data or one that misses the bar is rejected with both figures while v1 keeps
serving, one retrain at a time, what a killed run left is removed, and `--every` loops
through a failed run and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from gnn import cli, models_cli
from gnn.artifacts import CARD, CONFIG, IDS, METRICS, WEIGHTS, load_scoring, resolve_model_dir
from gnn.dataset import RecDataset, build_dataset
from gnn.model import KGRecModel, NodeIndex
from gnn.registry import Registry
from gnn.retrain import parse_period, retrain_lock, run_every, warm_start
from gnn.text import TextEncoder
from gnn.train import build_model, train
from kg import Graph, Settings
from kg.export import export_graph
from kg.records import InteractionRow, ItemBrandRow, ItemCategoryRow, ItemRow
from kg.write import write_atomically
from tests.api_shop import SMALL, trained_shop

LATER = 1_700_000_000  # after every interaction of the shop


@pytest.fixture()
def v1(neo4j_settings: Settings, tmp_path: Path, server_env: dict[str, str]) -> Path:
    """The shop in the test Neo4j and a models directory where its model v1 serves."""
    models = tmp_path / "models"
    trained_shop(neo4j_settings, models)
    [version] = Registry(models).versions()
    Registry(models).promote(version, "v1")
    return models


def retrain(models: Path, *args: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(cli.retrain_app, [*args, "--models-dir", str(models)])
    return outcome.exit_code, outcome.output


def card(models: Path, version: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((models / version / CARD).read_text())
    return loaded


@pytest.fixture()
def grown(v1: Path, neo4j_settings: Settings) -> Path:
    """v1's shop with what came since, written as the API writes it: a new item, a new user
    with three purchases, and a purchase of the new item by a known user."""
    provenance = {"source": "metadata", "extractor": "metadata"}
    arrived = [
        ItemRow(id="g-new", title="Glossy lip lacquer", description="A glossy lip lacquer."),
        ItemBrandRow(item_id="g-new", brand_id="glowco", **provenance),
        ItemCategoryRow(item_id="g-new", category_id="beauty > lips", **provenance),
        *(InteractionRow(user_id="newcomer", item_id=item, kind="purchase", ts=LATER + step)
          for step, item in enumerate(["g0", "g1", "g-new"])),
        InteractionRow(user_id="g-user0", item_id="g-new", kind="purchase", ts=LATER),
    ]  # fmt: skip
    with Graph.connect(neo4j_settings, wait_s=30) as graph:
        write_atomically(graph, arrived)
    return v1


def warm_started(models: Path, neo4j_settings: Settings) -> tuple[RecDataset, KGRecModel]:
    """The graph's dataset as `kgrec retrain` splits it, and a model on it as `kgrec train`
    builds it, warm-started from the serving model in `models`."""
    with Graph.connect(neo4j_settings, wait_s=30) as graph, TextEncoder(neo4j_settings) as text:
        dataset = build_dataset(export_graph(graph), text.encode)
    model = build_model(dataset, SMALL, torch.device("cpu"))
    warm_start(resolve_model_dir(models))(model, dataset)
    return dataset, model


def id_row(model: KGRecModel, dataset: RecDataset, kind: str, node: str) -> torch.Tensor:
    """`node`'s id embedding in `model`."""
    return model.ids.weight.detach()[dataset.ids[kind].index(node) + model.index.offset[kind]]


def served_id_row(models: Path, kind: str, node: str) -> torch.Tensor:
    """`node`'s id embedding in the serving model, as saved."""
    served = resolve_model_dir(models)
    saved: torch.Tensor = torch.load(served / WEIGHTS, weights_only=True)["ids.weight"]
    ids: dict[str, list[str]] = json.loads((served / IDS).read_text())
    index = NodeIndex(json.loads((served / CONFIG).read_text())["num_nodes"])
    return saved[ids[kind].index(node) + index.offset[kind]]


def test_a_warm_start_copies_what_the_serving_model_learned_by_id(
    grown: Path, neo4j_settings: Settings
) -> None:
    dataset, model = warm_started(grown, neo4j_settings)

    served = resolve_model_dir(grown)
    # "g-new" sorts first, so every known item moved a row: the copy goes by id.
    saved_items = json.loads((served / IDS).read_text())["item"]
    assert dataset.ids["item"].index("g5") != saved_items.index("g5")
    for kind, node in [("user", "g-user3"), ("item", "g5"), ("brand", "toolco"),
                       ("category", "beauty > lips")]:  # fmt: skip
        assert torch.equal(id_row(model, dataset, kind, node), served_id_row(grown, kind, node))
    saved = torch.load(served / WEIGHTS, weights_only=True)
    assert torch.equal(model.state_dict()["project.item.weight"], saved["project.item.weight"])


def test_a_new_node_starts_at_the_mean_of_its_known_neighbours(
    grown: Path, neo4j_settings: Settings
) -> None:
    dataset, model = warm_started(grown, neo4j_settings)

    # g-new's links in training: GlowCo and Beauty > Lips, both known (its two purchases are
    # its buyers' latest, held out as test).
    expected = (served_id_row(grown, "brand", "glowco")
                + served_id_row(grown, "category", "beauty > lips")) / 2  # fmt: skip
    torch.testing.assert_close(id_row(model, dataset, "item", "g-new"), expected)


def test_a_new_node_with_no_known_neighbour_starts_from_its_text_alone(
    grown: Path, neo4j_settings: Settings
) -> None:
    # A new item of a new brand: each one's only neighbour is the other, unknown too.
    provenance = {"source": "metadata", "extractor": "metadata"}
    with Graph.connect(neo4j_settings, wait_s=30) as graph:
        write_atomically(graph, [
            ItemRow(id="g-lone", title="Lone lip balm", description="A lone lip balm."),
            ItemBrandRow(item_id="g-lone", brand_id="loneco", **provenance),
        ])  # fmt: skip

    dataset, model = warm_started(grown, neo4j_settings)

    for kind, node in [("brand", "loneco"), ("item", "g-lone")]:
        assert not id_row(model, dataset, kind, node).any()


def test_held_out_interactions_do_not_feed_a_new_nodes_start(
    grown: Path, neo4j_settings: Settings
) -> None:
    dataset, model = warm_started(grown, neo4j_settings)

    # The newcomer bought g0, then g1 (validation), then g-new (test); g-user0's purchase of
    # g-new is its test interaction.
    user, item = dataset.ids["user"].index, dataset.ids["item"].index
    valid, test = dataset.interactions.valid, dataset.interactions.test
    assert valid[user("newcomer"), item("g1")] and test[user("newcomer"), item("g-new")]
    assert test[user("g-user0"), item("g-new")]
    glowco, lips, buyer, g0, g1 = (
        served_id_row(grown, kind, node)
        for kind, node in [("brand", "glowco"), ("category", "beauty > lips"),
                           ("user", "g-user0"), ("item", "g0"), ("item", "g1")]
    )  # fmt: skip
    torch.testing.assert_close(id_row(model, dataset, "user", "newcomer"), g0)
    torch.testing.assert_close(id_row(model, dataset, "item", "g-new"), (glowco + lips) / 2)
    # With nothing held out (the fit that serves), the same interactions feed them.
    everything = dataset.with_nothing_held_out()
    fitted = build_model(everything, SMALL, torch.device("cpu"))
    warm_start(resolve_model_dir(grown))(fitted, everything)
    torch.testing.assert_close(id_row(fitted, everything, "user", "newcomer"), (g0 + g1) / 2)
    torch.testing.assert_close(
        id_row(fitted, everything, "item", "g-new"), (glowco + lips + buyer) / 3
    )


def test_retrain_promotes_a_fit_that_knows_what_arrived_since(grown: Path) -> None:
    v1 = grown
    first = Registry(v1).serving()

    code, output = retrain(v1, "--tolerance", "0.5")

    assert code == 0, output
    second = Registry(v1).serving()
    assert second not in (None, first), output
    assert f"promoted {second}" in output
    # Where the time went, phase by phase.
    assert re.search(r"took \d+ s: read \d+ s, evaluate \d+ s, fit \d+ s, save \d+ s", output)
    ids = json.loads((v1 / str(second) / IDS).read_text())
    assert "newcomer" in ids["user"] and "g-new" in ids["item"]
    fitted = card(v1, str(second))
    assert fitted["parent"] == first
    data = fitted["data"]
    assert isinstance(data, dict)
    # Every interaction trains: the shop's 72 and the 4 that arrived, none held out.
    assert data["interactions"] == {"train": 76, "valid": 0, "test": 0}
    evaluation = fitted["evaluation"]
    assert isinstance(evaluation, dict)
    assert evaluation["serving_version"] == first and evaluation["warm"] is True
    assert evaluation["split"] == "temporal leave-last-out"
    # A warm start keeps the serving model's blend (measured, not searched again).
    served_blend, _ = load_scoring(v1 / str(first))
    assert evaluation["blend"] == served_blend.to_dict()
    summary = json.loads((v1 / str(second) / METRICS).read_text())
    assert list(summary["blend_valid_ndcg10"]) == [served_blend.describe()]
    # Every user has a test interaction; the serving model knows neither the newcomer nor
    # g-user0's test item, the new one: two misses.
    assert (evaluation["test_users"], evaluation["users_serving_scored"]) == (25, 23)
    assert fitted["metrics"] == evaluation["candidate"]
    assert 0 < evaluation["serving"]["ndcg@10"] <= 1


def rejected(models: Path, first: str | None, code: int, output: str) -> tuple[str, str]:
    """The version a retrain saved and rejected while `first` kept serving, and the reason
    `kgrec models show` gives for it (on a terminal wide enough for it on one line)."""
    assert code == cli.REJECTED_EXIT, output
    assert Registry(models).serving() == first and resolve_model_dir(models).name == first
    [version] = [v for v in Registry(models).versions() if v != first]
    assert f"rejected {version}, {first} keeps serving" in " ".join(output.split())
    assert card(models, version)["parent"] == first
    decision = Registry(models).history()[-1]
    assert (decision.action, decision.version) == ("reject", version)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(models_cli.console, "width", 500)
        shown = CliRunner().invoke(
            models_cli.models_app, ["show", version, "--models-dir", str(models)]
        )
    text = " ".join(shown.output.split())
    assert "rejected" in text and " ".join(decision.reason.split()) in text
    assert "candidate NDCG@10" in text and f"vs {first}'s" in text  # the card's evaluation
    return version, decision.reason


def test_a_run_on_degraded_data_is_rejected_and_v1_keeps_serving(
    v1: Path, neo4j_settings: Settings
) -> None:
    first = Registry(v1).serving()
    # Each user's oldest purchase moves to another user's item: the training part of the
    # split is noise, the latest two (validation, test) stay real.
    with Graph.connect(neo4j_settings, wait_s=30) as graph:
        oldest = graph.run(
            "MATCH (:User)-[r:INTERACTED]->(i:Item) WHERE r.ts = 1600000000 "
            "RETURN elementId(r) AS r, i.id AS item ORDER BY r"
        )
        items = [row["item"] for row in oldest]
        random.Random(0).shuffle(items)
        graph.run(
            "UNWIND $moves AS move MATCH (u:User)-[r:INTERACTED]->() WHERE elementId(r) = move.r "
            "MATCH (i:Item {id: move.item}) CREATE (u)-[moved:INTERACTED]->(i) "
            "SET moved = properties(r) DELETE r",
            {
                "moves": [
                    {"r": row["r"], "item": item} for row, item in zip(oldest, items, strict=True)
                ]
            },
        )

    # From scratch: a warm start no epoch improves keeps v1's parameters (its epoch 0) and
    # v1's blend, so on noise it stays about as good as v1, and serving it would do no harm;
    # a model learned from the noise alone must be refused.
    code, output = retrain(v1, "--full")  # the default tolerance (2%)

    _, reason = rejected(v1, first, code, output)
    assert "(full): candidate NDCG@10" in reason and f"0.98 x serving {first}'s" in reason


def test_a_candidate_below_the_bar_is_rejected_and_v1_keeps_serving(v1: Path) -> None:
    first = Registry(v1).serving()

    # -1: the candidate must double the serving model's NDCG@10, which the same data cannot.
    code, output = retrain(v1, "--full", "--tolerance", "-1")

    version, reason = rejected(v1, first, code, output)
    assert "(full): candidate NDCG@10" in reason and "below the bar, 2 x serving" in reason
    # The same data, recipe and split from scratch: the candidate is measured exactly as the
    # serving model is.
    evaluation = card(v1, version)["evaluation"]
    assert isinstance(evaluation, dict)
    ours, theirs = evaluation["candidate"]["ndcg@10"], evaluation["serving"]["ndcg@10"]
    assert ours == pytest.approx(theirs, abs=1e-6) and ours > 0


@pytest.mark.usefixtures("server_env")
def test_a_second_retrain_exits_at_once_naming_the_running_one(tmp_path: Path) -> None:
    models = tmp_path / "models"
    with retrain_lock(models):  # a retrain in progress (the lock is per open file)
        code, output = retrain(models)
    assert code == 1
    text = " ".join(output.split())
    assert "a retrain is already running" in text and f"pid {os.getpid()}" in text
    code, output = retrain(models)  # released: this one gets as far as finding no model
    assert code == 1 and "already running" not in output


@pytest.mark.usefixtures("server_env")
def test_the_next_run_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    models = tmp_path / "models"
    stale = models / ".20261130T000000000000Z-0123456789.partial"
    stale.mkdir(parents=True)
    (stale / "weights.pt").write_bytes(b"half a model")

    code, output = retrain(models)

    text = " ".join(output.split())
    assert not stale.exists()
    assert f"Removed what a killed run left: {stale.name}" in text
    assert code == 1 and "nothing to retrain" in text and "kgrec train" in text


def test_every_reads_minutes_hours_and_days_and_says_what_it_cannot() -> None:
    assert [parse_period(text) for text in ("30m", "6h", "1d")] == [1800, 21600, 86400]
    for wrong in ("6", "0h", "1.5h", "6 hours", "-1d", "h"):
        with pytest.raises(ValueError, match=r"e\.g\. 30m, 6h or 1d"):
            parse_period(wrong)
    code, output = retrain(Path("unused"), "--every", "6x")
    assert code == 1 and "--every '6x' is not a period" in " ".join(output.split())
    code, output = retrain(Path("unused"), "--help")
    assert code == 0 and all(option in output for option in ("--every", "--full", "--tolerance"))


def test_run_every_logs_a_failed_run_and_goes_on_until_stopped() -> None:
    stop = threading.Event()
    lines: list[str] = []
    runs: list[int] = []

    def once() -> str:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("Neo4j is down")
        if len(runs) == 3:
            stop.set()
        return f"run {len(runs)}"

    run_every(0.01, once, lines.append, stop)

    assert lines == ["retrain failed: Neo4j is down", "run 2", "run 3"]


@pytest.mark.usefixtures("server_env")
def test_every_stops_on_sigterm_after_logging_the_failed_run(tmp_path: Path) -> None:
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        code, output = retrain(tmp_path / "models", "--every", "1d")
    finally:
        timer.cancel()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    lines = output.splitlines()
    assert code == 0, output
    assert "retraining every 1d" in lines[0]
    assert any("retrain failed: nothing to retrain" in line for line in lines)
    assert lines[-1].endswith(" stopped")


def test_a_warm_start_no_epoch_improves_on_is_kept_as_it_started(
    grown: Path, neo4j_settings: Settings
) -> None:
    with Graph.connect(neo4j_settings, wait_s=30) as graph, TextEncoder(neo4j_settings) as text:
        dataset = build_dataset(export_graph(graph), text.encode)
    served = resolve_model_dir(grown)
    kept = train(dataset, replace(SMALL, max_epochs=0, refit=False), initialise=warm_start(served))
    # Every Adam step at this rate throws the learned embeddings away.
    wrecked = train(dataset, replace(SMALL, lr=50.0, max_epochs=2), initialise=warm_start(served))
    assert kept.best_epoch == wrecked.best_epoch == 0
    assert wrecked.best_valid == kept.best_valid and kept.best_valid["ndcg@10"] > 0
