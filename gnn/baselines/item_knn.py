"""ItemKNN: cosine item-item similarity from co-occurrence, each item's top-k neighbours kept."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from gnn.baselines.base import Baseline, Fitted, Grid, Params
from gnn.baselines.sparse import ItemItemScorer, top_k_per_row, without_diagonal


def cosine_similarity(train: sp.csr_matrix, shrink: float) -> sp.csr_matrix:
    """Item x item cosine of the user columns, `shrink` added to the denominator; no diagonal."""
    co_occurrence = without_diagonal(sp.csr_matrix(train.T @ train, dtype=np.float32))
    norms = np.sqrt(np.asarray(train.sum(axis=0), dtype=np.float32).ravel())  # binary columns
    rows = np.repeat(np.arange(co_occurrence.shape[0]), np.diff(co_occurrence.indptr))
    denominator = norms[rows] * norms[co_occurrence.indices] + shrink
    co_occurrence.data = (co_occurrence.data / denominator).astype(np.float32)
    return co_occurrence


class ItemKNN(Baseline):
    name = "item_knn"

    @classmethod
    def default_grid(cls) -> Grid:
        return {"shrink": (0.0, 10.0), "neighbours": (20, 50, 100, 200, 500, 1000)}

    def fit(
        self, train: sp.csr_matrix, params: Params, valid: sp.csr_matrix | None = None
    ) -> Fitted:
        similarity = cosine_similarity(train, params["shrink"])
        return self._pruned(train, similarity, params)

    def fit_grid(self, train: sp.csr_matrix, valid: sp.csr_matrix) -> Iterator[Fitted]:
        similarities: dict[float, sp.csr_matrix] = {}
        for params in self.grid_points():
            shrink = params["shrink"]
            if shrink not in similarities:
                similarities = {shrink: cosine_similarity(train, shrink)}
            yield self._pruned(train, similarities[shrink], params)

    @staticmethod
    def _pruned(train: sp.csr_matrix, similarity: sp.csr_matrix, params: Params) -> Fitted:
        # Row j of the symmetric similarity lists j's neighbours; transposed, column j does,
        # so a user's score for j sums only over j's k nearest items.
        weights = sp.csr_matrix(top_k_per_row(similarity, int(params["neighbours"])).T)
        return Fitted(ItemItemScorer(train, weights), dict(params))
