"""Amazon 2014 Beauty 5-core, the PGPR/CAFE benchmark: two folders, read line by line.

`--kg` (amazon-beauty-pgpr-cafe): PGPR's entity lists (`pgpr/product.txt.gz`, line i = the
ASIN of product i; `users.txt.gz`, `brand.txt.gz`, `category.txt.gz`, `related_product.txt.gz`
likewise) and relation files (line i = product i: space-separated indices into an entity
list), and CAFE's split (`cafe/{train,test}_labels.txt.gz`: `user<TAB>item<TAB>item...`).
`--seq` (amazon-beauty-2014-seq-text): `interactions.tsv.gz` (reviewerID, ASIN, timestamp) and
`items.tsv.gz` (ASIN, title, brand, price, `|`-joined category path; `unknown` = missing).

Content never raises: a line that cannot become a record is a `Rejected` with its reason.
Only a missing file or a TSV header that is not the expected one raises, before any loading.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import BeforeValidator, Field, ValidationError

from ingest.records import (
    Name,
    OptionalText,
    Rejected,
    SourceId,
    SourceRecord,
    validation_reason,
)
from ingest.sources.files import (
    SourceFormatError,
    decoded,
    numbered_lines,
    open_binary,
    require_file,
)

KG_HELP = (
    "the amazon-beauty-pgpr-cafe folder: pgpr/ from github.com/orcax/PGPR (data/Amazon_Beauty) "
    "and cafe/ from github.com/orcax/CAFE (data/Beauty)"
)
SEQ_HELP = (
    "the amazon-beauty-2014-seq-text folder: interactions.tsv.gz and items.tsv.gz, built from "
    "TiCoSeRec's Beauty_*_org_rank.txt and MARCO's item.csv by its build.py"
)
INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp")
ITEM_COLUMNS = ("item_id", "title", "brand", "price", "categories")
MISSING = "unknown"  # how items.tsv writes an absent value

R = TypeVar("R", bound=SourceRecord)


@dataclass(frozen=True)
class BeautyFiles:
    """Where each file of the two folders is."""

    kg: Path
    seq: Path

    def pgpr(self, name: str) -> Path:
        return self.kg / "pgpr" / f"{name}.txt.gz"

    @property
    def train_labels(self) -> Path:
        return self.kg / "cafe" / "train_labels.txt.gz"

    @property
    def test_labels(self) -> Path:
        return self.kg / "cafe" / "test_labels.txt.gz"

    @property
    def interactions(self) -> Path:
        return self.seq / "interactions.tsv.gz"

    @property
    def items(self) -> Path:
        return self.seq / "items.tsv.gz"

    def check(self) -> None:
        """Raise FileNotFoundError, saying which folder to pass, unless every file is there;
        SourceFormatError unless both TSV headers are the expected ones."""
        kg_files = [self.pgpr(name) for name in PGPR_FILES] + [self.train_labels, self.test_labels]
        for path in kg_files:
            require_file(path, "Amazon Beauty file", f"Pass --kg: {KG_HELP}.")
        for path in (self.interactions, self.items):
            require_file(path, "Amazon Beauty file", f"Pass --seq: {SEQ_HELP}.")
        _check_header(self.interactions, INTERACTION_COLUMNS)
        _check_header(self.items, ITEM_COLUMNS)


PGPR_FILES = (
    "product", "users", "brand", "category", "related_product", "brand_p_b", "category_p_c",
    "also_bought_p_p", "also_viewed_p_p", "bought_together_p_p",
)  # fmt: skip


class EntityName(SourceRecord):
    """Line `index` (from 0) of an entity list: the entity's id or name."""

    index: int
    name: SourceId


class IndexLine(SourceRecord):
    """Line `index` (from 0) of a relation file: the indices it lists (none on an empty line)."""

    index: int
    targets: tuple[int, ...]


class LabelPair(SourceRecord):
    """One (user index, item index) pair of a CAFE labels file."""

    user: int
    item: int


def _missing_as_empty(value: object) -> object:
    return "" if value == MISSING else value


Unknown = BeforeValidator(_missing_as_empty)


class SeqInteraction(SourceRecord):
    """One row of interactions.tsv.gz."""

    user_id: SourceId
    item_id: SourceId
    timestamp: Annotated[int, Field(ge=0, le=2**63 - 1)]  # a digit string in the TSV


class SeqItem(SourceRecord):
    """One row of items.tsv.gz; `unknown` values are empty."""

    item_id: SourceId
    title: Annotated[OptionalText, Unknown] = ""
    brand: Annotated[Name, Unknown] = ""
    price: Annotated[OptionalText, Unknown] = ""
    categories: Annotated[OptionalText, Unknown] = ""  # "Makeup|Face|Concealers", root omitted


def read_names(path: Path) -> Iterator[EntityName | Rejected]:
    """The lines of an entity list; a blank line is a `Rejected` (its index names nothing)."""
    for number, text in _text_lines(path):
        if isinstance(text, Rejected):
            yield text
        elif not text.strip():
            yield Rejected.of(path.name, number, "empty line: no name for this index")
        else:
            yield _validated(EntityName, {"index": number - 1, "name": text}, path, number, text)


def read_index_lines(path: Path, bound: int, names: str) -> Iterator[IndexLine | Rejected]:
    """The lines of a relation file; a line with an index that is not an integer in
    [0, bound) - `bound` being the number of lines of `names` - is a `Rejected`."""
    for number, text in _text_lines(path):
        if isinstance(text, Rejected):
            yield text
            continue
        targets = _indices(text.split(), bound, names)
        if isinstance(targets, str):
            yield Rejected.of(path.name, number, targets, text)
        else:
            yield IndexLine(index=number - 1, targets=targets)


def read_label_pairs(path: Path, users: int, items: int) -> Iterator[LabelPair | Rejected]:
    """Every (user, item) pair of a CAFE labels file; a bad line is one `Rejected`."""
    for number, text in _text_lines(path):
        if isinstance(text, Rejected):
            yield text
            continue
        if not text.strip():
            continue
        user, *item_fields = text.split("\t")
        if not item_fields:
            reason = "expected user_idx<TAB>item_idx[<TAB>item_idx...], got 1 column"
            yield Rejected.of(path.name, number, reason, text)
            continue
        user_index = _indices([user], users, "users.txt")
        if isinstance(user_index, str):
            yield Rejected.of(path.name, number, user_index, text)
            continue
        item_indices = _indices(item_fields, items, "product.txt")
        if isinstance(item_indices, str):
            yield Rejected.of(path.name, number, item_indices, text)
            continue
        yield from (LabelPair(user=user_index[0], item=item) for item in item_indices)


def read_interactions(path: Path) -> Iterator[SeqInteraction | Rejected]:
    return _tsv_records(path, INTERACTION_COLUMNS, SeqInteraction)


def read_items(path: Path) -> Iterator[SeqItem | Rejected]:
    return _tsv_records(path, ITEM_COLUMNS, SeqItem)


def _tsv_records(path: Path, columns: tuple[str, ...], model: type[R]) -> Iterator[R | Rejected]:
    """The rows after the header (which `BeautyFiles.check` verified)."""
    lines = _text_lines(path)
    next(lines, None)
    for number, text in lines:
        if isinstance(text, Rejected):
            yield text
            continue
        if not text.strip():
            continue
        fields = text.split("\t")
        if len(fields) != len(columns):
            reason = f"expected {len(columns)} tab-separated columns, got {len(fields)}"
            yield Rejected.of(path.name, number, reason, text)
            continue
        yield _validated(model, dict(zip(columns, fields, strict=True)), path, number, text)


def _check_header(path: Path, columns: tuple[str, ...]) -> None:
    with open_binary(path) as stream:
        header = stream.readline(4096).decode("utf-8", errors="replace").rstrip("\r\n")
    if tuple(header.split("\t")) != columns:
        raise SourceFormatError(
            f"{path} does not start with the header {'<TAB>'.join(columns)!r} "
            f"(found {header[:200]!r}). Pass --seq: {SEQ_HELP}."
        )


def _text_lines(path: Path) -> Iterator[tuple[int, str | Rejected]]:
    """Every line, blank ones included (a line's position is its index)."""
    for number, line in numbered_lines(path, keep_blank=True):
        yield number, line if isinstance(line, Rejected) else decoded(path.name, number, line)


def _indices(fields: list[str], bound: int, names: str) -> tuple[int, ...] | str:
    """The fields as indices into a list of `bound` names, or the reason they are not."""
    indices = []
    for field in fields:
        if not field.isascii() or not field.isdigit():
            return f"not an index: {field[:40]!r}"
        index = int(field)
        if index >= bound:
            return f"index {index} out of range ({names} has {bound:,} lines)"
        indices.append(index)
    return tuple(indices)


def _validated(
    model: type[R], fields: dict[str, object], path: Path, number: int, text: str
) -> R | Rejected:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        return Rejected.of(path.name, number, validation_reason(exc), text)
