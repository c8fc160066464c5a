"""How kgrec's costs grow with the shop: synthetic shops at several multiples of Beauty's size.

    python bench/scaling.py [--scales 1,4,16] [--requests 200]

Per scale (`synthetic_shop.py`: Beauty 2014's item, user and review counts times the scale),
in one throwaway Neo4j emptied between scales:

- ingest: `kgrec ingest amazon2018 --no-extract` on the shop's files, as a user runs it (a
  process of its own): seconds and the process's peak RSS. Extraction is left out: its cost is
  per text and the extraction benches measure it.
- epoch: a spawned process exports the graph, encodes the item text (cached by text under
  KGREC_CACHE_DIR), builds the dataset and trains two epochs of the GNN on every interaction
  (no validation) as `kgrec train` does at that size (full-graph steps below
  `TrainConfig.sample_from_links` links, random-walk-sampled steps from there); the second
  epoch's seconds, and the process's peak RSS. Then two epochs the other way, so that both
  are timed at every scale: sampled always, full-graph up to `--full-epochs-up-to` (a
  full-graph epoch at 16x takes over ten minutes here). The model trained as `kgrec train`
  would (GNN alone: the EASE part of its blend inverts a dense items x items matrix, which
  does not fit this machine's memory from about 4x Beauty on) is saved for serving.
- requests: `kgrec serve` over that model; p50 of a user's top 10 without explanations
  (retrieval) and with them (an explained request), over `--requests` users; the server's RSS.

Then the growth exponent k of each cost (cost ~ size^k, least squares on log-log); on the
`--checks-at` shop (0.25x: these compare, they do not time growth, and at 1x the first of
the two `kgrec train` runs alone ran over 12 minutes here), `kgrec ingest spark` (local[2])
against `kgrec ingest amazon2018` (both --no-extract; seconds, and whether the graphs are
equal, every property included), and `kgrec train --nproc 2` against `--nproc 1` on that
graph (test NDCG@10 ratio). A table, a PNG (bench/results/scaling.png) and, last, one JSON
object: {"sizes", "ingest_s", "epoch_s", "p50_ms", "peak_rss_mb", "ingest_growth_exponent",
"epoch_growth_exponent", "ddp_2proc_ndcg_ratio", "spark_graph_equal"} (sizes in reviews;
p50_ms of explained requests).
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Annotated, Any

import httpx
import matplotlib
import numpy as np
import psutil
import typer
from api_latency import KEY, kgrec_env, start_server, wait_ready
from rich.console import Console
from rich.table import Table
from synthetic_shop import SyntheticShop

from gnn.artifacts import save_model
from gnn.dataset import build_dataset
from gnn.scoring import Blend
from gnn.text import TextEncoder
from gnn.train import EpochLog, TrainConfig, fit
from kg import Graph, Settings, provision
from kg.export import export_graph
from kg.settings import PROJECT_ROOT, prefer_huge_pages
from kg.write import delete_all

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the graph snapshot is the tests'
from tests.helpers import snapshot

matplotlib.use("Agg")
import matplotlib.pyplot as plt

console = Console(width=200)
RESULTS = Path(__file__).parent / "results"
DATA = PROJECT_ROOT / ".kgrec" / "bench-data"
EPOCHS = 2  # the second is timed: the first pays for warming up
TARGET_EXPONENT = 1.15
DDP_EPOCHS = 3


def measured(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command to its end: (seconds, peak RSS in MB of it and its children, sampled)."""
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)  # fmt: skip
    watched = psutil.Process(process.pid)
    peak = 0.0
    while process.poll() is None:
        try:
            tree = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree) / 2**20)
        except psutil.Error:
            pass  # it ended between the two looks
        time.sleep(0.2)
    if process.returncode:
        error = process.stderr.read().decode()[-3000:] if process.stderr else ""
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {error}")
    return time.perf_counter() - began, peak


def train_epochs(settings: Settings, models_dir: Path, time_full: bool, answer: Connection) -> None:
    """In a spawned process: dataset from the graph, EPOCHS epochs as `kgrec train` would take
    them (that model saved), then EPOCHS the other way (full-graph ones only if `time_full`);
    sends a dict of the seconds of each way's last epoch, whether `kgrec train` samples, the
    seconds to build the dataset and the peak RSS MB."""
    began = time.perf_counter()
    with Graph.connect(settings) as graph, TextEncoder(settings) as encoder:
        dataset = build_dataset(export_graph(graph), encoder.encode)
    built = time.perf_counter() - began
    config = TrainConfig()
    default = config.walks_for(dataset.graph)
    sampled = replace(config, sample_from_links=0).walks_for(dataset.graph)
    # kgrec train's way first, then the other; full-graph epochs only if `time_full`.
    ways = [default] if default and not time_full else [default, 0 if default else sampled]
    epoch_s: dict[str, float | None] = {"sampled": None, "full": None}
    for walks in ways:
        logs: list[EpochLog] = []
        model = fit(dataset, config, EPOCHS, Blend(), on_epoch=logs.append, walks=walks)
        epoch_s["sampled" if walks else "full"] = logs[-1].seconds - logs[-2].seconds
        if walks == default:
            save_model(model, dataset, config.to_dict(), {}, models_dir)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    answer.send({
        "epoch_s": epoch_s["sampled" if default else "full"], "samples": bool(default),
        "epoch_sampled_s": epoch_s["sampled"], "epoch_full_s": epoch_s["full"],
        "dataset_s": built, "train_rss_mb": peak_mb,
    })  # fmt: skip


def p50_ms(base: str, users: list[str], explain: bool) -> float:
    took = []
    with httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=60) as client:
        for user in users:
            began = time.perf_counter()
            response = client.get(f"/users/{user}/recommendations",
                                  params={"k": 10, "explain": str(explain).lower()})  # fmt: skip
            took.append(time.perf_counter() - began)
            response.raise_for_status()
    return float(np.median(took)) * 1000


def one_scale(
    settings: Settings, scale: float, requests: int, work: Path, time_full: bool
) -> dict[str, Any]:
    shop = SyntheticShop(scale)
    reviews, meta = shop_files(scale)
    with Graph.connect(settings) as graph, console.status("Emptying Neo4j..."):
        delete_all(graph)
    env = kgrec_env(settings)
    with console.status(f"{scale:g}x: ingesting..."):
        ingest_s, ingest_rss = measured(
            [sys.executable, "-m", "kg.cli", "ingest", "amazon2018", "--reviews", str(reviews),
             "--meta", str(meta), "--no-extract"], env,
        )  # fmt: skip
    with Graph.connect(settings) as graph:
        [[nodes]] = graph.read_values("MATCH (n) RETURN count(n)")
        [[relationships]] = graph.read_values("MATCH ()-[r]->() RETURN count(r)")
    models_dir = work / f"models-{scale:g}"
    with console.status(f"{scale:g}x: dataset and {EPOCHS} epochs..."):
        receive, send = multiprocessing.get_context("spawn").Pipe(duplex=False)
        child = multiprocessing.get_context("spawn").Process(
            target=train_epochs, args=(settings, models_dir, time_full, send)
        )
        child.start()
        trained = receive.recv()
        child.join()
    users = [f"U{n:09d}" for n in np.random.default_rng(0).choice(
        round(SyntheticShop(scale).counts[1]), size=requests, replace=False)]  # fmt: skip
    port = provision.free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(settings, models_dir, port, log=work / f"serve-{scale:g}.log")
    retrieval = explained = serve_rss = None  # unless the server comes up and answers
    try:
        with console.status(f"{scale:g}x: serving..."):
            wait_ready(base, server, timeout_s=1200)
            p50_ms(base, users[:20], explain=True)  # warm-up
            retrieval = p50_ms(base, users, explain=False)
            explained = p50_ms(base, users, explain=True)
            serve_rss = psutil.Process(server.pid).memory_info().rss / 2**20
    except (RuntimeError, httpx.HTTPError) as failure:  # keep what this scale measured so far
        console.print(
            f"[red]{scale:g}x: serving failed ({failure}); see {work}/serve-{scale:g}.log"
        )
    finally:
        server.terminate()
        server.wait(timeout=60)
    n_items, n_users, _ = shop.counts
    row = {"scale": scale, "reviews": _reviews(reviews), "items": n_items, "users": n_users,
           "nodes": nodes, "relationships": relationships, "ingest_s": ingest_s,
           "ingest_rss_mb": ingest_rss, **trained, "retrieval_p50_ms": retrieval,
           "p50_ms": explained, "serve_rss_mb": serve_rss}  # fmt: skip
    console.print(row)
    return row


def shop_files(scale: float) -> tuple[Path, Path]:
    """The shop's reviews and metadata files, written on first use (kept for reruns)."""
    shop = SyntheticShop(scale)
    folder = DATA / f"synthetic-{scale:g}x-seed{shop.seed}"
    reviews, meta = folder / "Synthetic_5.json.gz", folder / "meta_Synthetic.json.gz"
    if not (reviews.exists() and meta.exists()):
        with console.status(f"Writing the {scale:g}x shop..."):
            shop.write(folder)
    return reviews, meta


def _reviews(path: Path) -> int:
    with gzip.open(path, "rt") as lines:
        return sum(1 for _ in lines)


def ddp_ratio(settings: Settings, scale: float, work: Path) -> float:
    """Test NDCG@10 of `kgrec train --nproc 2` over that of --nproc 1 on the shop in Neo4j."""
    ndcg = []
    for nproc in (1, 2):
        models_dir = work / f"ddp-{nproc}"
        with console.status(f"kgrec train --nproc {nproc} on the {scale:g}x shop..."):
            measured([sys.executable, "-m", "kg.cli", "train", "--epochs", str(DDP_EPOCHS),
                      "--no-baselines", "--no-refit", "--no-write-back", "--no-reuse",
                      "--nproc", str(nproc), "--models-dir", str(models_dir)],
                     kgrec_env(settings))  # fmt: skip
        [version] = [d for d in models_dir.iterdir() if d.is_dir()]
        ndcg.append(json.loads((version / "metrics.json").read_text())["ours"]["ndcg@10"])
    return float(ndcg[1] / ndcg[0])


def spark_load(settings: Settings, scale: float) -> tuple[bool, float, float]:
    """The shop loaded by `kgrec ingest amazon2018`, then by `kgrec ingest spark` (local[2])
    into the emptied database, both --no-extract: (the graphs equal, seconds of each)."""
    reviews, meta = shop_files(scale)
    files = ["--reviews", str(reviews), "--meta", str(meta), "--no-extract"]
    loads = {"amazon2018": [], "spark": ["--master", "local[2]", "--partitions", "4"]}
    graphs, seconds = [], []
    for loader, options in loads.items():
        with Graph.connect(settings) as graph:
            delete_all(graph)
        with console.status(f"kgrec ingest {loader} on the {scale:g}x shop..."):
            took, _ = measured([sys.executable, "-m", "kg.cli", "ingest", loader, *files,
                                *options], kgrec_env(settings))  # fmt: skip
        with Graph.connect(settings) as graph:
            graphs.append(snapshot(graph))
        seconds.append(took)
    return graphs[0] == graphs[1], seconds[0], seconds[1]


def fitted_exponent(rows: list[dict[str, Any]], key: str) -> float | None:
    """k in cost ~ size^k (size: reviews), fitted on log-log by least squares over the scales
    that measured the cost; None below two."""
    measured = [(row["reviews"], row[key]) for row in rows if row[key] is not None]
    if len(measured) < 2:
        return None
    sizes, costs = zip(*measured, strict=True)
    slope, _ = np.polyfit(np.log(sizes), np.log(costs), 1)
    return float(slope)


def _figure(value: float | None, decimals: int) -> str:
    return "-" if value is None else f"{value:.{decimals}f}"


def _rounded(value: float | None, decimals: int) -> float | None:
    return None if value is None else round(value, decimals)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    sizes = [row["reviews"] for row in rows]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for key, label in (("ingest_s", "ingest s"), ("epoch_full_s", "full-graph epoch s"),
                       ("epoch_sampled_s", "sampled epoch s"),
                       ("p50_ms", "explained request p50 ms"),
                       ("retrieval_p50_ms", "retrieval p50 ms")):  # fmt: skip
        points = [(size, row[key]) for size, row in zip(sizes, rows, strict=True)
                  if row[key] is not None]  # fmt: skip
        if points:  # a cost no scale measured (a server that never came up) is left out
            axes.loglog(*zip(*points, strict=True), "o-", label=label)
    linear = [rows[0]["ingest_s"] * size / sizes[0] for size in sizes]
    axes.loglog(sizes, linear, ":", color="grey", label="linear, from the first ingest")
    axes.set(xlabel="reviews in the shop", ylabel="cost", title="kgrec's costs against shop size")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(
    scales: Annotated[str, typer.Option(help="multiples of Beauty's size, comma-separated")] = (
        "1,4,16"
    ),
    requests: Annotated[int, typer.Option(min=20, help="users asked for per scale")] = 200,
    ddp: Annotated[bool, typer.Option(help="compare --nproc 2 with 1 (--checks-at)")] = True,
    checks_at: Annotated[
        float, typer.Option(help="the shop the Spark load and --nproc comparison run on")
    ] = 0.25,
    full_epochs_up_to: Annotated[
        float, typer.Option(help="largest scale whose full-graph epochs are timed too")
    ] = 4.0,
) -> None:
    chosen = sorted(float(scale) for scale in scales.split(","))
    prefer_huge_pages()  # as `kgrec` does; the spawned training processes inherit it
    rows = []
    with (
        provision.scratch_server(Settings(), "neo4j-scaling", wipe=False) as settings,
        tempfile.TemporaryDirectory(prefix="kgrec-scaling-") as scratch,
    ):
        work = Path(scratch)
        # The checks' shop first through both loaders, and trained on in 1 and 2 processes.
        spark_equal, single_s, spark_s = spark_load(settings, checks_at)
        console.print(f"Spark load equal to the single-machine load: {spark_equal}")
        ratio = ddp_ratio(settings, checks_at, work) if ddp else None
        for scale in chosen:
            rows.append(one_scale(settings, scale, requests, work, scale <= full_epochs_up_to))
    sizes = [row["reviews"] for row in rows]
    table = Table(title="Synthetic shops (Beauty's counts x scale), one throwaway Neo4j")
    columns = ("scale", "reviews", "items", "nodes", "relationships", "ingest s", "ingest MB",
               "dataset s", "epoch s", "full-graph epoch s", "sampled epoch s", "train MB",
               "retrieval p50 ms", "explained p50 ms", "serve MB")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(f"{row['scale']:g}x", f"{row['reviews']:,}", f"{row['items']:,}",
                      f"{row['nodes']:,}", f"{row['relationships']:,}", f"{row['ingest_s']:.1f}",
                      f"{row['ingest_rss_mb']:.0f}", f"{row['dataset_s']:.1f}",
                      f"{row['epoch_s']:.2f} ({'sampled' if row['samples'] else 'full'})",
                      _figure(row["epoch_full_s"], 2), _figure(row["epoch_sampled_s"], 2),
                      f"{row['train_rss_mb']:.0f}",
                      _figure(row["retrieval_p50_ms"], 2), _figure(row["p50_ms"], 2),
                      _figure(row["serve_rss_mb"], 0))  # fmt: skip
    console.print(table)
    costs = ("ingest_s", "epoch_s", "epoch_sampled_s", "epoch_full_s", "dataset_s", "p50_ms",
             "retrieval_p50_ms")  # fmt: skip
    growth = {key: fitted_exponent(rows, key) for key in costs}
    for key, k in growth.items():
        verdict = (
            ""
            if key not in ("ingest_s", "epoch_s", "epoch_sampled_s") or k is None
            else (f" (target <= {TARGET_EXPONENT}: {'met' if k <= TARGET_EXPONENT else 'NOT met'})")
        )
        console.print(f"growth exponent of {key}: {'n/a' if k is None else f'{k:.3f}'}{verdict}")
    if ratio is not None:
        console.print(f"kgrec train --nproc 2 / --nproc 1, test NDCG@10: {ratio:.4f}")
    console.print(f"{checks_at:g}x shop: kgrec ingest amazon2018 {single_s:.1f} s, kgrec ingest "
                  f"spark (local[2]) {spark_s:.1f} s; graphs equal: {spark_equal}")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    plot(rows, RESULTS / "scaling.png")
    console.print(f"Plot: {RESULTS / 'scaling.png'}")
    print(json.dumps({
        "sizes": sizes,
        "ingest_s": [round(row["ingest_s"], 2) for row in rows],
        "epoch_s": [round(row["epoch_s"], 3) for row in rows],
        "p50_ms": [_rounded(row["p50_ms"], 2) for row in rows],
        "peak_rss_mb": [round(max(row["ingest_rss_mb"], row["train_rss_mb"],
                                  row["serve_rss_mb"] or 0)) for row in rows],
        "ingest_growth_exponent": growth["ingest_s"],
        "epoch_growth_exponent": growth["epoch_s"],
        "epoch_sampled_s": [_rounded(row["epoch_sampled_s"], 3) for row in rows],
        "epoch_full_s": [_rounded(row["epoch_full_s"], 3) for row in rows],
        "epoch_sampled_growth_exponent": growth["epoch_sampled_s"],
        "epoch_full_growth_exponent": growth["epoch_full_s"],
        "ddp_2proc_ndcg_ratio": ratio,
        "spark_graph_equal": spark_equal,
    }))  # fmt: skip


if __name__ == "__main__":
    typer.run(main)
