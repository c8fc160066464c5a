"""Retraining on Beauty: a warm `kgrec retrain` against a full one from scratch, after the latest
interactions arrive, with the API serving through the swap.

    python bench/retrain.py [--late 0.05] [--epochs 100] [--dim 128]

1. Beauty in a throwaway Neo4j. Its published train/test split is removed, as a live shop has
   none: every split from here is `kgrec retrain`'s (each user's latest interaction is test).
2. The latest 5% of interactions in time are taken out of the graph and v1 is trained on the
   rest as `kgrec train` trains, and promoted.
3. `kgrec serve` serves v1 from the registry; the 5% are written back into the graph.
4. A warm `kgrec retrain` from v1, while a client loop asks the API for recommendations until it
   answers with v2 (a failed request: anything but a 200). Then a full retrain from scratch
   (`--full`) in a copy of the registry where v1 still serves. Both evaluate on the same split of
   the same graph and against the same v1, so their candidate NDCG@10 compare directly.

Seconds are each retrain's whole run (export, evaluate, fit, save), wall and CPU of this
process; the ratio is warm / full. On a CPU the recipe's full size takes hours: `--epochs 8
--dim 32 --no-refit` is a shorter recipe with the same protocol. Last line: one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import typer
from api_latency import KEY, start_server, wait_ready
from beauty_setup import CONFIG, beauty_dataset, beauty_graph
from rich.console import Console
from rich.table import Table

from gnn.artifacts import save_model
from gnn.cli import retrain_once
from gnn.model import ModelConfig
from gnn.registry import Registry
from gnn.train import TrainConfig, epoch_progress, train
from kg import Graph, Settings, provision
from kg.records import InteractionRow
from kg.write import GraphWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the client loop of the tests
from tests.helpers import RecommendationLoop

console = Console(width=140)
SERVER_LOG = Path("bench/results/retrain-server.log")
LATE = (
    "MATCH (u:User)-[r:INTERACTED]->(i:Item) WHERE r.ts > $cutoff "
    "RETURN u.id AS user_id, i.id AS item_id, r.kind AS kind, r.ts AS ts, r.rating AS rating, "
    "r.weight AS weight"
)


@dataclass(frozen=True)
class Run:
    """One retrain: its version, whether it serves, its seconds and its evaluation."""

    version: str
    promoted: bool
    wall_s: float
    cpu_s: float
    evaluation: dict[str, Any]

    def ndcg(self) -> float:
        return float(self.evaluation["candidate"]["ndcg@10"])


def main(
    late: Annotated[
        float, typer.Option(min=0.01, max=0.5, help="Share of interactions that arrive after v1.")
    ] = 0.05,
    epochs: Annotated[
        int, typer.Option(min=1, help="The recipe's most epochs (v1's and the full retrain's).")
    ] = CONFIG.max_epochs,
    dim: Annotated[
        int, typer.Option(min=2, help="The recipe's embedding size.")
    ] = CONFIG.model.dim,
    refit: Annotated[
        bool, typer.Option(help="The recipe's refit on train + valid after early stopping.")
    ] = CONFIG.refit,
    tolerance: Annotated[
        float, typer.Option(help="kgrec retrain's tolerance for promoting the warm fit.")
    ] = 0.02,
) -> None:
    """Warm retrain vs full retrain on Beauty after the latest interactions arrive."""
    config = replace(CONFIG, max_epochs=epochs, model=ModelConfig(dim=dim), refit=refit)
    with beauty_graph(console) as (settings, graph), tempfile.TemporaryDirectory() as scratch:
        models, models_full = Path(scratch) / "models", Path(scratch) / "models-full"
        drop_published_split(graph)
        arrivals, cutoff = take_out_latest(graph, late)
        v1 = train_v1(graph, settings, config, models)
        shutil.copytree(models, models_full)  # where v1 serves for the full retrain
        port = provision.free_port()
        SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
        server = start_server(settings, models, port, log=SERVER_LOG)
        try:
            base = f"http://127.0.0.1:{port}"
            with console.status("Starting kgrec serve on v1..."):
                wait_ready(base, server)
            with console.status(f"Writing back the {len(arrivals):,} later interactions..."):
                GraphWriter(graph, settings.write_batch_size).interactions(arrivals)
            paths = [f"/users/{row.user_id}/recommendations" for row in arrivals[:200]]
            http = httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": KEY})
            with http, RecommendationLoop(http, paths, pause_s=0.05) as loop:
                warm = timed_retrain(settings, models, tolerance, full=False)
                loop.wait_for(warm.version if warm.promoted else v1)
        finally:
            server.terminate()
            server.wait(timeout=30)
        full = timed_retrain(settings, models_full, tolerance, full=True)
    report(v1, cutoff, len(arrivals), config, warm, full, loop)


def drop_published_split(graph: Graph) -> None:
    """Interactions without Beauty's published train/test split, as a live shop's are."""
    with graph.session() as session:
        session.run(
            "MATCH ()-[r:INTERACTED]->() WHERE r.split IS NOT NULL "
            "CALL (r) { REMOVE r.split } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()


def take_out_latest(graph: Graph, share: float) -> tuple[list[InteractionRow], int]:
    """Remove the interactions after the `1 - share` quantile of time; return them and the
    cutoff (unix seconds). Timestamps are days, so ties make the share approximate."""
    stamps = np.array(
        [row["ts"] for row in graph.read("MATCH ()-[r:INTERACTED]->() RETURN r.ts AS ts")]
    )
    cutoff = int(np.quantile(stamps, 1 - share))
    arrivals = [InteractionRow(**row) for row in graph.read(LATE, {"cutoff": cutoff})]
    with graph.session() as session:
        session.run(
            "MATCH ()-[r:INTERACTED]->() WHERE r.ts > $cutoff "
            "CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
            cutoff=cutoff,
        ).consume()
    console.print(f"Took out {len(arrivals):,} of {len(stamps):,} interactions (after {cutoff}).")
    return arrivals, cutoff


def train_v1(graph: Graph, settings: Settings, config: TrainConfig, models: Path) -> str:
    """v1 as `kgrec train` makes it: trained on the graph as it is, saved and promoted."""
    dataset = beauty_dataset(console, graph, settings)
    progress, on_epoch = epoch_progress(console, config.max_epochs)
    with progress:
        result = train(dataset, config, on_epoch)
    path = save_model(result.model, dataset, config.to_dict(), result.test, models)
    Registry(models).promote(path.name, f"bench v1 (test NDCG@10 {result.test['ndcg@10']:.4f})")
    console.print(f"v1 {path.name}: trained in {result.train_seconds:.0f} s")
    return path.name


def timed_retrain(settings: Settings, models: Path, tolerance: float, *, full: bool) -> Run:
    wall, cpu = time.perf_counter(), time.process_time()
    promoted, summary = retrain_once(settings, models, tolerance, full, write_back=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    console.print(summary, highlight=False, soft_wrap=True)
    version = Registry(models).versions()[-1]
    card = Registry(models).card(version) or {}
    return Run(version, promoted, wall, cpu, card["evaluation"])


def report(
    v1: str,
    cutoff: int,
    arrived: int,
    config: TrainConfig,
    warm: Run,
    full: Run,
    loop: RecommendationLoop,
) -> None:
    table = Table(
        title=f"Beauty: retrain after {arrived:,} later interactions (ts > {cutoff}); "
        f"v1 {v1}, recipe dim {config.model.dim}, {config.max_epochs} epochs, refit {config.refit}"
    )
    for column in (
        "run",
        "wall s",
        "CPU s",
        "epochs (best)",
        "NDCG@10",
        "recall@20",
        "v1 NDCG@10 same split",
        "promoted",
    ):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, run in (("warm (from v1)", warm), ("full (from scratch)", full)):
        candidate, serving = run.evaluation["candidate"], run.evaluation["serving"]
        table.add_row(
            name,
            f"{run.wall_s:.0f}",
            f"{run.cpu_s:.0f}",
            str(run.evaluation["best_epoch"]),
            f"{run.ndcg():.4f}",
            f"{candidate['recall@20']:.4f}",
            f"{serving['ndcg@10']:.4f}",
            "yes" if run.promoted else "no",
        )
    table.add_row(
        "warm / full",
        f"{warm.wall_s / full.wall_s:.2f}",
        f"{warm.cpu_s / full.cpu_s:.2f}",
        "",
        f"{warm.ndcg() / full.ndcg():.3f}",
        "",
        "",
        "",
    )
    console.print(table)
    served = [said for status, said in loop.answers if status == 200]
    versions = sorted(set(served), key=served.index)
    console.print(
        f"Through the swap: {len(loop.answers):,} requests, "
        f"{len(loop.failed)} failed; versions answering, in order: {versions}"
    )
    for failure in loop.failed[:5]:
        console.print(f"failed: {failure}")
    print(
        json.dumps(
            {
                "warm_seconds": round(warm.wall_s, 1),
                "full_seconds": round(full.wall_s, 1),
                "warm_time_ratio": round(warm.wall_s / full.wall_s, 3),
                "warm_cpu_ratio": round(warm.cpu_s / full.cpu_s, 3),
                "warm_ndcg_ratio": round(warm.ndcg() / full.ndcg(), 3),
                "swap_failed_requests": len(loop.failed),
            }
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    typer.run(main)
