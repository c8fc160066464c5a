"""What an extractor found in a text, kept on disk so a rerun extracts nothing again.

One SQLite file (stdlib, no server): a row per (extractor tag, input), committed per batch. A
kill -9 loses at most the batch in flight, never leaves a half-written entry, and the next run
picks up where the last one stopped.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from pydantic import BaseModel, TypeAdapter

from ingest.extract.base import Mention

_MENTIONS = TypeAdapter(list[Mention])


class MentionCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(path)
        self.connection.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS mentions (key TEXT PRIMARY KEY, found TEXT NOT NULL)"
        )

    @staticmethod
    def key(tag: str, record: BaseModel) -> str:
        """The tag names the extractor and its version; the record is the whole input."""
        return hashlib.sha256(f"{tag}\0{record.model_dump_json()}".encode()).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, list[Mention]]:
        found: dict[str, list[Mention]] = {}
        # SQLite allows 32,766 parameters a statement; batches are far smaller.
        marks = ",".join("?" * len(keys))
        query = f"SELECT key, found FROM mentions WHERE key IN ({marks})"  # noqa: S608 (only ?s)
        for key, value in self.connection.execute(query, list(keys)):
            found[key] = _MENTIONS.validate_json(value)
        return found

    def put_many(self, entries: dict[str, list[Mention]]) -> None:
        with self.connection:  # one transaction: all of the batch or none of it
            self.connection.executemany(
                "INSERT OR REPLACE INTO mentions (key, found) VALUES (?, ?)",
                [
                    (key, json.dumps(_MENTIONS.dump_python(m, mode="json")))
                    for key, m in entries.items()
                ],
            )

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
