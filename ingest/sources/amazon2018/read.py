"""Amazon Review Data 2018 (Ni, Li & McAuley, EMNLP 2019): JSON-lines files, gzip or plain.

Reviews: `<Category>_5.json.gz`; metadata: `meta_<Category>.json.gz`. Lines are streamed one at
a time (constant memory). Content never raises: each line that cannot become a record comes
back as a `Rejected` in its place, and a damaged gzip ends the stream with one `Rejected`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from ingest.records import AmazonProduct, AmazonReview, Rejected, SourceRecord, validation_reason
from ingest.sources.files import MAX_LINE_BYTES as MAX_LINE_BYTES
from ingest.sources.files import decoded, numbered_lines, require_file

REVIEWS_EXAMPLE = "data/sample/Magazine_Subscriptions_5.json.gz"
META_EXAMPLE = "data/sample/meta_Magazine_Subscriptions.json.gz"

S = TypeVar("S", bound=SourceRecord)


def read_reviews(path: Path) -> Iterator[AmazonReview | Rejected]:
    """The reviews of an Amazon 2018 reviews file, in file order."""
    _require_file(path, "reviews", REVIEWS_EXAMPLE)
    return _records(path, AmazonReview)


def read_products(path: Path) -> Iterator[AmazonProduct | Rejected]:
    """The products of an Amazon 2018 metadata file, in file order (duplicates included)."""
    _require_file(path, "metadata", META_EXAMPLE)
    return _records(path, AmazonProduct)


def check_files(reviews: Path, meta: Path | None) -> None:
    """Raise FileNotFoundError, saying what to pass instead, unless both files are there."""
    _require_file(reviews, "reviews", REVIEWS_EXAMPLE)
    if meta is not None:
        _require_file(meta, "metadata", META_EXAMPLE)


def _require_file(path: Path, what: str, example: str) -> None:
    advice = f"Pass the path of a {what} file (JSON lines, gzip or plain), e.g. {example}."
    require_file(path, f"Amazon 2018 {what} file", advice)


def _records(path: Path, model: type[S]) -> Iterator[S | Rejected]:
    source = path.name
    for number, line in numbered_lines(path):
        if isinstance(line, Rejected):
            yield line
            continue
        text = decoded(source, number, line)
        yield text if isinstance(text, Rejected) else parse_line(source, number, text, model)


def parse_line(source: str, number: int, text: str, model: type[S]) -> S | Rejected:
    """One decoded line (`number` from 1) of `source` as a record, or why it is set aside."""
    try:
        value = json.loads(text.lstrip("\ufeff") if number == 1 else text)
    except RecursionError:
        return Rejected.of(source, number, "not JSON: nested too deeply", text)
    except ValueError as exc:  # JSONDecodeError, or an integer of over 4300 digits
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return Rejected.of(source, number, f"not JSON: {detail}", text)
    if not isinstance(value, dict):
        reason = f"not a JSON object: a JSON {type(value).__name__}"
        return Rejected.of(source, number, reason, text)
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        return Rejected.of(source, number, validation_reason(exc), text)
