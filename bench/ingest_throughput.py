"""Ingest throughput, end to end (read -> clean -> extract -> resolve -> write) on 2 cores.

    python bench/ingest_throughput.py       # the sample shop, and Beauty when its folders exist

Same process, same throwaway local Neo4j (under .kgrec/neo4j-bench/), fresh extraction cache:
1. cold: empty graph, empty cache, spaCy + rules over the Magazine_Subscriptions sample;
2. warm rerun: the same files again (cache warm, every row already in the graph);
3. metadata only (`--no-extract`): the baseline that extracts nothing from text;
4. the whole Amazon 2014 Beauty benchmark (~200k interactions, ~1M item links), extraction on.
items/s and reviews/s come from the cold run's stage times (the progress callback marks when
each stage starts); each is charged the whole final resolve-and-write stage, so both are lower
bounds. Last line: one JSON object.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ingest.extract.base import EntityExtractor
from ingest.extract.mention_cache import MentionCache
from ingest.extract.stage import ExtractionStage, build_extractors
from ingest.sources.amazon2018.load import REVIEWS_STAGE, SCAN, load_amazon2018
from ingest.sources.beauty.load import load_beauty
from ingest.summary import IngestSummary
from ingest.write import ENTITIES_STAGE
from kg import Graph, Settings, provision
from kg.schema import apply_schema
from kg.write import GraphWriter, delete_all

console = Console()
SAMPLE_REVIEWS = Path("data/sample/Magazine_Subscriptions_5.json.gz")
SAMPLE_META = Path("data/sample/meta_Magazine_Subscriptions.json.gz")
BEAUTY_KG = Path("../shared/data/amazon-beauty-pgpr-cafe")
BEAUTY_SEQ = Path("../shared/data/amazon-beauty-2014-seq-text")


class StageClock:
    """A progress callback that notes when each stage starts."""

    def __init__(self) -> None:
        self.starts: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        self.starts.setdefault(stage, time.perf_counter())

    def span(self, first: str, until: str) -> float:
        return self.starts[until] - self.starts[first]


def timed(work: Callable[[StageClock], IngestSummary]) -> tuple[float, IngestSummary, StageClock]:
    clock = StageClock()
    began = time.perf_counter()
    summary = work(clock)
    return time.perf_counter() - began, summary, clock


def main(
    reviews: Annotated[Path, typer.Option(help="Reviews file.")] = SAMPLE_REVIEWS,
    meta: Annotated[Path, typer.Option(help="Metadata file.")] = SAMPLE_META,
    beauty_kg: Annotated[
        Path, typer.Option(help="PGPR/CAFE Beauty folder (skipped if absent).")
    ] = BEAUTY_KG,
    beauty_seq: Annotated[
        Path, typer.Option(help="Beauty seq-text folder (skipped if absent).")
    ] = BEAUTY_SEQ,
    wipe_external: Annotated[
        bool,
        typer.Option(
            "--wipe", help="Allow clearing an external/Docker database (KGREC_NEO4J_URI)."
        ),
    ] = False,
) -> None:
    """Benchmark `kgrec ingest` end to end against a real Neo4j."""
    with (
        tempfile.TemporaryDirectory(prefix="kgrec-bench-cache-") as cache_dir,
        provision.scratch_server(Settings(), "neo4j-bench", wipe=wipe_external) as settings,
        Graph.connect(settings) as graph,
        MentionCache(Path(cache_dir) / "mentions.sqlite") as cache,
    ):
        delete_all(graph)
        apply_schema(graph, settings.cypher_dir / "schema.cypher")
        writer = GraphWriter(graph, settings.write_batch_size)
        with console.status("Loading the spaCy pipeline (not timed)..."):
            extractors = build_extractors(settings)
            metadata_only = build_extractors(settings, text=False)

        def sample(extract: Sequence[EntityExtractor]) -> Callable[[StageClock], IngestSummary]:
            stage = ExtractionStage(extract, cache)
            return lambda clock: load_amazon2018(writer, reviews, meta, clock, stage)

        with console.status("cold: empty graph, empty cache..."):
            cold_s, cold, clock = timed(sample(extractors))
        with console.status("warm rerun..."):
            warm_s, warm, _ = timed(sample(extractors))
        delete_all(graph)
        with console.status("metadata only (no text extraction)..."):
            plain_s, _, _ = timed(sample(metadata_only))
        beauty_s: float | None = None
        if beauty_kg.is_dir() and beauty_seq.is_dir():
            delete_all(graph)
            with console.status("the whole Beauty benchmark, extraction on..."):
                stage = ExtractionStage(extractors, cache)
                beauty_s, beauty, _ = timed(
                    lambda clock: load_beauty(writer, beauty_kg, beauty_seq, clock, stage)
                )
        else:
            console.print(f"[yellow]Beauty folders not found ({beauty_kg}, {beauty_seq}): skipped")

    items, texts = cold.sources[0].kept, cold.sources[1].kept
    entities_s = cold_s - (clock.starts[ENTITIES_STAGE] - clock.starts[SCAN])
    items_s = clock.span(SCAN, REVIEWS_STAGE) + entities_s
    reviews_s = clock.span(REVIEWS_STAGE, ENTITIES_STAGE) + entities_s
    stages = Table(title="Cold run by stage (spaCy + rules, empty cache, empty graph)")
    for column in ("stage", "records", "seconds", "records/s"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    stages.add_row("items: read, extract, write", f"{items:,}",
                   f"{clock.span(SCAN, REVIEWS_STAGE):.1f}", "")  # fmt: skip
    stages.add_row("reviews: read, extract, write", f"{texts:,}",
                   f"{clock.span(REVIEWS_STAGE, ENTITIES_STAGE):.1f}", "")  # fmt: skip
    stages.add_row("resolve + write entities", "", f"{entities_s:.1f}", "")
    stages.add_row("items, charged the last stage", f"{items:,}", f"{items_s:.1f}",
                   f"{items / items_s:,.0f}")  # fmt: skip
    stages.add_row("reviews, charged the last stage", f"{texts:,}", f"{reviews_s:.1f}",
                   f"{texts / reviews_s:,.0f}")  # fmt: skip
    console.print(stages)

    runs = Table(title="Whole runs, same process, same server")
    for column in ("run", "seconds", "relationships created", "vs cold"):
        runs.add_column(column, justify="left" if column == "run" else "right")
    for name, seconds, created in (
        ("cold: spaCy + rules, empty cache", cold_s, cold.relationships_created),
        ("warm rerun (cache + graph hold all)", warm_s, warm.relationships_created),
        ("metadata only (--no-extract)", plain_s, None),
    ):
        runs.add_row(name, f"{seconds:.1f}", "" if created is None else f"{created:,}",
                     f"{cold_s / seconds:.1f}x")  # fmt: skip
    if beauty_s is not None:
        runs.add_row("Beauty benchmark, extraction on", f"{beauty_s:.1f}",
                     f"{beauty.relationships_created:,}", "")  # fmt: skip
    console.print(runs)
    if warm.relationships_created or warm.nodes_created:
        console.print("[red]the rerun changed the graph: loads are meant to be idempotent")
    result = {
        "reviews_per_s_cold": round(texts / reviews_s, 1),
        "items_per_s_cold": round(items / items_s, 1),
        "rerun_speedup": round(cold_s / warm_s, 2),
        "beauty_load_s": None if beauty_s is None else round(beauty_s, 1),
    }
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "ingest_throughput.json").write_text(json.dumps(result) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    typer.run(main)
