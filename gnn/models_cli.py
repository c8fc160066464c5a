"""`kgrec models`: the model registry (`gnn.registry`) from the command line (registered in
pyproject.toml under the `kgrec.commands` entry points)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gnn.registry import Decision, Registry, status
from kg.settings import get_settings

console = Console()
err_console = Console(stderr=True)

MODELS_HELP = (
    "The model registry: the models `kgrec train` saved under KGREC_MODELS_DIR, which one "
    "serves, and why."
    "\n\n"
    "The SERVING file in that directory names the version the API serves (without it, the "
    "newest serves); a running API follows it within KGREC_API_MODEL_WATCH_S seconds. "
    "registry.jsonl records every promotion, rollback and rejection with its reason. Each "
    "model's card.json holds its data fingerprint, test metrics, parent version and the "
    "checksums of its files, checked before the model is promoted or loaded."
)
models_app = typer.Typer(name="models", help=MODELS_HELP, no_args_is_help=True)

ModelsDir = Annotated[
    Path | None, typer.Option(help="The models directory (default KGREC_MODELS_DIR).")
]
Reason = Annotated[str | None, typer.Option(help="Why, for registry.jsonl and `models show`.")]
NO_POINTER = "serving (the newest; no SERVING pointer yet)"


def fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(1)


def open_registry(models_dir: Path | None) -> Registry:
    return Registry(models_dir or get_settings().models_dir)


@dataclass(frozen=True)
class Serving:
    """The version that serves (the pointer's, else the newest) and what the registry says."""

    version: str | None
    label: str
    history: list[Decision]

    @classmethod
    def of(cls, registry: Registry) -> Serving:
        try:
            pointer = registry.serving()
        except ValueError as exc:  # an unreadable pointer: the message says how to fix it
            raise fail(str(exc)) from None
        if pointer is not None:
            return cls(pointer, "serving", registry.history())
        versions = registry.versions()
        return cls(versions[-1] if versions else None, NO_POINTER, registry.history())

    def status(self, version: str) -> str:
        found = status(version, self.version, self.history)
        return self.label if found == "serving" else found


@models_app.command("list")
def list_models(models_dir: ModelsDir = None) -> None:
    """List the saved models, oldest first: when each was made, on how many interactions,
    its test NDCG@10, its status (serving, promoted before, rejected, or candidate: never
    served) and the version it was trained from."""
    registry = open_registry(models_dir)
    versions = registry.versions()
    if not versions:
        console.print(f"No model in {registry.models_dir}; train one with `kgrec train`.")
        return
    serving = Serving.of(registry)
    table = Table(title=f"Models in {registry.models_dir}")
    width = max(map(len, versions))  # versions whole, to copy, however narrow the terminal
    table.add_column("version", min_width=width, no_wrap=True)
    table.add_column("created")
    table.add_column("interactions", justify="right")
    table.add_column("NDCG@10", justify="right")
    table.add_column("status")
    table.add_column("parent", overflow="fold")
    for version in versions:
        try:
            card = registry.card(version)
        except ValueError as exc:  # a damaged card: the message says what to do
            raise fail(str(exc)) from None
        if card is None:
            row = ["-", "-", "-"]  # saved before cards
        else:
            ndcg = card["metrics"].get("ndcg@10")
            row = [
                card["created"][:19].replace("T", " "),
                f"{sum(card['data']['interactions'].values()):,}",
                "-" if ndcg is None else f"{ndcg:.4f}",
            ]
        parent = (card or {}).get("parent") or "-"
        state = serving.status(version)
        table.add_row(version, *row, state, parent, style="bold" if "serving" in state else None)
    console.print(table)


def _evaluation(evaluation: dict[str, Any]) -> str:
    """`kgrec retrain`'s evaluation of a fit, in one line."""
    ours, theirs = evaluation["candidate"]["ndcg@10"], evaluation["serving"]["ndcg@10"]
    return (
        f"{'warm' if evaluation['warm'] else 'full'} candidate NDCG@10 {ours:.4f} vs "
        f"{evaluation['serving_version']}'s {theirs:.4f} on split {evaluation['split']} "
        f"({evaluation['test_users']} test users, {evaluation['users_serving_scored']} "
        f"scorable by it), {evaluation['best_epoch']} epochs"
    )


@models_app.command()
def show(
    version: Annotated[
        str | None, typer.Argument(help="A version from `kgrec models list` (default: serving).")
    ] = None,
    models_dir: ModelsDir = None,
) -> None:
    """Show a model's card (data, metrics, parent, files and their checksums) and every
    registry decision about it: promoted, rolled back to or rejected, when and why."""
    registry = open_registry(models_dir)
    serving = Serving.of(registry)
    version = version or serving.version
    if version is None:
        raise fail(f"no model in {registry.models_dir}; train one with `kgrec train`")
    try:
        card = registry.card(version)
    except ValueError as exc:
        raise fail(str(exc)) from None
    facts = Table(show_header=False, box=None, title=version, title_justify="left")
    facts.add_row("status", serving.status(version))
    if card is None:
        facts.add_row("card", "none (saved before model cards: files not checksummed)")
    else:
        data = card["data"]
        facts.add_row("created", card["created"])
        facts.add_row("parent", card["parent"] or "- (trained from scratch)")
        facts.add_row("data", f"fingerprint {data['hash'][:10]}, split {data['split']}")
        facts.add_row("nodes", _counts(data["nodes"]))
        facts.add_row("interactions", _counts(data["interactions"]))
        facts.add_row("test metrics", _counts(card["metrics"]) or "-")
        if evaluation := card.get("evaluation"):  # a `kgrec retrain` fit: what justified it
            facts.add_row("evaluation", _evaluation(evaluation))
        for name, file in card["files"].items():
            facts.add_row(f"  {name}", f"{file['bytes']:,} bytes, sha256 {file['sha256'][:16]}")
    console.print(facts)
    mine = [d for d in serving.history if version in (d.version, d.previous)]
    if not mine:
        console.print("No registry decision about it yet.")
        return
    table = Table(title="Registry decisions", title_justify="left")
    for column in ("time", "action", "version", "replaced", "reason"):
        table.add_column(column)
    for decision in mine:
        table.add_row(
            decision.time, decision.action, decision.version, decision.previous or "-",
            escape(decision.reason),
        )  # fmt: skip
    console.print(table)


@models_app.command()
def promote(
    version: Annotated[str, typer.Argument(help="A version from `kgrec models list`.")],
    reason: Reason = None,
    models_dir: ModelsDir = None,
) -> None:
    """Serve VERSION: check its files against its card, then point SERVING at it (atomically)
    and record it in registry.jsonl. A running API switches within KGREC_API_MODEL_WATCH_S
    seconds (or at `POST /admin/reload`)."""
    registry = open_registry(models_dir)
    try:
        decision = registry.promote(version, reason or "promoted with `kgrec models promote`")
    except ValueError as exc:  # unknown version, damaged files: each says how to fix it
        raise fail(str(exc)) from None
    if decision is None:
        console.print(f"{version} serves already.")
        return
    replaced = decision.previous or "the newest, without a pointer"
    console.print(f"Serving {version} (before: {replaced}).")


@models_app.command()
def rollback(reason: Reason = None, models_dir: ModelsDir = None) -> None:
    """Serve again the version that served before the current one (checked against its card
    first). Run it again to go further back."""
    registry = open_registry(models_dir)
    try:
        decision = registry.rollback(reason or "rolled back with `kgrec models rollback`")
    except ValueError as exc:
        raise fail(str(exc)) from None
    console.print(f"Serving {decision.version} again (instead of {decision.previous}).")


def _counts(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {value:.4f}" if isinstance(value, float) else f"{name} {value:,}"
        for name, value in values.items()
    )
