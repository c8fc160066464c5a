"""`kgrec retrain`'s two jobs, kept apart, and what runs them safely on a schedule.

- **evaluate**: the graph as it is now, split as `kgrec train` splits it (each user's latest
  interaction is test, the one before validation); the candidate trains on the rest exactly as
  `kgrec train` trains (early stopping and the blend picked on validation) and is measured on
  test. The serving model is measured on the same test interactions with the same metric: its
  saved embeddings, blend and item-item term score the catalogue items it knows, spreading and
  excluding the split's training interactions as the candidate's evaluation does. A test user
  it does not know, or whose test item it does not know, is a miss (it could not have
  recommended it). That is the model that would keep serving, measured where the candidate is;
  retraining a reference from the serving model's config would compare two recipes on the same
  data instead, and could never see the data itself getting worse. One bias stays, towards the
  serving model: a model fitted on everything has already seen the test interactions of users
  with no newer one, so when in doubt the old model keeps serving (the tolerance absorbs it).
- **fit**: every interaction the graph holds, none held out, for the epochs and with the blend
  the evaluation picked. That is the model that serves; its card names the evaluation.

A warm start copies the serving model's parameters by node id: each text projection whole, and
the id embedding of every user, item, brand, category and attribute it knows; a new node starts
from its text and links, as in cold start: its id embedding is the mean of its known neighbours'
copied ones in the training graph (zero, text alone, where it has none). It also keeps the
serving model's blend: validation measures it instead of searching the grid again, whose EASE
fits (one per lambda) and scored grid points would cost more than the fine-tuning itself;
`--full` searches the grid as `kgrec train` does.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from gnn.artifacts import CONFIG, IDS, WEIGHTS
from gnn.data import interaction_matrix
from gnn.dataset import NODE_TYPES, RecDataset
from gnn.infer import LoadedModel
from gnn.metrics import evaluate as measure
from gnn.model import KGRecModel, NodeIndex
from gnn.train import Initialise, TrainConfig, TrainResult, fit, train

MAIN_METRIC = "ndcg@10"
LOCK = ".retrain.lock"
# A warm start begins near its optimum: a quarter of the epochs, and a tenth of the learning
# rate, since Adam's first steps (fresh moment estimates) move every coordinate by about the
# learning rate, which at full rate throws the learned embeddings away (on Beauty: NDCG@10
# 0.046 after a warm retrain from a model at 0.051).
WARM_EPOCH_SHARE = 0.25
WARM_LR_SHARE = 0.1
PERIOD = re.compile(r"(\d+)([mhd])")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


class RetrainError(RuntimeError):
    """A retrain that cannot run; the message says how to fix it."""


class RetrainRunningError(RetrainError):
    """Another retrain holds the lock."""


@dataclass(frozen=True)
class Evaluation:
    """What justified a fit: the candidate and the serving model on one split."""

    split: str
    serving_version: str
    candidate: dict[str, float]  # the candidate's test metrics
    serving: dict[str, float]  # the serving model's, on the same test interactions
    test_users: int
    users_serving_scored: int  # test users with a test item it knows (the rest: misses)
    best_epoch: int
    blend: dict[str, float]
    warm: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_period(text: str) -> float:
    """Seconds in `30m`, `6h` or `1d`; ValueError saying the accepted form otherwise."""
    match = PERIOD.fullmatch(text.strip())
    if not match or int(match[1]) == 0:
        raise ValueError(
            f"--every {text!r} is not a period: write a whole number above 0 and a unit, "
            "m (minutes), h (hours) or d (days), e.g. 30m, 6h or 1d"
        )
    return float(int(match[1]) * UNIT_SECONDS[match[2]])


@contextmanager
def retrain_lock(models_dir: Path) -> Iterator[None]:
    """Hold `<models_dir>/.retrain.lock` (non-blocking; the file names the holder's pid).
    RetrainRunningError naming the pid when another process holds it. The kernel drops the
    lock when its holder dies, even by kill -9."""
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / LOCK
    with path.open("a+") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            raise RetrainRunningError(
                f"a retrain is already running on {models_dir} (pid {holder}, holding {path}); "
                "wait for it to finish, or stop that process"
            ) from None
        try:
            file.truncate(0)
            file.write(f"{os.getpid()}\n")
            file.flush()
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


class Phases:
    """Seconds spent per named phase of a run, in the order they first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def describe(self) -> str:
        """E.g. "took 512 s: read 60 s, evaluate 250 s, fit 190 s, save 12 s"."""
        parts = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.seconds.items())
        return f"took {sum(self.seconds.values()):.0f} s: {parts}"


def warm_config(config: TrainConfig) -> TrainConfig:
    """`config` as a warm start fine-tunes: fewer epochs at a lower learning rate."""
    return replace(config, max_epochs=max(1, round(config.max_epochs * WARM_EPOCH_SHARE)),
                   lr=config.lr * WARM_LR_SHARE)  # fmt: skip


def known_neighbour_mean(adjacency: Tensor, ids: Tensor, known: Tensor) -> Tensor:
    """Per node not `known`, the mean of `ids` over its `known` neighbours in `adjacency` (each
    neighbour once, whatever links them); zero rows for known nodes and for nodes with none.
    One sparse product: the adjacency's pattern, row-normalised over known columns."""
    n = len(known)
    crow, cols = adjacency.crow_indices(), adjacency.col_indices()
    rows = torch.repeat_interleave(torch.arange(n, device=cols.device), crow.diff())
    linked = ~known[rows] & known[cols]
    rows, cols = rows[linked], cols[linked]
    share = 1 / torch.bincount(rows, minlength=n)[rows].to(ids.dtype)
    averaging = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), share, (n, n), check_invariants=False
    )
    return averaging @ ids


def warm_start(model_dir: Path) -> Initialise:
    """Copies the parameters of the model in `model_dir` into a fresh model by node id. A new
    node's id embedding starts at the mean of its known neighbours' copied ones in the graph the
    model trains on (training interactions only), zero without any: its links say where it
    belongs, as in cold start, where a random start is noise that a warm start's few epochs at
    a tenth of the learning rate barely move."""
    weights = torch.load(model_dir / WEIGHTS, map_location="cpu", weights_only=True)
    old_ids: dict[str, list[str]] = json.loads((model_dir / IDS).read_text())
    old_index = NodeIndex(json.loads((model_dir / CONFIG).read_text())["num_nodes"])

    def initialise(model: KGRecModel, dataset: RecDataset) -> None:
        saved = weights["ids.weight"].shape[1], weights["project.item.weight"].shape[1]
        wanted = model.config.dim, model.config.text_dim
        if saved != wanted:
            raise RetrainError(
                f"cannot warm-start from {model_dir.name}: its embeddings are {saved[0]} wide "
                f"over {saved[1]}-d text vectors, this model's {wanted[0]} over {wanted[1]}; "
                "retrain from scratch with `kgrec retrain --full`"
            )
        start = {f"project.{kind}.weight": weights[f"project.{kind}.weight"] for kind in NODE_TYPES}
        ids = torch.zeros_like(model.ids.weight.detach())
        known = torch.zeros(len(ids), dtype=torch.bool, device=ids.device)
        for kind in NODE_TYPES:
            old_row = {node: row for row, node in enumerate(old_ids[kind])}
            pairs = [(new, old_row[node]) for new, node in enumerate(dataset.ids[kind])
                     if node in old_row]  # fmt: skip
            if pairs:
                new, old = (torch.tensor(rows) for rows in zip(*pairs, strict=True))
                source = weights["ids.weight"][old + old_index.offset[kind]]
                ids[new + model.index.offset[kind]] = source.to(ids)
                known[new + model.index.offset[kind]] = True
        ids += known_neighbour_mean(model.adjacency, ids, known)
        model.load_state_dict({**start, "ids.weight": ids}, strict=False)

    return initialise


def serving_metrics(serving: LoadedModel, dataset: RecDataset) -> tuple[dict[str, float], int]:
    """The serving model's test metrics on `dataset`'s split (a test user it does not know, or
    whose test items it does not know, counts as a miss), and how many test users it scored."""
    user_row, item_row = serving.user_row, serving.scorer.item_row
    users = np.array([user_row.get(user, -1) for user in dataset.ids["user"]])
    items = np.array([item_row.get(item, -1) for item in dataset.ids["item"][: dataset.n_items]])

    def in_serving_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
        coo = matrix.tocoo()
        known = (users[coo.row] >= 0) & (items[coo.col] >= 0)
        return interaction_matrix(users[coo.row[known]], items[coo.col[known]],
                                  len(serving.users), len(serving.items))  # fmt: skip

    seen = in_serving_rows(dataset.interactions.train_full)
    test = in_serving_rows(dataset.interactions.test)
    # Scored as the candidate is: the split's training items spread and excluded.
    metrics = measure(replace(serving.scorer, history=seen), test, seen)
    share = metrics.n_users / max(test_users(dataset), 1)
    means = {name: value * share for name, value in metrics.items() if "coverage" not in name}
    return means, metrics.n_users


def test_users(dataset: RecDataset) -> int:
    """How many users have a test interaction."""
    return int((np.diff(dataset.interactions.test.indptr) > 0).sum())


def evaluate(
    dataset: RecDataset, config: TrainConfig, serving: LoadedModel, initialise: Initialise | None
) -> tuple[Evaluation, TrainResult]:
    """Train the candidate on `dataset`'s split and measure it and the serving model on its
    test interactions. A warm start keeps the serving model's blend (measured on validation,
    not searched again); a full retrain picks its own."""
    kept = serving.blend if initialise is not None else None
    result = train(dataset, config, initialise=initialise, kept_blend=kept)
    theirs, known = serving_metrics(serving, dataset)
    evaluation = Evaluation(
        split=dataset.split, serving_version=serving.path.name, candidate=result.test,
        serving=theirs, test_users=test_users(dataset),
        users_serving_scored=known, best_epoch=result.best_epoch,
        blend=result.model.blend.to_dict(), warm=initialise is not None,
    )  # fmt: skip
    return evaluation, result


def fit_served(
    dataset: RecDataset, config: TrainConfig, result: TrainResult, initialise: Initialise | None
) -> tuple[KGRecModel, RecDataset]:
    """The model to serve: every interaction of `dataset`, the evaluation's epochs and blend."""
    everything = dataset.with_nothing_held_out()
    model = fit(everything, config, result.best_epoch, result.model.blend, initialise,
                walks=result.walks)  # fmt: skip
    return model, everything


def decide(evaluation: Evaluation, tolerance: float) -> tuple[bool, str]:
    """Whether the candidate may serve (its NDCG@10 at least (1 - tolerance) x the serving
    model's), and the reason, with both figures."""
    ours, theirs = evaluation.candidate[MAIN_METRIC], evaluation.serving[MAIN_METRIC]
    bar = 1 - tolerance
    accepted = ours >= theirs * bar
    return accepted, (
        f"kgrec retrain ({'warm' if evaluation.warm else 'full'}): candidate NDCG@10 {ours:.4f} "
        f"{'clears' if accepted else 'is below'} the bar, {bar:g} x serving "
        f"{evaluation.serving_version}'s {theirs:.4f} (tolerance {tolerance:g}), on the same "
        f"split ({evaluation.split}, {evaluation.test_users} test users, "
        f"{evaluation.users_serving_scored} of them scorable by the serving model)"
    )


def run_every(
    period_s: float, run_once: Callable[[], str], log: Callable[[str], None], stop: threading.Event
) -> None:
    """Run `run_once` now and then every `period_s` (from one start to the next; a period missed
    while a run took longer is skipped), logging its one-line summary or its failure, until
    `stop` is set (the run in progress finishes first)."""
    next_start = time.monotonic()
    while not stop.is_set():
        try:
            log(run_once())
        except Exception as exc:  # a failed run waits for the next period, as cron would
            log(f"retrain failed: {exc}")
        while next_start <= time.monotonic():
            next_start += period_s
        stop.wait(next_start - time.monotonic())
