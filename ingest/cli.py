"""`kgrec ingest ...`: load source files into the graph (registered in pyproject.toml under
the `kgrec.commands` entry points)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Annotated, Self

import typer
from neo4j.exceptions import DriverError, Neo4jError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ingest.amazon2018 import load_amazon2018
from ingest.sources.amazon2018 import check_files
from ingest.summary import IngestSummary
from kg.connection import Graph, GraphUnavailableError
from kg.provision import ProvisionError
from kg.read import GraphCounts, counts
from kg.schema import apply_schema
from kg.settings import get_settings
from kg.write import GraphWriter, InvalidRowsError

console = Console()
err_console = Console(stderr=True)

AMAZON2018_HELP = (
    "Load Amazon Review Data 2018 files: a category's reviews and, optionally, its metadata."
    "\n\n"
    "Expects the per-category files of the 2018 release (JSON lines, gzip or plain), e.g. "
    "Magazine_Subscriptions_5.json.gz (the 5-core reviews) and "
    "meta_Magazine_Subscriptions.json.gz (the metadata). Get them from "
    "https://cseweb.ucsd.edu/~jmcauley/datasets/amazon_v2/ (research use; cite Ni, Li & "
    "McAuley, EMNLP 2019). A small sample ships in data/sample/; its README.md says where "
    "it comes from."
    "\n\n"
    "Connects to the Neo4j of `kgrec neo4j status`, applies the schema, and writes items, "
    "brands, categories, item links, users, reviews and ratings. Unreadable lines and "
    "duplicates are set aside and counted by reason."
)

ingest_app = typer.Typer(
    name="ingest",
    help=(
        "Load raw source files into the graph. Loads are idempotent: running one again "
        "changes nothing. Bad lines are set aside with a reason, never loaded half-way."
    ),
    no_args_is_help=True,
)


def fail(message: str) -> typer.Exit:
    # Messages quote paths and source values: escape them so they print as they are.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(1)


@ingest_app.command("amazon2018", help=AMAZON2018_HELP)
def amazon2018(
    reviews: Annotated[
        Path,
        typer.Option(
            "--reviews",
            help="Reviews file, `<Category>_5.json.gz` (one JSON review a line; gzip or plain).",
            show_default=False,
        ),
    ],
    meta: Annotated[
        Path | None,
        typer.Option(
            "--meta",
            help="Metadata file, `meta_<Category>.json.gz`: items, brands, categories, links. "
            "Without it only users, reviews and ratings are loaded.",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size", min=1, max=100_000,
            help="Rows per write transaction (default: KGREC_WRITE_BATCH_SIZE, 5000).",
        ),
    ] = None,
) -> None:  # fmt: skip
    """`kgrec ingest amazon2018` (help: AMAZON2018_HELP)."""
    settings = get_settings()
    try:
        check_files(reviews, meta)
        with Graph.connect(settings) as graph:
            apply_schema(graph, settings.cypher_dir / "schema.cypher")
            writer = GraphWriter(graph, batch_size or settings.write_batch_size)
            with ProgressBars(console) as bars:
                summary = load_amazon2018(writer, reviews, meta, bars.update)
            totals = counts(graph)
    except FileNotFoundError as exc:
        raise fail(
            f"{exc} See `kgrec ingest amazon2018 --help` for where to get the files."
        ) from None
    except OSError as exc:
        raise fail(
            f"cannot read {exc.filename}: {exc.strerror}. Check the path and permissions."
        ) from None
    except (GraphUnavailableError, ProvisionError) as exc:
        raise fail(str(exc)) from None
    except InvalidRowsError as exc:
        raise fail(f"the graph refused some rows, which were not written: {exc}") from None
    except (Neo4jError, DriverError) as exc:
        raise fail(
            f"Neo4j failed during the load: {exc}. Check `kgrec neo4j status`, then run the same "
            "command again: loading is idempotent, so nothing is written twice."
        ) from None
    print_summary(summary, totals)


class ProgressBars:
    """One rich progress bar per stage, added as the stage starts; a stage is complete once
    the next one starts."""

    def __init__(self, target: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=target,
        )
        self.tasks: dict[str, TaskID] = {}

    def update(self, stage: str, done: int, total: int | None) -> None:
        task = self.tasks.get(stage)
        if task is None:
            self._complete_all()
            task = self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(task, completed=done)

    def _complete_all(self) -> None:
        for task in self.progress.tasks:
            self.progress.update(task.id, total=task.completed)

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._complete_all()
        self.progress.stop()


def print_summary(summary: IngestSummary, totals: GraphCounts) -> None:
    files = Table(title="Source files", title_justify="left")
    for column in ("file", "read", "kept", "set aside", "set aside because"):
        files.add_column(
            column, justify="left" if column in ("file", "set aside because") else "right"
        )
    for tally in summary.sources:
        reasons = "\n".join(
            f"{count:,} {reason}" for reason, count in tally.set_aside.most_common()
        )
        files.add_row(Text(tally.source), f"{tally.read:,}", f"{tally.kept:,}",
                      f"{tally.set_aside.total():,}", Text(reasons or "-"))  # fmt: skip
    console.print(files)

    writes = Table(title="Written this run", title_justify="left")
    for column in ("rows", "count", "nodes created", "relationships created"):
        writes.add_column(column, justify="left" if column == "rows" else "right")
    for write in summary.writes.values():
        writes.add_row(write.kind, f"{write.rows:,}", f"{write.nodes_created:,}",
                       f"{write.relationships_created:,}")  # fmt: skip
    console.print(writes)

    graph = Table(title="In the graph now", title_justify="left")
    for column in ("nodes", "count", "relationships", "count"):
        graph.add_column(column, justify="right" if column == "count" else "left")
    nodes, relationships = list(totals.nodes.items()), list(totals.relationships.items())
    for index in range(max(len(nodes), len(relationships))):
        node = nodes[index] if index < len(nodes) else ("", None)
        rel = relationships[index] if index < len(relationships) else ("", None)
        graph.add_row(node[0], _count(node[1]), rel[0], _count(rel[1]))
    graph.add_row("total", _count(totals.total_nodes), "total", _count(totals.total_relationships),
                  style="bold")  # fmt: skip
    console.print(graph)

    examples = [example for tally in summary.sources for example in tally.examples]
    if examples:
        console.print("Examples of set-aside lines:")
        for example in examples:
            console.print(Text(f"  {example.source}:{example.line}: {example.reason}"))
            if example.excerpt:
                console.print(Text(f"      {example.excerpt}", style="dim"))
    console.print(
        f"Loaded in {summary.seconds:.1f} s: {summary.nodes_created:,} nodes and "
        f"{summary.relationships_created:,} relationships created."
    )


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"
