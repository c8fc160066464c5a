"""KG-aware EASE: EASE's scores plus alpha times the user's items propagated over item links.

score(u) = x_u B + alpha x_u D^-1 A, where A holds the item-item links (also_bought,
also_viewed, bought_together; summed when given per type) and D^-1 A is A row-normalised,
so each of the user's items spreads one unit of mass over its linked items. With alpha = 0
this is EASE exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gnn.baselines.base import Baseline, Fitted, Grid, Params
from gnn.baselines.ease import ease_weights
from gnn.baselines.sparse import ItemItemScorer, row_normalise
from gnn.data import ItemLinks


def link_transition(item_links: ItemLinks) -> sp.csr_matrix:
    """Row-normalised item x item links; a dict of link types is summed first."""
    links = sum(item_links.values()) if isinstance(item_links, dict) else item_links
    return row_normalise(sp.csr_matrix(links))


@dataclass(frozen=True)
class KGEaseScorer:
    ease: ItemItemScorer
    propagation: ItemItemScorer
    alpha: float

    def __call__(self, users: np.ndarray) -> np.ndarray:
        scores = self.ease(users)
        if self.alpha:
            scores += np.float32(self.alpha) * self.propagation(users)
        return scores


class KGEase(Baseline):
    name = "kg_ease"

    def __init__(self, item_links: ItemLinks, grid: Grid | None = None) -> None:
        super().__init__(grid)
        self.transition = link_transition(item_links)

    @classmethod
    def default_grid(cls) -> Grid:
        return {
            "l2": (50.0, 100.0, 200.0, 500.0, 1000.0),
            "alpha": (0.0, 0.01, 0.03, 0.1, 0.3, 1.0),
        }

    def fit(
        self, train: sp.csr_matrix, params: Params, valid: sp.csr_matrix | None = None
    ) -> Fitted:
        return self._scorer(train, ease_weights(train, params["l2"]), params)

    def fit_grid(self, train: sp.csr_matrix, valid: sp.csr_matrix) -> Iterator[Fitted]:
        # One EASE solve per lambda, shared by every alpha.
        weights: dict[float, np.ndarray] = {}
        for params in self.grid_points():
            if params["l2"] not in weights:
                weights = {params["l2"]: ease_weights(train, params["l2"])}
            yield self._scorer(train, weights[params["l2"]], params)

    def _scorer(self, train: sp.csr_matrix, weights: np.ndarray, params: Params) -> Fitted:
        if self.transition.shape != (train.shape[1], train.shape[1]):
            raise ValueError(
                f"item_links {self.transition.shape} do not match {train.shape[1]} items"
            )
        scorer = KGEaseScorer(
            ItemItemScorer(train, weights), ItemItemScorer(train, self.transition), params["alpha"]
        )
        return Fitted(scorer, dict(params))
