"""An approximate nearest-neighbour index over the item embeddings, for catalogues past the size
where scoring every item per request costs more than it should (`bench/ann.py` measures where).

An HNSW graph (faiss) by inner product finds the items whose embeddings best match a request's
vector; the recommender adds the items its item-item term reaches from the asker's history and
scores those candidates exactly, as it scores the whole catalogue below the break-even. The
index only proposes: every score served is exact, and an item's latest embedding is the one
scored even when the index still holds an older one.
"""

from __future__ import annotations

import threading

import faiss
import numpy as np
from numpy.typing import NDArray

Vector = NDArray[np.float32]

LINKS = 32  # HNSW's M: neighbours per node; more is better recall, slower building
EXPLORE = 512  # efSearch: candidates kept per query (bench/ann.py: 256 gave recall 0.93 at 768k)
BUILD_EXPLORE = 80  # efConstruction
CANDIDATES = 200  # at least this many items proposed per request, beside the term's


class ItemIndex:
    """HNSW over item rows 0..n-1; rows added later extend it (an item's row never moves). An
    item placed again keeps its first vector in the index: it is rescored with its current one,
    and the next model load rebuilds the index."""

    def __init__(self, items: Vector) -> None:
        self._index = faiss.IndexHNSWFlat(items.shape[1], LINKS, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = BUILD_EXPLORE
        self._index.add(np.ascontiguousarray(items, dtype=np.float32))
        self._lock = threading.Lock()  # faiss's HNSW may not be searched while it grows

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def extend(self, items: Vector) -> None:
        """Index the rows from len(self) on of the whole item matrix `items`."""
        with self._lock:
            if len(items) > len(self):
                self._index.add(np.ascontiguousarray(items[len(self) :], dtype=np.float32))

    def search(self, vector: Vector, n: int) -> NDArray[np.int64]:
        """The rows of (about) the n items with the largest dot product with `vector`."""
        n = min(max(n, CANDIDATES), len(self))
        # faiss's own stub lacks this class.
        explore = faiss.SearchParametersHNSW(efSearch=max(EXPLORE, n))  # type: ignore[attr-defined]
        with self._lock:
            _, rows = self._index.search(vector.reshape(1, -1).astype(np.float32), n,
                                         params=explore)  # fmt: skip
        found: NDArray[np.int64] = rows[0][rows[0] >= 0].astype(np.int64)
        return found
