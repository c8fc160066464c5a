"""The LLM answer cache: one small JSON file per question, so a rerun asks the model nothing.

Files are written to a temporary name and renamed into place, so a crash or a concurrent
writer never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


class AnswerCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @staticmethod
    def key(*parts: str) -> str:
        """sha256 over the parts; JSON-encoded so that ("ab", "c") and ("a", "bc") differ."""
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"  # 256 folders keep directories small

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            text = self._path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        record: dict[str, Any] = json.loads(text)
        return record

    def put(self, key: str, record: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(record, file)
            tmp.replace(path)  # atomic: readers see the old entry or the new one, never half
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
