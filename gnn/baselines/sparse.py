"""Sparse helpers the neighbourhood baselines share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def row_normalise(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Each row divided by its sum (rows that sum to 0 stay 0): a random-walk transition."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    inverse = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums != 0)
    return sp.csr_matrix(sp.diags(inverse.astype(np.float32)) @ matrix)


def without_diagonal(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """A square matrix with its diagonal dropped from storage."""
    coo = sp.coo_matrix(matrix)
    off = coo.row != coo.col
    result = sp.csr_matrix((coo.data[off], (coo.row[off], coo.col[off])), shape=matrix.shape)
    result.sort_indices()
    return result


def top_k_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row (ties: lower column index kept)."""
    matrix = sp.csr_matrix(matrix)
    matrix.sort_indices()
    counts = np.diff(matrix.indptr)
    if counts.max(initial=0) <= k:
        return matrix.copy()
    keep = np.zeros(matrix.nnz, dtype=bool)
    for row in np.flatnonzero(counts):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if end - start <= k:
            keep[start:end] = True
            continue
        # Stable sort on -value keeps column order (ascending) among equal values.
        order = np.argsort(-matrix.data[start:end], kind="stable")[:k]
        keep[start + order] = True
    rows = np.repeat(np.arange(matrix.shape[0]), counts)[keep]
    pruned = sp.csr_matrix(
        (matrix.data[keep], (rows, matrix.indices[keep])), shape=matrix.shape, dtype=matrix.dtype
    )
    pruned.sort_indices()
    return pruned


@dataclass(frozen=True)
class ItemItemScorer:
    """Scores `history[users] @ weights` for an item x item weight matrix (sparse or dense)."""

    history: sp.csr_matrix
    weights: sp.csr_matrix | np.ndarray

    def __call__(self, users: np.ndarray) -> np.ndarray:
        product = self.history[users] @ self.weights
        dense = product.toarray() if sp.issparse(product) else product
        return np.asarray(dense, dtype=np.float32)


def dense_top_k_per_row(matrix: np.ndarray, k: int, chunk: int = 1024) -> sp.csr_matrix:
    """The k largest entries of each row of a dense matrix as CSR (which of equal values at
    the k-th place survive is unspecified); rows go in chunks so the index arrays stay small."""
    n_rows, n_columns = matrix.shape
    k = min(k, n_columns)
    columns = np.empty((n_rows, k), dtype=np.int64)
    for start in range(0, n_rows, chunk):
        block = matrix[start : start + chunk]
        columns[start : start + chunk] = np.argpartition(-block, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(matrix, columns, axis=1).astype(np.float32)
    rows = np.repeat(np.arange(n_rows), k)
    pruned = sp.csr_matrix((values.ravel(), (rows, columns.ravel())), shape=matrix.shape)
    pruned.eliminate_zeros()
    pruned.sort_indices()
    return pruned
