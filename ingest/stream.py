"""Records streaming through a load: progress reporting, unreadable lines counted, and each
record mapped to its graph rows or set aside with its reason."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from pydantic import ValidationError

from ingest.records import CategoryPartSetAside, Rejected, validation_reason
from ingest.summary import SourceTally
from kg.records import Row

T = TypeVar("T")
U = TypeVar("U")

Progress = Callable[[str, int, int | None], None]
"""Called as records stream past: (stage, records done, records in all when known)."""


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


def mapped(
    records: Iterable[T], to_rows: Callable[[T], list[Row]], tally: SourceTally
) -> Iterator[list[Row]]:
    """Each record's rows; a record `to_rows` sets aside, or with a value the graph refuses, is
    counted in `tally` with its reason and not loaded. A category path cut short among a kept
    record's rows is counted in `tally` too, and not passed on."""
    for record in records:
        rows = rows_or_reason(record, to_rows)
        if isinstance(rows, str):
            tally.drop(rows)
            continue
        tally.kept += 1
        graph_rows = []
        for row in rows:
            if isinstance(row, CategoryPartSetAside):
                tally.cut_category(row)
            else:
                graph_rows.append(row)
        yield graph_rows


def rows_or_reason(record: T, to_rows: Callable[[T], list[Row]]) -> list[Row] | str:
    """The record's rows, or why it is set aside (`to_rows` said so, or a value the graph
    refuses)."""
    try:
        return to_rows(record)
    except SetAside as exc:
        return str(exc)
    except ValidationError as exc:
        return f"does not fit the graph: {exc.title} {validation_reason(exc)}"
