"""`kgrec train`: read the graph, train the GNN, save a versioned model, write embeddings back
(registered in pyproject.toml under the `kgrec.commands` entry points)."""

from __future__ import annotations

import json
import signal
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gnn.artifacts import (
    EMBEDDINGS,
    METRICS,
    SERVING,
    DamagedModelError,
    find_model,
    remove_partials,
    save_model,
)
from gnn.comparison import Comparison, compare
from gnn.dataset import NoInteractionsError, RecDataset, build_dataset
from gnn.distributed import torchrun_rank, train_data_parallel, train_in_torchrun
from gnn.infer import LoadedModel
from gnn.model import ModelConfig
from gnn.registry import Registry, RegistryError
from gnn.retrain import (
    Phases,
    RetrainError,
    decide,
    evaluate,
    fit_served,
    parse_period,
    retrain_lock,
    run_every,
    warm_config,
    warm_start,
)
from gnn.scoring import Blend
from gnn.text import TextEncoder
from gnn.train import EpochLog, Loss, TrainConfig, TrainResult, epoch_progress
from kg.connection import Graph
from kg.embeddings import record_model_version, write_embeddings
from kg.errors import GraphError, GraphUnavailableError
from kg.export import export_graph
from kg.provision import ProvisionError
from kg.settings import Settings, get_settings

console = Console()
err_console = Console(stderr=True)
SHOWN_METRICS = ("ndcg@10", "recall@10", "hr@10", "precision@10", "ndcg@20", "recall@20")

TRAIN_HELP = (
    "Train the GNN recommender on the graph in Neo4j and save it as a versioned model."
    "\n\n"
    "Reads every node and relationship (`kgrec ingest ...` loads them), encodes item, brand and "
    "category text with all-MiniLM-L6-v2 (cached in .kgrec/cache), splits the interactions "
    "(the graph's own `split` where it has one, else the last interaction of each user is test "
    "and the one before validation), trains with early stopping on validation NDCG@10, picks "
    "the served blend of the GNN, item-link and EASE scores on validation (the grid includes "
    "'no GNN' and 'EASE alone'), then refits on train + validation for the best epoch count and "
    "measures test once. The simple baselines (MostPopular, ItemKNN, EASE, KG-EASE where the "
    "shop has item links, text-only MiniLM) are tuned on the same validation slice and tested "
    "on the same split, and shown beside ours (--no-baselines skips them)."
    "\n\n"
    "Writes .kgrec/models/<time>-<data hash>/ with the weights, embeddings, config, data "
    "fingerprint, library versions, results.md / metrics.json, curves.png and card.json (the "
    "checksums of them all), sets an `embedding` property (plus a cosine vector index) on Item "
    "and User nodes, and promotes the model: the registry's SERVING pointer names it and a "
    "running API switches to it (--no-promote leaves it a candidate; see `kgrec models`). Uses "
    "CUDA when there is a GPU (KGREC_DEVICE=auto|cpu|cuda). --nproc N trains data-parallel in "
    "N processes (torch.distributed: a GPU each with NCCL when there are N, else the CPUs with "
    "gloo); each takes a share of every batch, so the model is the one a single process trains, "
    "up to float rounding. Across machines, launch it with torchrun instead (`torchrun --nnodes "
    "M --nproc-per-node N --rdzv-endpoint HOST:PORT -m kg.cli train ...`, no --nproc): every "
    "process reads the graph and trains its share; rank 0 saves, writes back and promotes."
    "\n\n"
    "Each step propagates over the whole graph, which is exact; from --sample-from-links "
    "links in the training graph (default 500,000, from where a full-graph epoch costs over "
    "twice a sampled one) each step estimates its batch's embeddings from --walks random walks a "
    "node instead, so a step's cost is bounded by its batch rather than by the graph."
)

train_app = typer.Typer(name="train", help=TRAIN_HELP, no_args_is_help=False)


def fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(1)


# What stops a training run short, each with a message that says how to go on (`explain`).
RUN_ERRORS = (
    NoInteractionsError, GraphError, ProvisionError, RetrainError, RegistryError,
    DamagedModelError,
)  # fmt: skip


def explain(exc: Exception) -> str:
    """The message of one of `RUN_ERRORS`: a Neo4j failure gets what to check."""
    if isinstance(exc, GraphError) and not isinstance(exc, GraphUnavailableError):
        return f"Neo4j failed: {exc}. Check `kgrec neo4j status` and run again."
    return str(exc)


def read_dataset(graph: Graph, settings: Settings, cold_items: float, seed: int) -> RecDataset:
    """The graph as it is now, encoded and split as `kgrec train` splits it."""
    with console.status("Reading the graph from Neo4j..."):
        exported = export_graph(graph)
    with (
        console.status("Encoding node text (cached after the first run)..."),
        TextEncoder(settings) as encoder,
    ):
        return build_dataset(exported, encoder.encode, cold_item_fraction=cold_items, seed=seed)


@train_app.callback(invoke_without_command=True)
def main(
    epochs: Annotated[int, typer.Option(min=1, help="Most epochs before stopping.")] = 100,
    patience: Annotated[
        int, typer.Option(min=1, help="Epochs without a better validation NDCG@10 before stopping.")
    ] = 5,
    dim: Annotated[int, typer.Option(min=2, help="Embedding size.")] = 128,
    layers: Annotated[int, typer.Option(min=0, max=4, help="Propagation layers.")] = 2,
    loss: Annotated[str, typer.Option(help="softmax (sampled, cosine) or bpr.")] = "softmax",
    lr: Annotated[float, typer.Option(min=0, help="Adam learning rate.")] = 0.01,
    batch_size: Annotated[int, typer.Option(min=1, help="Positive pairs per step.")] = 16384,
    cold_items: Annotated[
        float,
        typer.Option(
            min=0, max=0.9, help="Share of items held out of training entirely (cold-item slice)."
        ),
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of splits, sampling and initialisation.")] = 0,
    reuse: Annotated[
        bool,
        typer.Option(
            help="Skip training when a model of exactly this data and configuration "
            "exists (so `make demo` trains once)."
        ),
    ] = False,
    refit: Annotated[
        bool, typer.Option(help="Retrain on train + validation for the best epoch count.")
    ] = True,
    baselines: Annotated[
        bool, typer.Option(help="Tune and test the simple baselines on the same split.")
    ] = True,
    write_back: Annotated[
        bool, typer.Option(help="Write embeddings back to Neo4j (property + vector index).")
    ] = True,
    models_dir: Annotated[
        Path | None, typer.Option(help="Where models go (default KGREC_MODELS_DIR).")
    ] = None,
    promote: Annotated[
        bool,
        typer.Option(
            help="Serve the new model: point the registry at it (a running API follows). "
            "--no-promote saves it as a candidate for `kgrec models promote`."
        ),
    ] = True,
    nproc: Annotated[
        int,
        typer.Option(
            min=1, help="Train in this many processes, data-parallel (a GPU each when there are)."
        ),
    ] = 1,
    sample_from_links: Annotated[
        int,
        typer.Option(
            min=0,
            help="From this many links in the training graph, a step estimates its batch's "
            "embeddings from random walks instead of propagating over the whole graph "
            "(0: always).",
        ),
    ] = TrainConfig.sample_from_links,
    walks: Annotated[
        int,
        typer.Option(
            min=1,
            help="Random walks a node's embedding is estimated from in a sampled step (more: "
            "less noise, slower steps).",
        ),
    ] = TrainConfig.walks,
) -> None:
    """`kgrec train` (help: TRAIN_HELP)."""
    if loss not in ("softmax", "bpr"):
        raise fail(f"--loss must be softmax or bpr, not {loss!r}")
    settings = get_settings()
    chosen_loss: Loss = "softmax" if loss == "softmax" else "bpr"
    config = TrainConfig(
        model=ModelConfig(dim=dim, num_layers=layers), loss=chosen_loss, lr=lr,
        batch_size=batch_size, max_epochs=epochs, patience=patience, refit=refit, seed=seed,
        device=settings.device, sample_from_links=sample_from_links,
        walks=walks,
    )  # fmt: skip
    directory = models_dir or settings.models_dir
    rank = torchrun_rank()
    if rank is not None and nproc != 1:
        raise fail("--nproc starts processes on this machine; under torchrun, its "
                   "--nproc-per-node and --nnodes say how many (leave --nproc out)")  # fmt: skip
    try:
        if rank:  # another machine's or process's share; rank 0 saves, writes back, promotes
            with Graph.connect(settings) as graph:
                dataset = read_dataset(graph, settings, cold_items, seed)
            if not (reuse and find_model(directory, dataset, config.to_dict())):
                train_in_torchrun(dataset, config)
            return
        with retrain_lock(directory), Graph.connect(settings) as graph:
            dataset = read_dataset(graph, settings, cold_items, seed)
            describe(dataset)
            if reuse and (found := find_model(directory, dataset, config.to_dict())):
                console.print(f"A model of exactly this data and configuration exists: {found}")
                if write_back:  # the graph may have been emptied and loaded again since
                    write_back_embeddings(graph, found, dataset)
                return
            progress, on_epoch = epoch_progress(console, epochs)
            with progress:
                result = (
                    train_data_parallel(dataset, config, nproc, on_epoch)
                    if rank is None
                    else train_in_torchrun(dataset, config, on_epoch)
                )
            comparison = None
            if baselines:
                with console.status("Baselines: tuning on validation, refit, test..."):
                    comparison = compare(dataset)
            saved = save_results(result, dataset, config, directory, comparison)
            if write_back:
                write_back_embeddings(graph, saved, dataset)
    except RUN_ERRORS as exc:
        raise fail(explain(exc)) from None
    console.print(f"Model saved in {saved}")
    if not promote:
        console.print(f"Not serving it (--no-promote); `kgrec models promote {saved.name}` does.")
        return
    ndcg = result.test["ndcg@10"]
    Registry(directory).promote(saved.name, f"kgrec train (test NDCG@10 {ndcg:.4f})")
    console.print(
        f"Serving it: {directory / SERVING} names it (a running API switches to it within "
        "KGREC_API_MODEL_WATCH_S seconds; `kgrec models rollback` goes back)."
    )


RETRAIN_HELP = (
    "Retrain the serving model on the graph as it is now; serve the result only if it is not "
    "worse."
    "\n\n"
    "Two jobs. Evaluate: split the graph as `kgrec train` does (each user's latest interaction "
    "is test, the one before validation), train a candidate on the rest with the serving "
    "model's configuration, and measure it and the serving model (its saved embeddings and "
    "blend; a test user or item it does not know is a miss) on the same test interactions. "
    "Fit: train on every interaction, none held out, for the epochs and with the blend the "
    "evaluation picked. The fit is promoted (the registry's SERVING pointer names it; a "
    "running API switches to it) only if the candidate's NDCG@10 is at least (1 - tolerance) "
    "x the serving model's; else it is recorded as rejected with both figures (`kgrec models "
    "show VERSION`), the old model keeps serving and the command exits with status 3. Its card "
    "holds the evaluation and names the serving version as its parent."
    "\n\n"
    "Warm by default: users, items, brands, categories and attributes the serving model knows "
    "start from its learned embeddings (new ones as `kgrec train` starts them: from text and "
    "links), fine-tuned for a quarter of its epochs at a tenth of its learning rate (the start "
    "counts as epoch 0, so early stopping keeps it if no epoch beats it on validation); --full "
    "trains from scratch. One retrain at a time "
    "per models directory (a lock on .retrain.lock; `kgrec train` takes it too); a run killed "
    "midway leaves the serving model as it was, and the next run removes the half-written "
    "model it left. --every 6h (or 30m, 1d) keeps retraining on that period until SIGTERM or "
    "Ctrl-C (the run in progress finishes first), logging one line per run; a failed run is "
    "logged and the next one still comes."
)
REJECTED_EXIT = 3

retrain_app = typer.Typer(name="retrain", help=RETRAIN_HELP, no_args_is_help=False)


@retrain_app.callback(invoke_without_command=True)
def retrain(
    full: Annotated[
        bool,
        typer.Option(
            help="Train from scratch (the serving model's epochs) and search the blend again, "
            "no warm start."
        ),
    ] = False,
    tolerance: Annotated[
        float | None,
        typer.Option(
            min=-1.0,
            max=1.0,
            help="Most relative NDCG@10 loss against the serving model that still promotes "
            "(0.02: 2%; negative: demand that much gain). Default KGREC_RETRAIN_TOLERANCE.",
        ),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(help="Keep retraining on this period (30m, 6h, 1d) until stopped."),
    ] = None,
    write_back: Annotated[
        bool, typer.Option(help="Write a promoted model's embeddings back to Neo4j.")
    ] = True,
    models_dir: Annotated[
        Path | None, typer.Option(help="The registry's models (default KGREC_MODELS_DIR).")
    ] = None,
) -> None:
    """`kgrec retrain` (help: RETRAIN_HELP)."""
    settings = get_settings()
    directory = models_dir or settings.models_dir
    allowed = settings.retrain_tolerance if tolerance is None else tolerance
    if every is None:
        try:
            promoted, summary = retrain_once(settings, directory, allowed, full, write_back)
        except RUN_ERRORS as exc:
            raise fail(explain(exc)) from None
        console.print(escape(summary), highlight=False, soft_wrap=True)
        if not promoted:
            raise typer.Exit(REJECTED_EXIT)
        return
    try:
        period = parse_period(every)
    except ValueError as exc:
        raise fail(str(exc)) from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def once() -> str:
        try:
            return retrain_once(settings, directory, allowed, full, write_back)[1]
        except RUN_ERRORS as exc:
            raise RetrainError(explain(exc)) from exc

    def log(line: str) -> None:
        # One line per run, however long: log files and `docker logs` read it whole.
        stamp = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
        console.print(f"{stamp} {escape(line)}", highlight=False, soft_wrap=True)

    log(f"retraining every {every}; SIGTERM or Ctrl-C stops after the run in progress")
    run_every(period, once, log, stop)
    log("stopped")


def retrain_once(
    settings: Settings, models_dir: Path, tolerance: float, full: bool, write_back: bool
) -> tuple[bool, str]:
    """One retrain under the lock: (promoted, one-line summary, ending with where the time
    went)."""
    phases = Phases()
    with retrain_lock(models_dir), Graph.connect(settings) as graph:
        removed = remove_partials(models_dir)
        if removed:
            console.print(f"Removed what a killed run left: {', '.join(removed)}")
        try:
            serving = LoadedModel.load(models_dir)
        except FileNotFoundError as exc:
            raise RetrainError(f"nothing to retrain: {exc}") from None
        registry = Registry(models_dir)
        if registry.serving() is None:  # "the newest serves" would serve whatever is saved next
            registry.promote(serving.path.name, "pinned by kgrec retrain: it served as the newest")
        # The saved config is the recipe; how this run started (warm, fewer epochs) is in its
        # evaluation.
        recipe = replace(TrainConfig.from_dict(serving.config), device=settings.device)
        initialise = None if full else warm_start(serving.path)
        config = recipe if initialise is None else warm_config(recipe)
        with phases.timed("read"):
            dataset = read_dataset(graph, settings, 0.0, config.seed)
        with (
            phases.timed("evaluate"),
            console.status(f"Evaluating: a candidate on {dataset.split} vs {serving.path.name}"),
        ):
            evaluation, result = evaluate(dataset, config, serving, initialise)
        with phases.timed("fit"), console.status("Fitting on every interaction..."):
            model, everything = fit_served(dataset, config, result, initialise)
        promoted, reason = decide(evaluation, tolerance)
        summary = {**results(result, dataset, None), "evaluation": evaluation.to_dict()}
        with phases.timed("save"):
            saved = save_model(
                model, everything, recipe.to_dict(), summary, models_dir,
                parent=serving.path.name, evaluation=evaluation.to_dict(),
            )  # fmt: skip
        if not promoted:
            registry.reject(saved.name, reason)
            return False, (f"rejected {saved.name}, {serving.path.name} keeps serving: {reason}; "
                           f"{phases.describe()}")  # fmt: skip
        registry.promote(saved.name, reason)
        if write_back:
            with phases.timed("write-back"):
                write_back_embeddings(graph, saved, everything)
    return True, f"promoted {saved.name}: {reason}; {phases.describe()}"


def describe(dataset: RecDataset) -> None:
    interactions = dataset.interactions
    console.print(
        f"{interactions.n_users:,} users, {dataset.n_items:,} catalogue items "
        f"({dataset.graph.num_nodes['item']:,} item nodes); split from {dataset.split}: "
        f"{interactions.train.nnz:,} train / {interactions.valid.nnz:,} valid / "
        f"{interactions.test.nnz:,} test interactions."
    )
    for note in dataset.notes:
        console.print(f"note: {note}")


def results(
    result: TrainResult, dataset: RecDataset, comparison: Comparison | None
) -> dict[str, Any]:
    blend = result.model.blend
    return {
        "split": dataset.split,
        "ours": result.test,
        "cold_items": result.cold_test,
        "best_valid": result.best_valid,
        "best_epoch": result.best_epoch,
        "blend": blend.to_dict(),
        "blend_valid_ndcg10": {b.describe(): v for b, v in result.blend_valid.items()},
        "cold_offset_ndcg10": (
            {
                "cold_weight": tuning.weight,
                **{f"{offset:.4g}": trial._asdict() for offset, trial in tuning.trials.items()},
            }
            if (tuning := result.cold_valid)
            else {}
        ),
        "test_gnn_only": result.test_gnn_only,
        "baselines": (
            {name: vars(r) for name, r in comparison.results.items()} if comparison else None
        ),
        "baselines_skipped": comparison.skipped if comparison else {},
        "epochs_run": len(result.history),
        "train_seconds": result.train_seconds,
        "seconds_to_best_epoch": result.seconds_to_best,
        "peak_rss_mb": result.peak_rss_mb,
        "device": result.device,
        "processes": result.processes,
        "sampled_walks": result.walks or None,
        "notes": list(dataset.notes),
        "history": [vars(log) for log in result.history],
    }


def result_rows(summary: dict[str, Any]) -> list[tuple[str, dict[str, float], str, str]]:
    """(name, test metrics, validation NDCG@10, cold-item Recall@20) of ours, the GNN alone
    and each baseline, in the order the table shows them."""
    served = Blend(**summary["blend"])
    blend = served.describe()
    # Validation scored the blend before its cold offset, which has a slice of its own.
    picked = summary["blend_valid_ndcg10"].get(replace(served, cold=0.0).describe())
    rows = [
        (f"ours, served ({blend})", summary["ours"], picked, summary["cold_items"]),
        ("ours: GNN alone", summary["test_gnn_only"], summary["best_valid"]["ndcg@10"], None),
    ]
    for name, baseline in (summary["baselines"] or {}).items():
        rows.append((name, baseline["test"], baseline["valid_ndcg10"], baseline["cold"]))
    return [
        (name, test, "-" if valid is None else f"{valid:.4f}",
         "-" if cold is None else f"{cold['recall@20']:.4f}")
        for name, test, valid, cold in rows
    ]  # fmt: skip


def verdict(summary: dict[str, Any]) -> str:
    """One line: which blend won on validation, and how ours stands to the best baseline."""
    line = f"Served blend, picked on validation: {Blend(**summary['blend']).describe()}."
    baselines = summary["baselines"]
    if baselines:
        best = max(baselines, key=lambda name: baselines[name]["test"]["ndcg@10"])
        ratio = summary["ours"]["ndcg@10"] / max(baselines[best]["test"]["ndcg@10"], 1e-12)
        line += f" Test NDCG@10: ours / best baseline ({best}) = {ratio:.3f}."
    for name, reason in summary["baselines_skipped"].items():
        line += f" {name} skipped: {reason}."
    return line


def save_results(
    result: TrainResult,
    dataset: RecDataset,
    config: TrainConfig,
    models_dir: Path,
    comparison: Comparison | None = None,
) -> Path:
    summary = results(result, dataset, comparison)

    def reports(directory: Path) -> None:
        (directory / "results.md").write_text(results_markdown(summary))
        plot_curves(result.history, directory / "curves.png")

    directory = save_model(
        result.model, dataset, config.to_dict(), summary, models_dir, reports=reports
    )
    table = Table(title="Test (full ranking over the catalogue, training items excluded)")
    for column in ("model", *SHOWN_METRICS, "valid ndcg@10", "cold recall@20"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, metrics, valid, cold in result_rows(summary):
        table.add_row(name, *(f"{metrics[m]:.4f}" for m in SHOWN_METRICS), valid, cold)
    console.print(table)
    console.print(verdict(summary))
    console.print(
        f"best epoch {result.best_epoch} (validation NDCG@10 {result.best_valid['ndcg@10']:.4f}), "
        f"reached after {result.seconds_to_best:.0f} s; training {result.train_seconds:.0f} s in "
        f"all on {result.device}; peak RSS {result.peak_rss_mb:,.0f} MB. Results: "
        f"{directory / 'results.md'}, {directory / METRICS}"
    )
    console.print(json.dumps({k: summary[k] for k in ("split", "ours", "cold_items", "blend")}))
    return directory


def results_markdown(summary: dict[str, Any]) -> str:
    columns = ("model", *SHOWN_METRICS, "valid ndcg@10", "cold recall@20")
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for name, metrics, valid, cold in result_rows(summary):
        values = [f"{metrics[m]:.4f}" for m in SHOWN_METRICS]
        lines.append(f"| {name} | " + " | ".join([*values, valid, cold]) + " |")
    lines += [
        "",
        verdict(summary),
        "",
        f"Split: {summary['split']}. Best epoch {summary['best_epoch']} of "
        f"{summary['epochs_run']}, reached after {summary['seconds_to_best_epoch']:.0f} s; "
        f"training {summary['train_seconds']:.0f} s on {summary['device']}; "
        f"peak RSS {summary['peak_rss_mb']:,.0f} MB.",
        *(f"Note: {note}." for note in summary["notes"]),
    ]
    return "\n".join(lines) + "\n"


def plot_curves(history: list[EpochLog], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    figure, (loss_axis, ndcg_axis) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [log.epoch for log in history]
    loss_axis.plot(epochs, [log.loss for log in history], marker="o")
    loss_axis.set(title="training loss", xlabel="epoch")
    ndcg_axis.plot(
        epochs, [log.valid_ndcg10 or 0.0 for log in history], marker="o", color="tab:green"
    )
    ndcg_axis.set(title="validation NDCG@10", xlabel="epoch")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_back_embeddings(graph: Graph, saved: Path, dataset: RecDataset) -> None:
    """The saved model's user and item embeddings, the items' text vectors (search's semantic
    half) and a `(:ModelVersion)` node for analysts; `dataset` is the data it was saved with."""
    with console.status("Writing embeddings back to Neo4j..."):
        vectors = torch.load(saved / EMBEDDINGS, map_location="cpu", weights_only=True)
        item_ids = dataset.ids["item"][: dataset.n_items]
        text = dataset.features["item"][: dataset.n_items].numpy()
        write_embeddings(graph, "Item", item_ids, text, prop="text_embedding")
        written = write_embeddings(graph, "Item", item_ids, vectors["items"].numpy())
        written += write_embeddings(graph, "User", dataset.ids["user"], vectors["users"].numpy())
        if card := Registry(saved.parent).card(saved.name):
            record_model_version(graph, card)
    console.print(
        f"Wrote `embedding` on {written:,} Item and User nodes (vector indexes item_embedding, "
        "user_embedding), the items' `text_embedding` (index item_text_embedding, for "
        f"search) and (:ModelVersion {{id: '{saved.name}'}})."
    )
