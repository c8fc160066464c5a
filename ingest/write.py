"""The write stage of a load: rows to the graph through `kg.write`, in chunks, kind by kind in
an order where nodes come before the relationships that point at them; and the extraction
step's entities and links, once it has resolved them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ingest.extract.stage import EXTRACTED_WRITES, ExtractionStage
from ingest.stream import Progress
from ingest.summary import IngestSummary
from kg.records import AttributeRow, BrandRow, CategoryRow, Row, UserRow
from kg.write import CATEGORIES, ITEM_CATEGORIES, ITEMS, GraphWriter, WriteSpec, WriteSummary

SharedIds = set[tuple[type[Row], str]]
"""The brand, category and user rows written so far (many records repeat them)."""

_SHARED_NODES = (BrandRow, CategoryRow, UserRow)
ENTITIES_STAGE = "brands & attributes"
# An item with its category path: nodes before the relationships that point at them. Brands
# come from the extraction step (`write_extracted`), the source's brand field included.
ITEM_WRITES: tuple[WriteSpec[Any], ...] = (ITEMS, CATEGORIES, ITEM_CATEGORIES)


def write_extracted(
    stage: ExtractionStage,
    writer: GraphWriter,
    summary: IngestSummary,
    seen: SharedIds,
    report: Progress,
) -> None:
    """Resolve what the extraction step found and write it, counting entities by kind."""
    report(ENTITIES_STAGE, 0, None)

    def counted(groups: Iterable[list[Row]]) -> Iterator[list[Row]]:
        for done, rows in enumerate(groups, start=1):
            count_entities(rows, summary)
            report(ENTITIES_STAGE, done, None)
            yield rows

    write_rows(counted(stage.rows()), EXTRACTED_WRITES, writer, summary, seen)
    summary.texts_extracted += stage.extracted
    summary.texts_cached += stage.cached


def count_entities(rows: Iterable[Row], summary: IngestSummary) -> None:
    """Count the brands and attributes (by kind) among resolved rows."""
    for row in rows:
        if isinstance(row, BrandRow):
            summary.entities["brand"] += 1
        elif isinstance(row, AttributeRow):
            summary.entities[row.kind] += 1


def write_rows(
    records: Iterable[list[Row]],
    specs: tuple[WriteSpec[Any], ...],
    writer: GraphWriter,
    summary: IngestSummary,
    seen: SharedIds,
) -> None:
    """Write the rows in chunks, each chunk kind by kind in the order of `specs` (nodes before
    the relationships that point at them). A brand, category or user row is written once, the
    first time its id appears.

    A chunk is written in the background while the next one is built, so reading, validating
    and extracting overlap the wait for Neo4j (on a rerun, which extracts nothing, the wait was
    a third of the time). One chunk at a time is in flight, so the writes keep their order, a
    failed write stops the load before the next chunk is sent, and memory stays bounded."""
    for spec in specs:
        summary.writes.setdefault(spec.name, WriteSummary(spec.name))
    pending: dict[type[Row], list[Row]] = {spec.model: [] for spec in specs}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgrec-write") as background:
        writing: Future[list[WriteSummary]] | None = None

        def hand_over() -> None:
            nonlocal writing
            chunk = [(spec, pending[spec.model]) for spec in specs if pending[spec.model]]
            for spec, _ in chunk:
                pending[spec.model] = []
            previous, writing = writing, None
            written = previous.result() if previous else []  # a failed write raises here
            writing = background.submit(_write_chunk, chunk, writer)
            for part in written:
                summary.add(part)

        try:
            for rows in records:
                for row in rows:
                    if isinstance(row, _SHARED_NODES):
                        if (type(row), row.id) in seen:
                            continue
                        seen.add((type(row), row.id))
                    pending[type(row)].append(row)
                if max(map(len, pending.values()), default=0) >= writer.batch_size:
                    hand_over()
            hand_over()
        finally:  # what was written is counted, even when reading the input failed
            for part in writing.result() if writing else []:
                summary.add(part)


def _write_chunk(
    chunk: list[tuple[WriteSpec[Any], list[Row]]], writer: GraphWriter
) -> list[WriteSummary]:
    return [writer.write(spec, rows) for spec, rows in chunk]
