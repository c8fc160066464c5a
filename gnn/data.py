"""User x item interaction matrices shared by the models, the baselines and the evaluator.

Everything here is a plain scipy CSR matrix, so a model needs no graph database to be
trained or measured. `train`, `valid` and `test` are disjoint; `valid` is carved out of the
dataset's training data (`carve_validation`) so hyper-parameters are never tuned on `test`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import scipy.sparse as sp

ItemLinks: TypeAlias = sp.csr_matrix | dict[str, sp.csr_matrix]


def interaction_matrix(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int
) -> sp.csr_matrix:
    """Binary float32 CSR matrix with a 1 at every (user, item) pair; duplicates count once."""
    values = np.ones(len(users), dtype=np.float32)
    matrix = sp.csr_matrix((values, (users, items)), shape=(n_users, n_items), dtype=np.float32)
    return binarise(matrix)


def binarise(matrix: sp.spmatrix) -> sp.csr_matrix:
    """The same pattern as `matrix` with every stored non-zero set to 1 (float32, sorted)."""
    binary = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    binary.eliminate_zeros()
    binary.data[:] = 1.0
    binary.sort_indices()
    return binary


@dataclass(frozen=True)
class Interactions:
    """One dataset split: binary user x item CSR matrices plus optional item side data.

    `item_links` is an item x item matrix (or one per link type, e.g. also_bought);
    `cold_items` are item indices with no training or validation interaction at all.
    """

    n_users: int
    n_items: int
    train: sp.csr_matrix
    valid: sp.csr_matrix
    test: sp.csr_matrix
    item_links: ItemLinks | None = None
    cold_items: np.ndarray | None = None

    def __post_init__(self) -> None:
        shape = (self.n_users, self.n_items)
        for name in ("train", "valid", "test"):
            matrix = getattr(self, name)
            if not sp.issparse(matrix) or matrix.format != "csr" or matrix.shape != shape:
                raise ValueError(f"{name} must be a CSR matrix of shape {shape}")
        if self.train.multiply(self.test).nnz or self.valid.multiply(self.test).nnz:
            raise ValueError("test pairs leak into train or valid")
        if self.train.multiply(self.valid).nnz:
            raise ValueError("valid pairs overlap train")
        if self.cold_items is not None and self.train_full[:, self.cold_items].nnz:
            raise ValueError("cold items must have no training interactions")

    @property
    def train_full(self) -> sp.csr_matrix:
        """Everything the model may learn from once tuning is over: train + valid."""
        return binarise(self.train + self.valid)


def carve_validation(
    train: sp.csr_matrix,
    fraction: float = 0.1,
    *,
    timestamps: sp.csr_matrix | None = None,
    seed: int = 0,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split `train` into (train', valid) per user; every user keeps ≥ 1 training item.

    With `timestamps` (a CSR matrix with the pattern of `train` holding each pair's time),
    each user's latest interaction becomes validation (leave-last-out; ties broken by the
    higher item index). Without, each user gives up `fraction` of their items at random,
    rounded stochastically so the expected share is exactly `fraction` even for short
    histories.
    """
    train = binarise(train)
    rng = np.random.default_rng(seed)
    held_rows: list[np.ndarray] = []
    held_cols: list[np.ndarray] = []
    if timestamps is not None:
        timestamps = sp.csr_matrix(timestamps)
        timestamps.sort_indices()
        if timestamps.shape != train.shape or not np.array_equal(timestamps.indices, train.indices):
            raise ValueError("timestamps must have the same sparsity pattern as train")
    for user in range(train.shape[0]):
        start, end = train.indptr[user], train.indptr[user + 1]
        n_items = end - start
        if n_items < 2:
            continue
        items = train.indices[start:end]
        if timestamps is not None:
            times = timestamps.data[start:end]
            # lexsort: last key is primary; the latest time, then the highest item index.
            held = items[np.lexsort((items, times))[-1:]]
        else:
            n_held = min(int(np.floor(fraction * n_items + rng.random())), n_items - 1)
            held = rng.choice(items, size=n_held, replace=False)
        held_rows.append(np.full(len(held), user))
        held_cols.append(held)
    rows = np.concatenate(held_rows) if held_rows else np.empty(0, dtype=np.int64)
    cols = np.concatenate(held_cols) if held_cols else np.empty(0, dtype=np.int64)
    valid = interaction_matrix(rows, cols, *train.shape)
    remaining = binarise(train - train.multiply(valid))
    return remaining, valid
