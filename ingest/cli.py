"""`kgrec ingest ...`: load source files into the graph (registered in pyproject.toml under
the `kgrec.commands` entry points)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Annotated, Self

import typer
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

from ingest.extract.llm import LLMError
from ingest.extract.mention_cache import MentionCache
from ingest.extract.stage import ExtractionStage, build_extractors
from ingest.sources.amazon2018.load import load_amazon2018
from ingest.sources.amazon2018.read import check_files
from ingest.sources.beauty.load import load_beauty
from ingest.sources.beauty.read import BeautyFiles
from ingest.sources.files import SourceFormatError
from ingest.sources.table.load import TableFiles, check_tables, load_tables
from ingest.sources.table.read import LAYOUTS
from ingest.stream import Progress as LoadProgress
from ingest.summary import IngestSummary
from kg.connection import Graph
from kg.errors import GraphError, GraphUnavailableError
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
    "categories, item links, users, reviews and ratings, then the brands, attributes and review "
    "aspects extracted from the texts, each link with its provenance. Unreadable lines and "
    "duplicates are set aside and counted by reason. A rerun changes nothing; a run that was "
    "killed is completed by running it again."
)

SPARK_HELP = (
    "Load Amazon Review Data 2018 files (as `kgrec ingest amazon2018`) on Spark: reading, "
    "cleaning, extraction and writing run in the partitions of a Spark cluster (--master; "
    "local[N] runs N cores of this machine), entities are resolved over the whole shop on the "
    "driver. The graph is the one `kgrec ingest amazon2018` writes from the same files, id for "
    "id. Executors need kgrec installed and must reach Neo4j."
)

ingest_app = typer.Typer(
    name="ingest",
    help=(
        "Load raw source files into the graph. Loads are idempotent: running one again "
        "changes nothing. Bad lines are set aside with a reason, never loaded half-way."
    ),
    no_args_is_help=True,
)


BatchSize = Annotated[
    int | None,
    typer.Option(
        "--batch-size", min=1, max=100_000,
        help="Rows per write transaction (default: KGREC_WRITE_BATCH_SIZE, 5000).",
    ),
]  # fmt: skip
Extract = Annotated[
    bool,
    typer.Option(
        "--extract/--no-extract",
        help="Extract brands, attributes and review aspects from the texts with spaCy and rules "
        "(and the LLM, when KGREC_LLM_BACKEND is set). --no-extract keeps only the source's own "
        "brand field. Answers are cached under KGREC_CACHE_DIR: a rerun extracts nothing again.",
    ),
]


def fail(message: str) -> typer.Exit:
    # Messages quote paths and source values: escape them so they print as they are.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(1)


Reviews = Annotated[
    Path,
    typer.Option(
        "--reviews",
        help="Reviews file, `<Category>_5.json.gz` (one JSON review a line; gzip or plain).",
        show_default=False,
    ),
]
Meta = Annotated[
    Path | None,
    typer.Option(
        "--meta",
        help="Metadata file, `meta_<Category>.json.gz`: items, brands, categories, links. "
        "Without it only users, reviews and ratings are loaded.",
    ),
]


@ingest_app.command("amazon2018", help=AMAZON2018_HELP)
def amazon2018(
    reviews: Reviews,
    meta: Meta = None,
    batch_size: BatchSize = None,
    extract: Extract = True,
) -> None:  # fmt: skip
    """`kgrec ingest amazon2018` (help: AMAZON2018_HELP)."""

    def check() -> list[str]:
        check_files(reviews, meta)
        return []

    run_load(
        "amazon2018",
        check,
        lambda writer, progress, stage: load_amazon2018(writer, reviews, meta, progress, stage),
        batch_size,
        extract,
    )


@ingest_app.command("spark", help=SPARK_HELP)
def spark(
    reviews: Reviews,
    meta: Meta = None,
    master: Annotated[
        str, typer.Option(help="Spark master: local[N] (N cores here), spark://host:7077, yarn.")
    ] = "local[2]",
    partitions: Annotated[
        int, typer.Option(min=1, max=100_000, help="Partitions the records are spread over.")
    ] = 4,
    batch_size: BatchSize = None,
    extract: Extract = True,
) -> None:  # fmt: skip
    """`kgrec ingest spark` (help: SPARK_HELP)."""
    # Imported here: starting PySpark is only worth it for this command.
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    from ingest.spark import SparkLoad, load_on_spark, spark_session

    settings = get_settings()

    def check() -> list[str]:
        check_files(reviews, meta)
        return []

    def load(writer: GraphWriter, progress: LoadProgress, stage: ExtractionStage) -> IngestSummary:
        job = SparkLoad(settings, writer.batch_size, extract, partitions)
        try:
            session = spark_session(master)
        except (PySparkException, Py4JError) as exc:
            raise fail(
                f"could not start Spark with --master {master!r} ({_last_line(exc)}): pass "
                "local[N], spark://host:7077 or yarn, with Java 17 or later installed. Nothing "
                "was loaded."
            ) from None
        try:
            return load_on_spark(session, job, reviews, meta, stage, progress)
        except (PySparkException, Py4JError) as exc:
            raise fail(
                f"the Spark job failed: {_last_line(exc)}. Nothing is half-written: run the same "
                "command again once the cause is fixed (loading is idempotent)."
            ) from None
        finally:
            session.stop()

    run_load("spark", check, load, batch_size, extract)


def _last_line(exc: Exception) -> str:
    """What a Spark error says last (its Java or Python stack trace comes before)."""
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


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
    for tally in summary.sources:
        if tally.category_parts:
            reasons = "; ".join(
                f"{count:,} {reason}" for reason, count in tally.category_parts.most_common()
            )
            console.print(Text(f"{tally.source}: category parts set aside: "
                               f"{tally.category_parts.total():,} ({reasons})"))  # fmt: skip

    writes = Table(
        title="Written this run", title_justify="left", caption_justify="left",
        caption="read = new + already there (nodes for node kinds, relationships for the "
        "others). New link ends: nodes a row linked to that no row had written yet, created "
        "with their id only; their own row, if one comes later, finds them already there.",
    )  # fmt: skip
    for column in ("rows", "read", "new", "already there", "new link ends",
                   "relationships created"):  # fmt: skip
        writes.add_column(column, justify="left" if column == "rows" else "right")
    for write in summary.writes.values():
        writes.add_row(write.kind, f"{write.rows:,}", f"{write.created:,}",
                       f"{write.already_there:,}", f"{write.ends_created:,}",
                       f"{write.relationships_created:,}")  # fmt: skip
    console.print(writes)

    if summary.entities:
        entities = Table(title="Extracted entities (canonical)", title_justify="left")
        entities.add_column("kind")
        entities.add_column("count", justify="right")
        for kind, count in sorted(summary.entities.items()):
            entities.add_row(kind, f"{count:,}")
        console.print(entities)
    console.print(
        f"Texts extracted: {summary.texts_extracted:,}; answered from the cache: "
        f"{summary.texts_cached:,}."
    )

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
    cuts = [(tally.source, cut) for tally in summary.sources for cut in tally.category_cuts]
    if cuts:
        console.print("Examples of category paths cut short:")
        for source, cut in cuts:
            after = f"; {cut.following:,} part(s) after it" if cut.following else ""
            console.print(Text(f"  {source}: item {cut.item_id}: {cut.part!r} "
                               f"({cut.reason}{after})"))  # fmt: skip
    console.print(
        f"Loaded in {summary.seconds:.1f} s: {summary.nodes_created:,} nodes and "
        f"{summary.relationships_created:,} relationships created."
    )


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


# --- Amazon 2014 Beauty and your own tables ---------------------------------------------------

BEAUTY_HELP = (
    "Load the Amazon 2014 Beauty 5-core benchmark (the PGPR/CAFE split) with timestamps and "
    "item text: 12,101 items, 22,363 users, 198,502 train/test purchases, brands, categories "
    "and ~1.05M also_bought / also_viewed / bought_together links."
    "\n\n"
    "--kg is the amazon-beauty-pgpr-cafe folder: pgpr/*.txt.gz from github.com/orcax/PGPR "
    "(data/Amazon_Beauty) and cafe/{train,test}_labels.txt.gz from github.com/orcax/CAFE "
    "(data/Beauty). --seq is the amazon-beauty-2014-seq-text folder (interactions.tsv.gz, "
    "items.tsv.gz) that its build.py derives from TiCoSeRec and MARCO. The Amazon data is "
    "UCSD's, for research use (cite He & McAuley, WWW 2016; McAuley et al., SIGIR 2015)."
    "\n\n"
    "Related products outside the catalogue become Item nodes with only an id. Pairs, brands "
    "and categories the two folders disagree on are set aside and counted by reason."
)
TABLE_HELP = (
    "Load your own CSV (.csv, .csv.gz) or Parquet (.parquet) tables: items, and optionally "
    "users, interactions, reviews, item attributes, item links and entity triples (your own "
    "knowledge graph). Columns (by name, any order; others are ignored):"
    "\n\n"
    + "\n\n".join(f"{kind}: {layout.describe()}" for kind, layout in LAYOUTS.items())
    + "\n\n"
    "Rows that do not fit are set aside with their line (CSV) or row (Parquet) number and the "
    "reason. See README.md, 'Bring your own data'."
)


def run_load(
    command: str,
    check: Callable[[], Sequence[str]],
    load: Callable[[GraphWriter, LoadProgress, ExtractionStage], IngestSummary],
    batch_size: int | None,
    extract: bool,
) -> None:
    """Check the files (printing their notes), then load them with progress bars and print the
    summary; every expected failure ends in one clear message and exit code 1."""
    settings = get_settings()
    try:
        for note in check():
            console.print(Text(f"note: {note}"))
        with console.status("Loading the extractors..."):
            extractors = build_extractors(settings, text=extract)
        with (
            Graph.connect(settings) as graph,
            MentionCache(settings.cache_dir / "mentions.sqlite") as cache,
        ):
            apply_schema(graph, settings.cypher_dir / "schema.cypher")
            writer = GraphWriter(graph, batch_size or settings.write_batch_size)
            with ProgressBars(console) as bars:
                summary = load(writer, bars.update, ExtractionStage(extractors, cache))
            totals = counts(graph)
    except FileNotFoundError as exc:
        raise fail(f"{exc} See `kgrec ingest {command} --help` for what to pass.") from None
    except SourceFormatError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(
            f"cannot read {exc.filename}: {exc.strerror}. Check the path and permissions."
        ) from None
    except (GraphUnavailableError, ProvisionError, LLMError) as exc:
        raise fail(str(exc)) from None
    except InvalidRowsError as exc:
        raise fail(f"the graph refused some rows, which were not written: {exc}") from None
    except GraphError as exc:
        raise fail(
            f"Neo4j failed during the load: {exc}. Check `kgrec neo4j status`, then run the same "
            "command again: loading is idempotent, so nothing is written twice."
        ) from None
    print_summary(summary, totals)


@ingest_app.command("beauty", help=BEAUTY_HELP)
def beauty(
    kg: Annotated[
        Path,
        typer.Option("--kg", help="The amazon-beauty-pgpr-cafe folder (pgpr/, cafe/).",
                     show_default=False),
    ],
    seq: Annotated[
        Path,
        typer.Option("--seq", help="The amazon-beauty-2014-seq-text folder (*.tsv.gz).",
                     show_default=False),
    ],
    batch_size: BatchSize = None,
    extract: Extract = True,
) -> None:  # fmt: skip
    """`kgrec ingest beauty` (help: BEAUTY_HELP)."""
    files = BeautyFiles(kg=kg, seq=seq)

    def check() -> list[str]:
        files.check()
        return []

    run_load("beauty", check,
             lambda writer, progress, stage: load_beauty(writer, kg, seq, progress, stage),
             batch_size, extract)  # fmt: skip


@ingest_app.command("table", help=TABLE_HELP)
def table(
    items: Annotated[
        Path,
        typer.Option("--items", help="Items table: item_id, title, description, brand, "
                     "category, price.", show_default=False),
    ],
    users: Annotated[
        Path | None, typer.Option("--users", help="Users table: user_id, name.")
    ] = None,
    interactions: Annotated[
        Path | None,
        typer.Option("--interactions", help="Interactions table: user_id, item_id, kind, ts, "
                     "rating, weight, split."),
    ] = None,
    reviews: Annotated[
        Path | None,
        typer.Option("--reviews", help="Reviews table: review_id, user_id, item_id, text, ts, "
                     "rating."),
    ] = None,
    attributes: Annotated[
        Path | None,
        typer.Option("--attributes", help="Item attributes table: item_id, kind (colour, "
                     "material, genre ...: letters, digits, _), name. Each row links the item "
                     "to the attribute '<kind>:<normalised name>', one link with what "
                     "extraction finds in the text."),
    ] = None,
    links: Annotated[
        Path | None,
        typer.Option("--links", help="Item links table: source_id, target_id, type "
                     "(also_bought, also_viewed or bought_together). Both ends must be in the "
                     "items table."),
    ] = None,
    triples: Annotated[
        Path | None,
        typer.Option("--triples", help="Entity triples table: head, relation, tail, head_name, "
                     "tail_name (e.g. 'm.0abc, film.film.directed_by, m.0xyz'). An end whose id is "
                     "in the items table is that item, any other an Entity; each fact is "
                     "(head)-[:RELATED {relation}]->(tail)."),
    ] = None,
    batch_size: BatchSize = None,
    extract: Extract = True,
) -> None:  # fmt: skip
    """`kgrec ingest table` (help: TABLE_HELP)."""
    files = TableFiles(
        items=items,
        users=users,
        interactions=interactions,
        reviews=reviews,
        attributes=attributes,
        links=links,
        triples=triples,
    )
    run_load("table", lambda: check_tables(files),
             lambda writer, progress, stage: load_tables(writer, files, progress, stage),
             batch_size, extract)  # fmt: skip
