"""RP3beta (Paudel et al. 2016): a three-step random walk item -> user -> item, popularity-damped.

W = P_iu^alpha P_ui^alpha (element-wise powers), each target column j divided by
popularity_j^beta, the top k kept per row; P_ui and P_iu are the row-normalised
user -> item and item -> user transitions.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from gnn.baselines.base import Baseline, Fitted, Grid, Params
from gnn.baselines.sparse import ItemItemScorer, row_normalise, top_k_per_row, without_diagonal


def three_step_walk(train: sp.csr_matrix, alpha: float) -> sp.csr_matrix:
    user_to_item = row_normalise(train).power(alpha)
    item_to_user = row_normalise(train.T).power(alpha)
    return without_diagonal(sp.csr_matrix(item_to_user @ user_to_item, dtype=np.float32))


def damped(walk: sp.csr_matrix, popularity: np.ndarray, beta: float) -> sp.csr_matrix:
    safe = np.where(popularity > 0, popularity, 1.0)
    return sp.csr_matrix(walk @ sp.diags((safe**-beta).astype(np.float32)))


class RP3Beta(Baseline):
    name = "rp3beta"

    @classmethod
    def default_grid(cls) -> Grid:
        return {"alpha": (0.5, 0.75, 1.0), "beta": (0.0, 0.25, 0.5), "neighbours": (100, 500)}

    def fit(
        self, train: sp.csr_matrix, params: Params, valid: sp.csr_matrix | None = None
    ) -> Fitted:
        return self._pruned(train, three_step_walk(train, params["alpha"]), params)

    def fit_grid(self, train: sp.csr_matrix, valid: sp.csr_matrix) -> Iterator[Fitted]:
        walks: dict[float, sp.csr_matrix] = {}
        for params in self.grid_points():
            if params["alpha"] not in walks:
                walks = {params["alpha"]: three_step_walk(train, params["alpha"])}
            yield self._pruned(train, walks[params["alpha"]], params)

    @staticmethod
    def _pruned(train: sp.csr_matrix, walk: sp.csr_matrix, params: Params) -> Fitted:
        popularity = np.asarray(train.sum(axis=0), dtype=np.float32).ravel()
        weights = top_k_per_row(damped(walk, popularity, params["beta"]), int(params["neighbours"]))
        return Fitted(ItemItemScorer(train, weights), dict(params))
