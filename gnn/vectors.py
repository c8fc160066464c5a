"""Vector helpers the model, the serving code and the baselines share."""

from __future__ import annotations

import numpy as np


def l2_normalised(vectors: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm; all-zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: np.ndarray = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return normalised
