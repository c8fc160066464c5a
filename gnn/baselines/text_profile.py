"""Text-only: a user is the mean text vector of their training items; items ranked by cosine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gnn.baselines.base import Baseline, Fitted, Params
from gnn.vectors import l2_normalised

__all__ = ["CosineScorer", "TextProfile"]


@dataclass(frozen=True)
class CosineScorer:
    user_vectors: np.ndarray
    item_vectors: np.ndarray

    def __call__(self, users: np.ndarray) -> np.ndarray:
        scores: np.ndarray = self.user_vectors[users] @ self.item_vectors.T
        return scores


class TextProfile(Baseline):
    """Needs no interactions of an item, so it also ranks cold items."""

    name = "text_profile"

    def __init__(self, item_vectors: np.ndarray) -> None:
        super().__init__()
        self.item_vectors = l2_normalised(np.asarray(item_vectors, dtype=np.float32))

    def fit(
        self, train: sp.csr_matrix, params: Params, valid: sp.csr_matrix | None = None
    ) -> Fitted:
        if self.item_vectors.shape[0] != train.shape[1]:
            raise ValueError(
                f"{self.item_vectors.shape[0]} item vectors for {train.shape[1]} items"
            )
        # Normalising the sum gives the same direction as normalising the mean.
        profiles = l2_normalised(np.asarray(train @ self.item_vectors, dtype=np.float32))
        return Fitted(CosineScorer(profiles, self.item_vectors), dict(params))
