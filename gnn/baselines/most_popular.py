"""MostPopular: every user gets the items with the most training interactions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gnn.baselines.base import Baseline, Fitted, Params


@dataclass(frozen=True)
class PopularityScorer:
    popularity: np.ndarray

    def __call__(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(users), len(self.popularity)))


class MostPopular(Baseline):
    name = "most_popular"

    def fit(
        self, train: sp.csr_matrix, params: Params, valid: sp.csr_matrix | None = None
    ) -> Fitted:
        popularity = np.asarray(train.sum(axis=0), dtype=np.float32).ravel()
        return Fitted(PopularityScorer(popularity), dict(params))
