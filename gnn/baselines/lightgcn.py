"""LightGCN (He et al. 2020) with PyG's `LightGCN` model: BPR, full graph, early stopping.

Users and items are one node set (items offset by `n_users`); the propagation matrix is the
symmetric normalised bipartite adjacency D^-½AD^-½, built once as a torch sparse CSR tensor.
Each BPR step propagates the whole graph, so large batches keep an epoch to a few steps.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.nn.models import LightGCN as PygLightGCN

from gnn.baselines.base import Baseline, Fitted, Grid, Params
from gnn.metrics import evaluate


def normalised_adjacency(train: sp.csr_matrix) -> torch.Tensor:
    n_users, n_items = train.shape
    adjacency = sp.bmat([[None, train], [train.T, None]], format="csr", dtype=np.float32)
    degree = np.asarray(adjacency.sum(axis=1), dtype=np.float32).ravel()
    scale = np.divide(1.0, np.sqrt(degree), out=np.zeros_like(degree), where=degree > 0)
    adjacency = sp.csr_matrix(sp.diags(scale) @ adjacency @ sp.diags(scale), dtype=np.float32)
    adjacency.sort_indices()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": it is what PyG calls
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(adjacency.indptr.astype(np.int64)),
            torch.from_numpy(adjacency.indices.astype(np.int64)),
            torch.from_numpy(adjacency.data),
            size=(n_users + n_items, n_users + n_items),
            check_invariants=False,
        )


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run with `count` intra-op threads, restoring the previous setting afterwards."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class EmbeddingScorer:
    user_embeddings: torch.Tensor
    item_embeddings: torch.Tensor

    def __call__(self, users: np.ndarray) -> torch.Tensor:
        return self.user_embeddings[torch.from_numpy(users)] @ self.item_embeddings.T


class BPRSampler:
    """Each epoch: every training pair once, in a seeded random order, with one uniform
    negative item per pair, redrawn once where it hit one of the user's positives."""

    def __init__(self, train: sp.csr_matrix, generator: np.random.Generator) -> None:
        coo = train.tocoo()
        self.users, self.items = coo.row.astype(np.int64), coo.col.astype(np.int64)
        self.n_items = train.shape[1]
        self.positive_keys = np.sort(self.users * self.n_items + self.items)
        self.generator = generator

    def _is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * self.n_items + items
        found = np.searchsorted(self.positive_keys, keys)
        found = np.minimum(found, len(self.positive_keys) - 1)
        return np.asarray(self.positive_keys[found] == keys)

    def epoch(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        order = self.generator.permutation(len(self.users))
        users, positives = self.users[order], self.items[order]
        negatives = self.generator.integers(0, self.n_items, len(users))
        clash = self._is_positive(users, negatives)
        negatives[clash] = self.generator.integers(0, self.n_items, int(clash.sum()))
        for start in range(0, len(users), batch_size):
            window = slice(start, start + batch_size)
            yield (
                torch.from_numpy(users[window]),
                torch.from_numpy(positives[window]),
                torch.from_numpy(negatives[window]),
            )


class LightGCN(Baseline):
    """Early-stops on validation NDCG@10 while tuning; a refit without `valid` trains for the
    best epoch count found then (kept in `Fitted.params["epochs"]`)."""

    name = "lightgcn"

    def __init__(
        self,
        grid: Grid | None = None,
        *,
        embedding_dim: int = 64,
        num_layers: int = 3,
        batch_size: int = 8192,
        max_epochs: int = 60,
        eval_every: int = 2,
        patience: int = 3,
        seed: int = 0,
        num_threads: int | None = 1,
    ) -> None:
        super().__init__(grid)
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.eval_every = eval_every
        self.patience = patience
        self.seed = seed
        # Torch's sparse products ran ~8x slower on two threads than on one on a shared
        # two-core machine (thread contention); None keeps torch's own setting.
        self.num_threads = num_threads

    @classmethod
    def default_grid(cls) -> Grid:
        return {"lr": (0.01,), "l2": (1e-4,)}

    def fit(
        self, train: sp.csr_matrix, params: Params, valid: sp.csr_matrix | None = None
    ) -> Fitted:
        if train.nnz == 0:
            raise ValueError("LightGCN needs at least one training interaction")
        with torch_threads(self.num_threads), torch.random.fork_rng():
            torch.manual_seed(self.seed)
            return self._fit(train, params, valid)

    def _fit(self, train: sp.csr_matrix, params: Params, valid: sp.csr_matrix | None) -> Fitted:
        n_users, n_items = train.shape
        adjacency = normalised_adjacency(train)
        model = PygLightGCN(n_users + n_items, self.embedding_dim, self.num_layers, normalize=False)
        optimiser = torch.optim.Adam(model.parameters(), lr=params["lr"])
        sampler = BPRSampler(train, np.random.default_rng(self.seed))
        epochs = (
            self.max_epochs if valid is not None else int(params.get("epochs", self.max_epochs))
        )

        def scorer() -> EmbeddingScorer:
            with torch.no_grad():
                embeddings = model.get_embedding(adjacency)
            return EmbeddingScorer(embeddings[:n_users], embeddings[n_users:])

        best_ndcg, best_epoch, best_weights, waited = (
            -1.0,
            0,
            model.embedding.weight.detach().clone(),
            0,
        )
        for epoch in range(1, epochs + 1):
            model.train()
            for users, positives, negatives in sampler.epoch(self.batch_size):
                embeddings = model.get_embedding(adjacency)
                user_vectors = embeddings[users]
                positive_rank = (user_vectors * embeddings[n_users + positives]).sum(dim=-1)
                negative_rank = (user_vectors * embeddings[n_users + negatives]).sum(dim=-1)
                nodes = torch.unique(torch.cat([users, n_users + positives, n_users + negatives]))
                loss = model.recommendation_loss(
                    positive_rank, negative_rank, node_id=nodes, lambda_reg=params["l2"]
                )
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            if valid is None or (epoch % self.eval_every and epoch != epochs):
                continue
            ndcg = evaluate(scorer(), valid, train, ks=(10,))["ndcg@10"]
            if ndcg > best_ndcg:
                best_ndcg, best_epoch, waited = ndcg, epoch, 0
                best_weights = model.embedding.weight.detach().clone()
            else:
                waited += 1
                if waited >= self.patience:
                    break
        if valid is not None:
            with torch.no_grad():
                model.embedding.weight.copy_(best_weights)
        else:
            best_epoch = epochs
        return Fitted(scorer(), {**params, "epochs": float(best_epoch)})
