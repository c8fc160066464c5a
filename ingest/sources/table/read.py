"""Bring your own data: items, users, interactions, reviews, item attributes, item links and
entity triples as CSV or Parquet tables with named columns (README, "Bring your own data").

Chosen by extension: `.csv` / `.csv.gz` (UTF-8, header row) or `.parquet`. Both stream in
constant memory: Parquet a record batch at a time (`pyarrow.parquet.ParquetFile.iter_batches`),
CSV a row at a time with the stdlib `csv` reader, which knows the line every row starts on
(pandas' chunked reader does not, once it has skipped a malformed row). A row that cannot
become a record is a `Rejected` whose `line` is the CSV line (the header is line 1) or the
Parquet row (from 1). A file without the required columns raises `SourceFormatError`.
Tables that point at items (attributes, links) are checked against the items table's ids when
`read_table` is given them.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Annotated, Any, Literal, cast, get_args

import pyarrow as pa  # type: ignore[import-untyped]  # no stubs
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
)

from ingest.clean import parse_price
from ingest.extract.base import BRAND
from ingest.records import Encodable, Name, Rejected, SourceId, SourceRecord, validation_reason
from ingest.sources.files import SourceFormatError, open_binary, require_file
from kg.records import MAX_RELATION_CHARS, InteractionKind, ItemLinkType, Split

TableKind = Literal["items", "users", "interactions", "reviews", "attributes", "links", "triples"]
TABLE_KINDS: tuple[TableKind, ...] = get_args(TableKind)
SUFFIXES = (".csv", ".csv.gz", ".parquet")
BATCH_ROWS = 10_000
MAX_TEXT_CHARS = 1_000_000  # kg.records.Text
MAX_KIND_CHARS = 64  # kg.records.AttributeRow.kind
CATALOGUE = "catalogue"  # the validation context's key for the items table's ids


def _id_text(value: Any) -> Any:
    # Parquet (and pandas) often store numeric ids as integers; the graph's ids are strings.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _unix_seconds(value: Any) -> Any:
    """Unix seconds from an integer, a digit string, an ISO-8601 string or a Parquet
    timestamp/date; a time without a zone is UTC."""
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return int(text)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not unix seconds or an ISO-8601 date-time") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if isinstance(value, datetime):
        return math.floor((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    return value


def _price(value: Any) -> Any:
    """A number, or a price as text ("$1,299.00")."""
    if isinstance(value, str):
        price = parse_price(value)
        if price is None:
            raise ValueError("not a price")
        return price
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _in_catalogue(item_id: str, info: ValidationInfo) -> str:
    """An id of the items table, when the reader knows them: links and attributes must not
    make items of their own."""
    catalogue = (info.context or {}).get(CATALOGUE)
    if catalogue is not None and item_id not in catalogue:
        raise ValueError("not in the items table")
    return item_id


def _other_than(end: str) -> AfterValidator:
    """A link's second end, set aside when it is the first, `end` (validated before it)."""

    def check(value: str, info: ValidationInfo) -> str:
        if value == info.data.get(end):
            raise ValueError(f"the same as {end} (a self link)")
        return value

    return AfterValidator(check)


def _not_brand(kind: str) -> str:
    if kind == BRAND:
        raise ValueError("brands go in the items table's brand column")
    return kind


TableId = Annotated[SourceId, BeforeValidator(_id_text)]
ItemId = Annotated[TableId, AfterValidator(_in_catalogue)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS), Encodable]
UnixSeconds = Annotated[int, Field(ge=0, le=2**63 - 1), BeforeValidator(_unix_seconds)]
Rating = Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)]
Price = Annotated[float, Field(ge=0, allow_inf_nan=False), BeforeValidator(_price)]
AttributeKind = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_KIND_CHARS, pattern=r"^[a-z0-9_]+$"),
    BeforeValidator(_lower),
    AfterValidator(_not_brand),
]
LinkType = Annotated[  # case-insensitive: also_bought is ALSO_BOUGHT
    ItemLinkType, BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v)
]
Relation = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_RELATION_CHARS),
    Encodable,
]


class TableItem(SourceRecord):
    item_id: TableId
    title: Text = ""
    description: Text = ""
    brand: Name = ""
    category: Text = ""  # a path, root first: "Beauty > Makeup > Face"
    price: Price | None = None


class TableUser(SourceRecord):
    user_id: TableId
    name: Name = ""


class TableInteraction(SourceRecord):
    user_id: TableId
    item_id: TableId
    kind: InteractionKind
    ts: UnixSeconds
    rating: Rating | None = None
    weight: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0
    split: Split | None = None


class TableReview(SourceRecord):
    review_id: TableId | None = None  # default: "<user_id>:<item_id>:<ts>", as Amazon reviews
    user_id: TableId
    item_id: TableId
    text: Text
    ts: UnixSeconds | None = None
    rating: Rating | None = None


class TableAttribute(SourceRecord):
    item_id: ItemId
    kind: AttributeKind  # any the shop wants: colour, material, size, ...
    name: Name


class TableLink(SourceRecord):
    source_id: ItemId
    target_id: Annotated[ItemId, _other_than("source_id")]
    type: LinkType


class TableTriple(SourceRecord):
    head: TableId  # an item of the items table, else an entity
    relation: Relation
    tail: Annotated[TableId, _other_than("head")]
    head_name: Name = ""  # entities only: the items table names items
    tail_name: Name = ""


TableRecord = (
    TableItem
    | TableUser
    | TableInteraction
    | TableReview
    | TableAttribute
    | TableLink
    | TableTriple
)


@dataclass(frozen=True)
class Layout:
    """The columns of one kind of table: the first `required` of `model`'s fields must be
    there, the others may be."""

    model: type[TableRecord]
    required: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.model.model_fields)

    def describe(self) -> str:
        return ", ".join(c + (" (required)" if c in self.required else "") for c in self.columns)


LAYOUTS: dict[TableKind, Layout] = {
    "items": Layout(TableItem, ("item_id",)),
    "users": Layout(TableUser, ("user_id",)),
    "interactions": Layout(TableInteraction, ("user_id", "item_id", "kind", "ts")),
    "reviews": Layout(TableReview, ("user_id", "item_id", "text")),
    "attributes": Layout(TableAttribute, ("item_id", "kind", "name")),
    "links": Layout(TableLink, ("source_id", "target_id", "type")),
    "triples": Layout(TableTriple, ("head", "relation", "tail")),
}


def check_table(path: Path, kind: TableKind) -> list[str]:
    """Raise unless `path` is a table of `kind` with its required columns; return the columns
    it has that the layout does not know (they are ignored)."""
    layout = LAYOUTS[kind]
    advice = f"Pass a CSV or Parquet file with the columns {layout.describe()}."
    require_file(path, f"{kind} table", advice)
    if not path.name.lower().endswith(SUFFIXES):
        raise SourceFormatError(
            f"{path}: a table must be .csv, .csv.gz or .parquet (chosen by extension). {advice}"
        )
    columns = _columns(path)
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    missing = [c for c in layout.required if c not in columns]
    if repeated or missing:
        problem = f"repeats {', '.join(repeated)}" if repeated else f"lacks {', '.join(missing)}"
        raise SourceFormatError(
            f"{kind} table {path} {problem}. Its columns: {', '.join(columns) or 'none'}. {advice}"
        )
    return [c for c in columns if c not in layout.columns]


def row_count(path: Path) -> int | None:
    """The number of rows when the file says so without a pass over it (Parquet)."""
    return pq.ParquetFile(path).metadata.num_rows if _is_parquet(path) else None


def read_table(
    path: Path, kind: TableKind, catalogue: Container[str] | None = None
) -> Iterator[TableRecord | Rejected]:
    """The rows of a table `check_table` accepted, as records of its kind, in file order; given
    the items table's ids (`catalogue`), an attribute or link naming another item is set aside."""
    model = LAYOUTS[kind].model
    context = None if catalogue is None else {CATALOGUE: catalogue}
    rows = _parquet_rows(path) if _is_parquet(path) else _csv_rows(path)
    for number, values in rows:
        if isinstance(values, Rejected):
            yield values
            continue
        present = {k: v for k, v in values.items() if k in model.model_fields and _given(v)}
        try:
            yield model.model_validate(present, context=context)
        except ValidationError as exc:
            yield Rejected.of(path.name, number, validation_reason(exc), _excerpt(values))


def _given(value: Any) -> bool:
    """False for an empty cell: a CSV "" or a Parquet null."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(".parquet")


def _columns(path: Path) -> list[str]:
    if _is_parquet(path):
        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except (pa.ArrowException, OSError) as exc:
            raise SourceFormatError(f"{path} is not a readable Parquet file: {exc}") from None
    with _csv_text(path) as text:
        try:
            return [name.strip() for name in next(csv.reader(text), [])]
        except (csv.Error, UnicodeDecodeError, EOFError, OSError) as exc:
            raise SourceFormatError(f"{path}: cannot read the CSV header: {exc}") from None


def _csv_text(path: Path) -> io.TextIOWrapper:
    # Undecodable bytes become lone surrogates, so one bad row does not end the file.
    return io.TextIOWrapper(
        cast(IO[bytes], open_binary(path)),
        encoding="utf-8-sig",
        errors="surrogateescape",
        newline="",
    )


def _csv_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | Rejected]]:
    with _csv_text(path) as text:
        reader = csv.reader(text)
        header = [name.strip() for name in next(reader)]
        while True:
            start = reader.line_num + 1  # a quoted value may span lines
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, Rejected.of(path.name, start, f"not CSV: {exc}")
                continue
            except (EOFError, OSError) as exc:  # a truncated or corrupt .csv.gz
                reason = f"truncated or corrupt file after line {start - 1}"
                yield start, Rejected.of(path.name, start, reason, str(exc))
                return
            raw = ",".join(fields)
            if not any(field.strip() for field in fields):
                continue  # a blank line
            if len(fields) != len(header):
                reason = f"expected {len(header)} fields, got {len(fields)}"
                yield start, Rejected.of(path.name, start, reason, raw)
            elif not _utf8(raw):
                yield start, Rejected.of(path.name, start, "not UTF-8", raw)
            else:
                yield start, dict(zip(header, fields, strict=True))


def _parquet_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | Rejected]]:
    parquet = pq.ParquetFile(path)
    wanted = [name for name in parquet.schema_arrow.names if name in _ALL_COLUMNS]
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
            for values in batch.to_pylist():
                number += 1
                yield number, values
    except (pa.ArrowException, OSError) as exc:
        reason = f"unreadable Parquet after row {number}"
        yield number + 1, Rejected.of(path.name, number + 1, reason, str(exc))


_ALL_COLUMNS = frozenset(column for layout in LAYOUTS.values() for column in layout.columns)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _excerpt(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())
