"""Reading source files line by line: gzip or plain (sniffed), constant memory, and damage
reported as a `Rejected` line instead of an exception."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path

from ingest.records import Rejected

MAX_LINE_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_SKIP_CHUNK = 1 << 16


class SourceFormatError(ValueError):
    """A whole file is not in the expected layout (a wrong header, missing columns)."""


def require_file(path: Path, label: str, advice: str) -> None:
    """Raise FileNotFoundError "<label> <path> does not exist. <advice>" unless `path` is a file."""
    if not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise FileNotFoundError(f"{label} {path} {problem}. {advice}")


def numbered_lines(path: Path, keep_blank: bool = False) -> Iterator[tuple[int, bytes | Rejected]]:
    """(line number, the line's bytes without its newline) for every line; blank lines only with
    `keep_blank` (where a line's position is its id). A damaged gzip ends the lines with one
    `Rejected`; an over-long line is one `Rejected`."""
    number = 0
    with open_binary(path) as stream:
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
            elif keep_blank or line.strip():
                yield number, line.rstrip(b"\r\n")


def decoded(source: str, number: int, line: bytes) -> str | Rejected:
    """The line as text, or why it is not UTF-8."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8: {exc.reason} at byte {exc.start}"
        return Rejected.of(source, number, reason, line.decode("utf-8", errors="replace"))


def _skip_rest(stream: io.BufferedIOBase) -> int:
    """Read past the rest of an over-long line, a chunk at a time; return its length."""
    skipped = 0
    while chunk := stream.readline(_SKIP_CHUNK):
        if chunk.endswith(b"\n"):
            return skipped + len(chunk) - 1
        skipped += len(chunk)
    return skipped


def open_binary(path: Path) -> io.BufferedIOBase:
    """The file's bytes, gunzipped when it is gzip."""
    # Sniff the magic bytes rather than trust the suffix: both kinds get renamed.
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")
