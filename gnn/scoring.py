"""The model's score, in one place: training's evaluation, `gnn.infer`, the API and the benches
all call this module.

    score(user, item) = max(gnn, TIE_BREAK) * (user vector . item vector)
        + (the user's items) @ (link * item links + ease * EASE weights + text * text neighbours)

The blend (`Blend`: the GNN weight, the item-link, EASE and text-neighbour weights, and EASE's
lambda) is picked on validation by training over a grid that includes "no GNN" (GNN weight 0)
and "EASE alone", so where the graph does not help the served model falls back to what does. A GNN
weight of 0 keeps the dot products at `TIE_BREAK`: they then only order what the item-item
term leaves tied (for a short history, most of the catalogue) instead of the item index, and
they still rank everything for a user or a request with no history at all.

An item without interactions (a cold item in training, an item added since) has no column of
its own in EASE's weights: it borrows the columns of the trained items nearest its vector
(`borrow_weights`). Borrowed, its term is a mean over neighbours and so lower than a trained
item's, which would keep it out of every top list; the blend's `cold` offset, added to such an
item's score when a history is spread, is picked on a slice of trained items made cold for the
purpose (`gnn.train.tune_cold`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from gnn.vectors import l2_normalised

Scores = NDArray[np.float32]

TIE_BREAK = 1e-6  # the dot products' weight when the blend's GNN weight is 0
COLD_NEIGHBOURS = 10  # trained items an item without interactions borrows the term from


@dataclass(frozen=True)
class Blend:
    """The weights of the score's parts, picked on validation: the GNN's dot products, the
    row-normalised item links, EASE's item-item weights, and EASE's lambda, and each item's
    nearest items by text (row-normalised MiniLM cosines)."""

    gnn: float = 1.0
    link: float = 0.0
    ease: float = 0.0
    ease_l2: float = 0.0
    text: float = 0.0
    cold: float = 0.0  # added to the score of an item without interactions (with a history)

    @property
    def vector_weight(self) -> float:
        return self.gnn or TIE_BREAK

    @property
    def has_item_item(self) -> bool:
        return bool(self.link or self.ease or self.text)

    def describe(self) -> str:
        ease = f"EASE {self.ease:g}" + (f" (lambda {self.ease_l2:g})" if self.ease else "")
        parts = [f"GNN {self.gnn:g}", f"item links {self.link:g}", ease, f"text {self.text:g}"]
        if self.cold:
            parts.append(f"cold items +{self.cold:.3g}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Blend:
        """The blend a saved model's config records. Models saved before blends were picked
        have no `blend`: their GNN weight is 1 and their item-item parts (if any) are in
        `item_item_parts`."""
        if "blend" in config:
            return cls(**config["blend"])
        return cls(**config.get("item_item_parts") or {})


@dataclass(frozen=True)
class ItemItemTerm:
    """`weight * history @ matrix`: each of a user's items adds `weight` times its row of a
    catalogue x catalogue matrix, the blend's item-link, EASE and text parts summed (`weight` 1).
    Models saved before the EASE part hold the row-normalised links alone and their weight."""

    matrix: sp.csr_matrix
    weight: float = 1.0

    def spread(self, history: sp.spmatrix) -> Scores:
        """(rows of `history`, n_catalogue) scores for users' item rows (users x catalogue)."""
        product = sp.csr_matrix(history @ self.matrix).toarray()
        spread: Scores = np.asarray(product, dtype=np.float32) * np.float32(self.weight)
        return spread

    def spread_to_new(self, items: Sequence[int], borrowed: sp.csr_matrix) -> Scores:
        """One history's spread over the catalogue and then over the items added since
        training, each of which takes its `borrowed` (new x catalogue) share of the spread
        to the trained items it resembles. The rows of its items are summed straight from the
        matrix: a request pays no sparse products for its one history."""
        matrix = self.matrix
        entries = self._entries(items)
        summed = np.bincount(matrix.indices[entries], weights=matrix.data[entries],
                             minlength=matrix.shape[1])  # fmt: skip
        spread: Scores = summed.astype(np.float32) * np.float32(self.weight)
        if not borrowed.shape[0]:
            return spread
        return np.concatenate([spread, np.asarray(borrowed @ spread, dtype=np.float32)])

    def reached(self, items: Sequence[int], limit: int) -> NDArray[np.int64]:
        """The (at most `limit`) catalogue columns these items' rows add the most to: the
        candidates the term proposes, found without a pass over the whole catalogue."""
        entries = self._entries(items)
        columns, where = np.unique(self.matrix.indices[entries], return_inverse=True)
        summed = np.bincount(where, weights=self.matrix.data[entries])
        if len(columns) > limit:
            columns = columns[np.argpartition(-summed, limit - 1)[:limit]]
        reached: NDArray[np.int64] = columns.astype(np.int64)
        return reached

    def _entries(self, items: Sequence[int]) -> NDArray[np.int64]:
        """Positions in the matrix's data of the entries of these items' rows."""
        matrix = self.matrix
        rows = np.unique(np.asarray(items, dtype=np.int64))
        starts, counts = matrix.indptr[rows], np.diff(matrix.indptr)[rows]
        entries: NDArray[np.int64] = np.repeat(
            starts - np.cumsum(counts) + counts, counts
        ) + np.arange(counts.sum())
        return entries


def blended(
    dots: Scores, spread: Scores | None, vector_weight: float, offsets: Scores | None = None
) -> Scores:
    """The score out of its parts: the dot products (times `vector_weight`, normally the
    blend's) plus the item-item term's `spread` plus the items' `offsets` (`cold_offsets`).
    Without a spread (no term, or no history to spread) the dot products are the score as they
    are: the weight would not change the order, and the offsets were picked beside a spread."""
    if spread is None:
        return dots
    score: Scores = dots * np.float32(vector_weight) + spread
    return score if offsets is None else score + offsets


def cold_offsets(blend: Blend, history: sp.spmatrix | None, n_items: int) -> Scores | None:
    """Per catalogue item, the blend's `cold` offset where no one in `history` (users x
    catalogue: what the term spreads) interacted with it, 0 elsewhere; None without an offset."""
    if not blend.cold or history is None:
        return None
    untouched = ~interacted(history)[:n_items]
    return np.where(untouched, np.float32(blend.cold), np.float32(0)).astype(np.float32)


def interacted(history: sp.spmatrix) -> NDArray[np.bool_]:
    """Per catalogue item (column of `history`), whether anyone interacted with it."""
    return np.asarray(history.getnnz(axis=0)).ravel() > 0


@dataclass
class ModelScorer:
    """Scores of known users over the catalogue, as `gnn.metrics.evaluate` takes them: what
    training validates and tests, and what a loaded model serves."""

    users: Scores  # (n_users, dim)
    items: Scores  # (n_catalogue, dim)
    blend: Blend = field(default_factory=Blend)
    term: ItemItemTerm | None = None
    history: sp.csr_matrix | None = None  # (n_users, n_catalogue): the items the term spreads
    item_ids: Sequence[str] = ()

    @cached_property
    def item_row(self) -> dict[str, int]:
        """Catalogue item id -> row, built once."""
        return {item: row for row, item in enumerate(self.item_ids)}

    @cached_property
    def offsets(self) -> Scores | None:
        """The blend's cold offset per catalogue item (`cold_offsets`), built once."""
        return cold_offsets(self.blend, self.history, len(self.items))

    def __call__(self, users: NDArray[np.int64] | Sequence[int]) -> Scores:
        rows = np.asarray(users, dtype=np.int64)
        spread = None
        if self.term is not None and self.history is not None:
            # A user beyond the saved history (none today) spreads nothing.
            known = rows < self.history.shape[0]
            spread = self.term.spread(self.history[np.where(known, rows, 0)])
            spread[~known] = 0.0
        dots = self.users[rows] @ self.items.T
        return blended(dots, spread, self.blend.vector_weight, self.offsets)


def borrow_weights(
    queries: np.ndarray, candidates: np.ndarray, neighbours: int, chunk: int = 1024
) -> sp.csr_matrix:
    """(queries x candidates) weights of each query vector's `neighbours` most cosine-similar
    candidates, in proportion to their positive cosine, summing to 1 (a row with no positive
    cosine stays empty). How an item without interactions borrows the item-item term of the
    trained items it resembles."""
    k = min(neighbours, len(candidates))
    shape = (len(queries), len(candidates))
    if not k or not len(queries):
        return sp.csr_matrix(shape, dtype=np.float32)

    towards = l2_normalised(np.asarray(candidates, dtype=np.float32))
    rows, columns, values = [], [], []
    for start in range(0, len(queries), chunk):
        similarity = l2_normalised(np.asarray(queries[start : start + chunk], dtype=np.float32))
        similarity = similarity @ towards.T
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        weight = np.maximum(np.take_along_axis(similarity, nearest, axis=1), 0.0)
        weight /= np.maximum(weight.sum(axis=1, keepdims=True), 1e-12)
        rows.append(np.repeat(np.arange(start, start + len(nearest)), k))
        columns.append(nearest.ravel())
        values.append(weight.ravel())
    matrix = sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))), shape=shape
    )
    matrix.eliminate_zeros()
    return matrix
