"""What every loader shares: progress reporting, records -> rows with reasons for those set
aside, rows written in chunks through `kg.write.GraphWriter`, the rows of an item's category
path (so every source names categories the same way), and the extraction step that turns item
and review texts (and the source's brand field) into Brand and Attribute entities."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from pydantic import ValidationError

from ingest.clean import clean_text, normalise_name
from ingest.extraction import EXTRACTED_WRITES, ExtractionStage
from ingest.records import Rejected, validation_reason
from ingest.summary import IngestSummary, SourceTally
from kg.records import AttributeRow, BrandRow, CategoryRow, ItemCategoryRow, Row, UserRow
from kg.write import CATEGORIES, ITEM_CATEGORIES, ITEMS, GraphWriter, WriteSpec, WriteSummary

T = TypeVar("T")
U = TypeVar("U")

Progress = Callable[[str, int, int | None], None]
"""Called as records stream past: (stage, records done, records in all when known)."""

SharedIds = set[tuple[type[Row], str]]
"""The brand, category and user rows written so far (many records repeat them)."""

_SHARED_NODES = (BrandRow, CategoryRow, UserRow)
CATEGORY_SEPARATOR = " > "
ENTITIES_STAGE = "brands & attributes"
# An item with its category path: nodes before the relationships that point at them. Brands
# come from the extraction step (`write_extracted`), the source's brand field included.
ITEM_WRITES: tuple[WriteSpec[Any], ...] = (ITEMS, CATEGORIES, ITEM_CATEGORIES)


class SetAside(Exception):  # noqa: N818 - an outcome, not a failure
    """Raised by a records -> rows function: the record was read fine but is not loaded."""


def quiet(stage: str, done: int, total: int | None) -> None:
    """No progress display."""


def reported(records: Iterable[T], stage: str, total: int | None, report: Progress) -> Iterator[T]:
    for done, record in enumerate(records, start=1):
        report(stage, done, total)
        yield record


def readable(records: Iterable[T | Rejected], tally: SourceTally) -> Iterator[T]:
    """The records; unreadable lines are counted in `tally` and not passed on."""
    for record in records:
        if isinstance(record, Rejected):
            tally.reject(record)
        else:
            yield record


def feeding(
    to_rows: Callable[[T], list[Row]], to_text: Callable[[T], U | None], add: Callable[[U], None]
) -> Callable[[T], list[Row]]:
    """`to_rows` that also hands each loaded record's text to the extraction step (a record
    set aside is not extracted)."""

    def rows(record: T) -> list[Row]:
        loaded = to_rows(record)
        text = to_text(record)
        if text is not None:
            add(text)
        return loaded

    return rows


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
            for row in rows:
                if isinstance(row, BrandRow):
                    summary.entities["brand"] += 1
                elif isinstance(row, AttributeRow):
                    summary.entities[row.kind] += 1
            report(ENTITIES_STAGE, done, None)
            yield rows

    write_rows(counted(stage.rows()), EXTRACTED_WRITES, writer, summary, seen)
    summary.texts_extracted += stage.extracted
    summary.texts_cached += stage.cached


def mapped(
    records: Iterable[T], to_rows: Callable[[T], list[Row]], tally: SourceTally
) -> Iterator[list[Row]]:
    """Each record's rows; a record `to_rows` sets aside, or with a value the graph refuses, is
    counted in `tally` with its reason and not loaded."""
    for record in records:
        try:
            rows = to_rows(record)
        except SetAside as exc:
            tally.drop(str(exc))
            continue
        except ValidationError as exc:
            tally.drop(f"does not fit the graph: {exc.title} {validation_reason(exc)}")
            continue
        tally.kept += 1
        yield rows


def category_rows(item_id: str, path: Iterable[str]) -> list[Row]:
    """The categories of a path (root first), each under its parent, and the item's link to the
    last one. The id is the normalised path joined by " > ", so "Music" under "Arts" and under
    "Professional" are two categories."""
    rows: list[Row] = []
    parent_id: str | None = None
    for raw in path:
        name, key = clean_text(raw), normalise_name(raw)
        if not name or not key:
            continue  # an element that was only markup
        category_id = key if parent_id is None else f"{parent_id}{CATEGORY_SEPARATOR}{key}"
        rows.append(CategoryRow(id=category_id, name=name, parent_id=parent_id))
        parent_id = category_id
    if parent_id is not None:
        rows.append(
            ItemCategoryRow(
                item_id=item_id, category_id=parent_id, source="metadata", extractor="metadata"
            )
        )
    return rows


def write_rows(
    records: Iterable[list[Row]],
    specs: tuple[WriteSpec[Any], ...],
    writer: GraphWriter,
    summary: IngestSummary,
    seen: SharedIds,
) -> None:
    """Write the rows in chunks, each chunk kind by kind in the order of `specs` (nodes before
    the relationships that point at them). A brand, category or user row is written once, the
    first time its id appears."""
    for spec in specs:
        summary.writes.setdefault(spec.name, WriteSummary(spec.name))
    pending: dict[type[Row], list[Row]] = {spec.model: [] for spec in specs}
    for rows in records:
        for row in rows:
            if isinstance(row, _SHARED_NODES):
                if (type(row), row.id) in seen:
                    continue
                seen.add((type(row), row.id))
            pending[type(row)].append(row)
        if max(map(len, pending.values())) >= writer.batch_size:
            _flush(pending, specs, writer, summary)
    _flush(pending, specs, writer, summary)


def _flush(
    pending: dict[type[Row], list[Row]],
    specs: tuple[WriteSpec[Any], ...],
    writer: GraphWriter,
    summary: IngestSummary,
) -> None:
    for spec in specs:
        if pending[spec.model]:
            summary.add(writer.write(spec, pending[spec.model]))
            pending[spec.model].clear()
