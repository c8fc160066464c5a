"""Ingestion on Spark: Amazon Review Data 2018 files loaded as `kgrec ingest amazon2018` loads
them, with reading, cleaning, extraction and writing spread over a Spark cluster's partitions
(`local[N]`: N cores of this machine).

1. Lines are numbered (`zipWithIndex`), parsed and cleaned in partitions by the same code as the
   single-machine loader; the first line of each key wins, as there (smallest line number).
2. Each record becomes its graph rows in partitions (the catalogue's item ids broadcast, for
   the links); its text is extracted in `mapInPandas` batches (spaCy and rules, the LLM when
   configured, loaded once per partition).
3. The driver collects the mentions and resolves entities over the whole shop, replaying the
   items in file order: canonical ids and the shop-wide steps come out as in a load of the
   same file.
4. Partitions write through `kg.write` with the official driver in three phases: nodes (one
   row per id), then the relationships, grouped by item (a popular item's relationships all go
   through one partition, so partitions do not queue for its lock), then the extracted
   entities and their links. Every write is a MERGE on the same ids as the single-machine
   loader's, so a rerun changes nothing and the graph equals that loader's, node for node and
   relationship for relationship (`tests/test_ingest_spark.py`).

Extraction answers are not cached in partitions (the single-machine loader's cache is one
SQLite file); a rerun extracts again. On a cluster, kgrec must be installed where the executors
run; the Neo4j Connector for Apache Spark is the alternative writer where it is available.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from pyspark import RDD
from pyspark.sql import SparkSession

from ingest.extract.base import ItemText, Mention
from ingest.extract.stage import EXTRACTED_WRITES, ExtractionStage, build_extractors
from ingest.records import (
    AmazonProduct,
    AmazonReview,
    CategoryPartSetAside,
    Rejected,
    SourceRecord,
)
from ingest.sources.amazon2018.load import (
    item_text,
    product_rows,
    review_rows,
    review_text,
)
from ingest.sources.amazon2018.read import check_files, parse_line
from ingest.stream import Progress, quiet, rows_or_reason
from ingest.summary import MAX_EXAMPLES, IngestSummary, SourceTally, reason_kind
from ingest.write import count_entities
from kg import Graph, Settings
from kg.records import Row
from kg.write import (
    ATTRIBUTES,
    BRANDS,
    CATEGORIES,
    INTERACTIONS,
    ITEM_ATTRIBUTES,
    ITEM_BRANDS,
    ITEM_CATEGORIES,
    ITEM_LINKS,
    ITEMS,
    REVIEW_MENTIONS,
    REVIEWS,
    USERS,
    GraphWriter,
    WriteSpec,
    WriteSummary,
)

T = TypeVar("T")
S = TypeVar("S", bound=SourceRecord)
Numbered = tuple[int, T]  # (line number from 1, what the line became)
NODES: tuple[WriteSpec[Any], ...] = (ITEMS, CATEGORIES, USERS)
LINKS: tuple[WriteSpec[Any], ...] = (ITEM_CATEGORIES, ITEM_LINKS, REVIEWS, INTERACTIONS)
ENTITY_NODES: tuple[WriteSpec[Any], ...] = (BRANDS, ATTRIBUTES)
ENTITY_LINKS: tuple[WriteSpec[Any], ...] = (ITEM_BRANDS, ITEM_ATTRIBUTES, REVIEW_MENTIONS)
assert (*ENTITY_NODES, *ENTITY_LINKS) == EXTRACTED_WRITES
NODE_MODELS = tuple(spec.model for spec in (*NODES, *ENTITY_NODES))  # rows written in phase 1
DUPLICATE_ASIN = "duplicate asin (first line kept)"
DUPLICATE_REVIEW = "duplicate review (same reviewerID, asin and unixReviewTime; first line kept)"


@dataclass(frozen=True)
class SparkLoad:
    """What the executors need: where Neo4j is, rows per write, what extracts."""

    settings: Settings
    batch_size: int
    extract: bool
    partitions: int


def spark_session(master: str) -> SparkSession:
    """A session on `master` (`local[N]`, `spark://host:7077`, `yarn`...); Python workers run
    this interpreter, where kgrec is installed."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master(master)
        .appName("kgrec-ingest")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def load_on_spark(
    spark: SparkSession,
    job: SparkLoad,
    reviews: Path,
    meta: Path | None,
    stage: ExtractionStage,
    progress: Progress = quiet,
) -> IngestSummary:
    """Load the files (as `load_amazon2018`); `stage` resolves what the partitions extracted."""
    check_files(reviews, meta)  # before anything is written
    summary = IngestSummary(sources=[])
    rows: list[RDD[Numbered[Row]]] = []
    item_texts: list[Numbered[ItemText]] = []
    item_mentions: dict[int, list[Mention]] = {}
    if meta is not None:
        progress("products (Spark)", 0, None)
        products, tally = _firsts(spark, meta, AmazonProduct, _asin, DUPLICATE_ASIN, job)
        catalogue = spark.sparkContext.broadcast(set(products.map(lambda p: p[1].asin).collect()))
        loaded = _loaded(products, lambda p: product_rows(p, catalogue.value), item_text, tally)
        rows.append(_graph_rows(loaded))
        texts = loaded.flatMap(lambda n: [(n[0], n[2])] if n[2] is not None else [])
        item_texts = sorted(texts.collect(), key=lambda n: n[0])
        item_mentions = {n: found for n, _, found in _extracted(spark, texts, job, "items")}
        summary.sources.append(tally)
        progress("products (Spark)", 1, 1)
    progress("reviews (Spark)", 0, None)
    ratings, tally = _firsts(spark, reviews, AmazonReview, _review_key, DUPLICATE_REVIEW, job)
    loaded = _loaded(ratings, review_rows, review_text, tally)
    rows.append(_graph_rows(loaded))
    review_texts = loaded.flatMap(lambda n: [(n[0], n[2])] if n[2] is not None else [])
    review_mentions = _extracted(spark, review_texts, job, "reviews")
    summary.sources.append(tally)
    progress("reviews (Spark)", 1, 1)
    progress("writing (Spark)", 0, 2)

    everything = spark.sparkContext.union(rows)
    _write(_nodes(everything, job.partitions), NODES, job, summary)
    progress("writing (Spark)", 1, 2)
    _write(_by_item(everything, job.partitions), LINKS, job, summary)
    progress("writing (Spark)", 2, 2)
    progress("brands & attributes", 0, None)

    for n, item in item_texts:  # in file order, as a single-machine load adds them
        stage.add_extracted_item(item, item_mentions[n])
    for _, review_id, found in review_mentions:
        stage.add_extracted_review(review_id, found)
    resolved = [row for rows in stage.rows() for row in rows]
    count_entities(resolved, summary)
    extracted = spark.sparkContext.parallelize(list(enumerate(resolved)), job.partitions)
    _write(_nodes(extracted, job.partitions), ENTITY_NODES, job, summary)
    _write(_by_item(extracted, job.partitions), ENTITY_LINKS, job, summary)
    read = len(item_texts) + len(review_mentions)
    summary.texts_extracted = read * len(stage.extractors)  # each extractor read each text
    progress("brands & attributes", 1, 1)
    return summary


def _asin(product: AmazonProduct) -> Hashable:
    return product.asin


def _review_key(review: AmazonReview) -> Hashable:
    return (review.reviewer_id, review.asin, review.unix_review_time)


def _firsts(
    spark: SparkSession,
    path: Path,
    model: type[S],
    key: Callable[[S], Hashable],
    duplicate: str,
    job: SparkLoad,
) -> tuple[RDD[Numbered[S]], SourceTally]:
    """The file's records whose key comes first (smallest line), and its tally so far: lines
    set aside as unreadable (the first few as examples) and duplicates."""
    source = path.name

    def parsed_line(line: tuple[str, int]) -> Numbered[S | Rejected]:
        number = line[1] + 1
        return number, parse_line(source, number, line[0], model)

    lines = spark.sparkContext.textFile(str(path)).zipWithIndex()
    parsed = lines.map(parsed_line).repartition(job.partitions).cache()
    tally = SourceTally(source)
    unreadable: RDD[Numbered[Rejected]] = parsed.flatMap(
        lambda n: [(n[0], n[1])] if isinstance(n[1], Rejected) else []
    )
    tally.set_aside.update(unreadable.map(lambda n: reason_kind(n[1].reason)).countByValue())
    tally.examples = [n[1] for n in unreadable.takeOrdered(MAX_EXAMPLES, key=lambda n: n[0])]
    readable: RDD[Numbered[S]] = parsed.flatMap(
        lambda n: [] if isinstance(n[1], Rejected) else [(n[0], n[1])]
    )
    firsts = (
        readable.map(lambda n: (key(n[1]), n))
        .reduceByKey(lambda a, b: a if a[0] < b[0] else b, job.partitions)
        .values()
        .cache()
    )
    if duplicates := readable.count() - firsts.count():
        tally.set_aside[reason_kind(duplicate)] += duplicates
    return firsts, tally


Loaded = tuple[int, list[Row] | str, Any]  # (line, its rows or why it was set aside, its text)


def _loaded(
    records: RDD[Numbered[T]],
    to_rows: Callable[[T], list[Row]],
    to_text: Callable[[T], Any],
    tally: SourceTally,
) -> RDD[Loaded]:
    """Each record's rows (or why not) and its text for extraction (a record set aside has
    none); `tally` counts what was kept, set aside and cut from category paths."""

    def load(n: Numbered[T]) -> Loaded:
        rows = rows_or_reason(n[1], to_rows)
        return (n[0], rows, None if isinstance(rows, str) else to_text(n[1]))

    loaded = records.map(load).cache()
    reasons = loaded.flatMap(lambda n: [n[1]] if isinstance(n[1], str) else []).collect()
    for reason in reasons:
        tally.drop(reason)
    tally.kept += loaded.count() - len(reasons)
    cuts = loaded.flatMap(
        lambda n: [(n[0], row) for row in n[1] if isinstance(row, CategoryPartSetAside)]
        if isinstance(n[1], list) else []
    )  # fmt: skip
    for _, cut in sorted(cuts.collect(), key=lambda n: n[0]):
        tally.cut_category(cut)
    return loaded


def _graph_rows(loaded: RDD[Loaded]) -> RDD[Numbered[Row]]:
    return loaded.flatMap(
        lambda n: [(n[0], row) for row in n[1] if not isinstance(row, CategoryPartSetAside)]
        if isinstance(n[1], list) else []
    )  # fmt: skip


Extracted = tuple[int, str, list[Mention]]  # (line, its item's or review's id, its mentions)


def _extracted(
    spark: SparkSession, texts: RDD[Numbered[Any]], job: SparkLoad, kind: str
) -> list[Extracted]:
    """Each text's mentions, extracted in `mapInPandas` batches; in file order. Only ids and
    mentions come back to the driver, not the texts."""
    frame = spark.createDataFrame(texts.map(lambda n: (n[0], pickle.dumps(n[1]))),
                                  "n long, text binary")  # fmt: skip
    schema = "n long, id string, mentions binary"
    found = frame.mapInPandas(partial(_extract_batches, job, kind), schema).collect()
    # Pickles this job's own partitions made, nothing from outside.
    loaded = [(row.n, row.id, pickle.loads(row.mentions)) for row in found]  # noqa: S301
    return sorted(loaded, key=lambda extracted: extracted[0])


def _extract_batches(
    job: SparkLoad, kind: str, batches: Iterable[pd.DataFrame]
) -> Iterator[pd.DataFrame]:
    """In a partition: the extractors loaded once, then each batch of texts extracted."""
    stage = ExtractionStage(build_extractors(job.settings, text=job.extract))
    for batch in batches:
        texts = [pickle.loads(raw) for raw in batch["text"]]  # noqa: S301 (this job's own)
        if kind == "items":
            found, ids = stage.extract_items(texts), [item.item_id for item in texts]
        else:
            found, ids = stage.extract_reviews(texts), [review.review_id for review in texts]
        yield pd.DataFrame({"n": batch["n"], "id": ids,
                            "mentions": [pickle.dumps(m) for m in found]})  # fmt: skip


def _nodes(rows: RDD[Numbered[Row]], partitions: int) -> RDD[Numbered[Row]]:
    """One row per node (its first line's), spread over the partitions by id."""
    return (
        rows.filter(lambda n: isinstance(n[1], NODE_MODELS))
        .map(lambda n: ((type(n[1]).__name__, n[1].id), n))  # type: ignore[attr-defined]
        .reduceByKey(lambda a, b: a if a[0] < b[0] else b, partitions)
        .values()
    )


def _by_item(rows: RDD[Numbered[Row]], partitions: int) -> RDD[Numbered[Row]]:
    """The relationship rows, those of one item (or review) in one partition."""
    return (
        rows.filter(lambda n: not isinstance(n[1], NODE_MODELS))
        .keyBy(lambda n: _anchor(n[1]))
        .partitionBy(partitions)
        .values()
    )


def _anchor(row: Row) -> str:
    """The node whose lock a relationship row's writes contend for most: its item."""
    for field in ("item_id", "source_id", "review_id"):
        if (value := getattr(row, field, None)) is not None:
            return str(value)
    return repr(row)


def _write(
    rows: RDD[Numbered[Row]],
    specs: tuple[WriteSpec[Any], ...],
    job: SparkLoad,
    summary: IngestSummary,
) -> None:
    """Write the rows from their partitions, kind by kind in the order of `specs`; counted."""
    written = rows.mapPartitions(partial(_write_partition, job, specs)).collect()
    for spec in specs:
        summary.writes.setdefault(spec.name, WriteSummary(spec.name))
    for part in written:
        summary.add(part)


def _write_partition(
    job: SparkLoad, specs: tuple[WriteSpec[Any], ...], rows: Iterable[Numbered[Row]]
) -> Iterator[WriteSummary]:
    """A partition's rows, written a batch of one kind at a time as they stream past."""
    spec_of = {spec.model: spec for spec in specs}
    pending: dict[type[Row], list[Row]] = {spec.model: [] for spec in specs}
    with Graph.connect(job.settings) as graph:
        writer = GraphWriter(graph, job.batch_size)
        for _, row in rows:
            batch = pending[type(row)]
            batch.append(row)
            if len(batch) >= job.batch_size:
                yield writer.write(spec_of[type(row)], batch)
                pending[type(row)] = []
        for spec in specs:
            if pending[spec.model]:
                yield writer.write(spec, pending[spec.model])
