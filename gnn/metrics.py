"""Full-ranking top-k evaluation: every item is a candidate, the user's own training items excepted.

The protocol is that of Xian et al. 2019 (PGPR): rank all items for each test user, drop
the items the user trained on, take the top k; every user with at least one relevant item
is counted (a user never gets skipped because their list is short). Scores are ranked in
user batches so memory stays bounded at `batch_size x n_items` floats.

Ties rank the lower item index first, so a model that scores many items alike (MostPopular
with equal counts, an untrained model) is measured the same way on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

Scorer = Callable[[np.ndarray], np.ndarray | torch.Tensor]
"""Scores every item for each given user: `score(users) -> (len(users), n_items)`."""

DEFAULT_KS: tuple[int, ...] = (10, 20)


@dataclass(frozen=True)
class Metrics(Mapping[str, float]):
    """Averages over `n_users` evaluated users, readable as `metrics["ndcg@10"]`."""

    averages: dict[str, float]
    n_users: int
    per_user: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, key: str) -> float:
        return self.averages[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.averages)

    def __len__(self) -> int:
        return len(self.averages)


def top_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and values of the k highest scores per row; equal scores rank lower index first."""
    values, indices = torch.topk(scores, k, dim=1, sorted=True)
    boundary = values[:, -1:]
    # torch.topk leaves the order of equal scores unspecified: rows with a tie inside the
    # top k or at its boundary are re-ranked with a stable sort (index order among equals).
    tied = (scores >= boundary).sum(dim=1) > k
    if k > 1:
        tied |= (values[:, 1:] == values[:, :-1]).any(dim=1)
    if bool(tied.any()):
        rows = tied.nonzero().squeeze(1)
        sorted_values, sorted_indices = torch.sort(
            scores[rows], dim=1, descending=True, stable=True
        )
        values[rows] = sorted_values[:, :k]
        indices[rows] = sorted_indices[:, :k]
    return indices, values


def _as_float_tensor(scores: np.ndarray | torch.Tensor) -> torch.Tensor:
    # Always a fresh float32 copy: masking must not write into a scorer's cached arrays.
    if isinstance(scores, torch.Tensor):
        return scores.detach().to(device="cpu", dtype=torch.float32, copy=True)
    return torch.tensor(np.asarray(scores), dtype=torch.float32)


def _restrict_columns(matrix: sp.csr_matrix, columns: np.ndarray) -> sp.csr_matrix:
    keep = np.zeros(matrix.shape[1], dtype=np.float32)
    keep[columns] = 1.0
    restricted = sp.csr_matrix(matrix @ sp.diags(keep))
    restricted.eliminate_zeros()
    return restricted


def evaluate(
    score: Scorer,
    relevant: sp.csr_matrix,
    exclude: sp.csr_matrix | None = None,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    relevant_items: np.ndarray | None = None,
    batch_size: int = 1024,
    keep_per_user: bool = False,
) -> Metrics:
    """Recall, NDCG, HR and Precision @k and catalogue coverage @k over all items.

    `relevant` holds the held-out positives (user x item); `exclude` the pairs that are never
    recommended (the user's training items), scored -inf. With `relevant_items` (e.g. the
    cold items) only those items count as relevant and only users holding one are evaluated,
    while every item stays a candidate. NDCG uses binary gains with the ideal DCG over
    min(|relevant|, k) hits; Precision@k divides by k.
    """
    relevant = sp.csr_matrix(relevant, dtype=np.float32)
    if relevant_items is not None:
        relevant = _restrict_columns(relevant, relevant_items)
    n_items = relevant.shape[1]
    if exclude is not None and exclude.shape != relevant.shape:
        raise ValueError(f"exclude has shape {exclude.shape}, relevant {relevant.shape}")
    ks = sorted(set(ks))
    k_max = ks[-1]
    if ks[0] < 1 or k_max > n_items:
        raise ValueError(f"every k must lie in 1..{n_items}, got {ks}")
    relevant_counts = np.diff(relevant.indptr)
    users = np.flatnonzero(relevant_counts)
    discounts = 1.0 / np.log2(np.arange(2, k_max + 2))
    ideal_dcg = np.cumsum(discounts)

    per_user: dict[str, list[np.ndarray]] = {
        f"{name}@{k}": [] for k in ks for name in ("recall", "ndcg", "hr", "precision")
    }
    recommended = {k: np.zeros(n_items, dtype=bool) for k in ks}
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        scores = _as_float_tensor(score(batch))
        if scores.shape != (len(batch), n_items):
            raise ValueError(f"scorer returned {tuple(scores.shape)}, want {(len(batch), n_items)}")
        if exclude is not None:
            seen = exclude[batch].tocoo()
            scores[torch.from_numpy(seen.row), torch.from_numpy(seen.col)] = -torch.inf
        indices, values = top_k(scores, k_max)
        top_items = indices.numpy()
        # An excluded item can fill the list only when too few candidates remain; it never hits.
        allowed = np.isfinite(values.numpy())
        hits = np.take_along_axis(relevant[batch].toarray() > 0, top_items, axis=1) & allowed
        n_relevant = relevant_counts[batch]
        for k in ks:
            hits_k = hits[:, :k]
            n_hits = hits_k.sum(axis=1)
            dcg = (hits_k * discounts[:k]).sum(axis=1)
            columns = {
                f"recall@{k}": n_hits / n_relevant,
                f"ndcg@{k}": dcg / ideal_dcg[np.minimum(n_relevant, k) - 1],
                f"hr@{k}": (n_hits > 0).astype(np.float64),
                f"precision@{k}": n_hits / k,
            }
            for name, column in columns.items():
                per_user[name].append(column)
            recommended[k][top_items[:, :k][allowed[:, :k]]] = True

    stacked = {name: np.concatenate([np.empty(0), *parts]) for name, parts in per_user.items()}
    values_out = {
        name: float(column.mean()) if len(column) else 0.0 for name, column in stacked.items()
    }
    for k in ks:
        values_out[f"coverage@{k}"] = float(recommended[k].mean())
    return Metrics(values_out, n_users=len(users), per_user=stacked if keep_per_user else {})
