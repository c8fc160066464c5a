"""Amazon Review Data 2018 (Ni, Li & McAuley, EMNLP 2019): JSON-lines files, gzip or plain.

Reviews: `<Category>_5.json.gz`; metadata: `meta_<Category>.json.gz`. Lines are streamed one at
a time (constant memory). Content never raises: each line that cannot become a record comes
back as a `Rejected` in its place, and a damaged gzip ends the stream with one `Rejected`.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from ingest.records import AmazonProduct, AmazonReview, Rejected, SourceRecord, validation_reason

MAX_LINE_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_SKIP_CHUNK = 1 << 16
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
    if not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise FileNotFoundError(
            f"Amazon 2018 {what} file {path} {problem}. Pass the path of a {what} file "
            f"(JSON lines, gzip or plain), e.g. {example}."
        )


def _records(path: Path, model: type[S]) -> Iterator[S | Rejected]:
    source = path.name
    for number, line in _lines(path):
        if isinstance(line, Rejected):
            yield line
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Rejected.of(source, number, f"not UTF-8: {exc.reason} at byte {exc.start}",
                              line.decode("utf-8", errors="replace"))  # fmt: skip
            continue
        try:
            value = json.loads(text.lstrip("\ufeff") if number == 1 else text)
        except RecursionError:
            yield Rejected.of(source, number, "not JSON: nested too deeply", text)
            continue
        except ValueError as exc:  # JSONDecodeError, or an integer of over 4300 digits
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            yield Rejected.of(source, number, f"not JSON: {detail}", text)
            continue
        if not isinstance(value, dict):
            reason = f"not a JSON object: a JSON {type(value).__name__}"
            yield Rejected.of(source, number, reason, text)
            continue
        try:
            yield model.model_validate(value)
        except ValidationError as exc:
            yield Rejected.of(source, number, validation_reason(exc), text)


def _lines(path: Path) -> Iterator[tuple[int, bytes | Rejected]]:
    """(line number, the line's bytes without its newline) for every non-blank line."""
    number = 0
    with _open(path) as stream:
        while True:
            try:
                line = stream.readline(MAX_LINE_BYTES + 1)
                too_long = len(line) > MAX_LINE_BYTES and not line.endswith(b"\n")
                length = len(line) + _skip_rest(stream) if too_long else 0
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                reason = f"truncated or corrupt gzip after line {number}"
                yield number + 1, Rejected.of(path.name, number + 1, reason, str(exc))
                return
            if not line:
                return
            number += 1
            if too_long:
                reason = f"line too long ({length} bytes > {MAX_LINE_BYTES})"
                excerpt = line[:400].decode("utf-8", errors="replace")
                yield number, Rejected.of(path.name, number, reason, excerpt)
            elif line.strip():
                yield number, line.rstrip(b"\r\n")


def _skip_rest(stream: io.BufferedIOBase) -> int:
    """Read past the rest of an over-long line, a chunk at a time; return its length."""
    skipped = 0
    while chunk := stream.readline(_SKIP_CHUNK):
        if chunk.endswith(b"\n"):
            return skipped + len(chunk) - 1
        skipped += len(chunk)
    return skipped


def _open(path: Path) -> io.BufferedIOBase:
    # Sniff the magic bytes rather than trust the suffix: both kinds get renamed.
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")
