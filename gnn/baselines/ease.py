"""EASE (Steck 2019): a closed-form item x item linear model with a zero diagonal."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from gnn.baselines.base import Baseline, Fitted, Grid, Params
from gnn.baselines.sparse import ItemItemScorer


def ease_weights(train: sp.csr_matrix, l2: float) -> np.ndarray:
    """B = I - P·diag(1/diag(P)) with P = (XᵀX + lambdaI)⁻¹, so B's diagonal is exactly 0.

    The Gram matrix is dense float32 (12k items: 0.6 GB); XᵀX + lambdaI is positive definite,
    so a Cholesky inverse (half the work of a general inverse) is enough.
    """
    gram = torch.from_numpy(np.asarray((train.T @ train).toarray(), dtype=np.float32))
    gram.diagonal().add_(l2)
    precision = torch.cholesky_inverse(torch.linalg.cholesky(gram))
    del gram
    weights = precision / -precision.diagonal().unsqueeze(0)
    weights.diagonal().zero_()
    return weights.numpy()


class EASE(Baseline):
    name = "ease"

    @classmethod
    def default_grid(cls) -> Grid:
        return {"l2": (50.0, 100.0, 200.0, 500.0, 1000.0)}

    def fit(
        self, train: sp.csr_matrix, params: Params, valid: sp.csr_matrix | None = None
    ) -> Fitted:
        return Fitted(ItemItemScorer(train, ease_weights(train, params["l2"])), dict(params))
