"""Training: BPR or sampled softmax over catalogue negatives, full-graph propagation per step,
early stopping on validation NDCG@10, the item-item term's weights picked on validation, then
(optionally) a refit on train + valid for the best number of epochs before the one look at test.
"""

from __future__ import annotations

import copy
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gnn.baselines.ease import EASE, ease_weights
from gnn.baselines.kg_ease import link_transition
from gnn.baselines.sparse import dense_top_k_per_row
from gnn.dataset import RecDataset
from gnn.metrics import Metrics, evaluate
from gnn.model import (
    COLD_NEIGHBOURS,
    ItemItemTerm,
    ItemItemWeights,
    KGRecModel,
    ModelConfig,
    borrow_weights,
)
from gnn.text import resolve_device
from gnn.tuning import tune

Loss = Literal["softmax", "bpr"]


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: Loss = "softmax"
    temperature: float = 0.1  # softmax: sharpness (scores are cosines when normalised)
    negatives: int = 1024  # softmax: shared per batch; bpr: one per positive regardless
    batch_size: int = 16384
    lr: float = 0.01
    l2: float = 0.0  # Adam weight decay
    max_epochs: int = 100
    patience: int = 5  # epochs without a better validation NDCG@10 before stopping
    time_budget_s: float = 15 * 60  # training stops at its best so far past this
    refit: bool = True  # retrain on train + valid for the best epoch count
    # The item-item term's grid, tried on validation after early stopping (every pair of an
    # item-link weight and an EASE weight; the best NDCG@10 wins, ties: the first pair); all
    # weights 0 leave the term out. EASE's lambda is picked on validation as the EASE
    # baseline picks it, over `ease_l2s`; each item keeps its `ease_top_k` largest weights, so
    # the term stays a sparse matrix to save and serve.
    item_link_weights: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0)
    ease_weights: tuple[float, ...] = (0.0, 2.0, 3.0, 4.0)
    ease_l2s: tuple[float, ...] = (50.0, 100.0, 200.0, 500.0, 1000.0)
    ease_top_k: int = 500
    # An item with no training interactions has an all-zero EASE column, so the term would
    # sink it below every item it knows; it borrows the similarity-weighted mean column of
    # its nearest trained items (cosine of the GNN's item embeddings) instead.
    ease_cold_neighbours: int = COLD_NEIGHBOURS
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EpochLog:
    epoch: int
    loss: float
    valid_ndcg10: float | None
    seconds: float


@dataclass
class TrainResult:
    model: KGRecModel
    history: list[EpochLog]
    best_epoch: int
    best_valid: dict[str, float]
    test: dict[str, float]
    cold_test: dict[str, float] | None
    train_seconds: float
    seconds_to_best: float
    peak_rss_mb: float
    device: str
    test_gnn_only: dict[str, float] = field(default_factory=dict)  # no item-item term
    # (item-link weight, EASE weight) -> validation NDCG@10
    item_item_valid: dict[tuple[float, float], float] = field(default_factory=dict)


EpochCallback = Callable[[EpochLog], None]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)  # libraries underneath read the global state


def build_model(dataset: RecDataset, config: TrainConfig, device: torch.device) -> KGRecModel:
    """A fresh model bound to the dataset's graph; id embeddings only for nodes seen in training
    (users and catalogue items with a training interaction, and every non-catalogue node)."""
    seen = torch.ones(sum(dataset.graph.num_nodes.values()), dtype=torch.bool)
    model = KGRecModel(config.model, dataset.graph.num_nodes, _relations(dataset), seen)
    train = dataset.interactions.train
    users = torch.from_numpy(np.asarray(train.sum(axis=1)).ravel() > 0)
    items = torch.ones(dataset.graph.num_nodes["item"], dtype=torch.bool)  # stubs: graph nodes
    items[: dataset.n_items] = torch.from_numpy(np.asarray(train.sum(axis=0)).ravel() > 0)
    model.id_mask[model.index.slice("user")] = users.float().unsqueeze(1)
    model.id_mask[model.index.slice("item")] = items.float().unsqueeze(1)
    model.to(device)
    model.attach(dataset.graph, dataset.features)
    return model


def _relations(dataset: RecDataset) -> list[str]:
    return [name for name, edges in dataset.graph.edges.items() if edges.shape[1] > 0]


def embeddings(model: KGRecModel, n_items: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(user, catalogue item) embeddings of a trained model, on the CPU."""
    model.eval()
    with torch.no_grad():
        users, items = model.split(model())
    return users.cpu(), items[:n_items].cpu()


def scorer(
    users: torch.Tensor,
    items: torch.Tensor,
    history: sp.csr_matrix | None = None,
    item_item: ItemItemTerm | None = None,
) -> Callable[[np.ndarray], torch.Tensor]:
    """Dot products, plus the item-item term over `history` (users x catalogue) when given."""

    def score(batch: np.ndarray) -> torch.Tensor:
        rows = np.asarray(batch, dtype=np.int64)
        scores = users[torch.from_numpy(rows)] @ items.T
        if item_item is not None and history is not None:
            scores = scores + item_item.scores(history[rows])
        return scores

    return score


def item_link_matrix(dataset: RecDataset) -> sp.csr_matrix | None:
    """The dataset's item-item links (every type, summed) row-normalised, as KG-EASE uses
    them; None when it has none."""
    links = dataset.interactions.item_links
    if links is None:
        return None
    matrix = link_transition(links)
    return matrix if matrix.nnz else None


def ease_matrix(train: sp.csr_matrix, l2: float, top_k: int) -> sp.csr_matrix:
    """EASE's item-item weights fit on `train`, each item's `top_k` largest kept."""
    return dense_top_k_per_row(ease_weights(train, l2), top_k)


def impute_cold_columns(
    matrix: sp.csr_matrix, train: sp.csr_matrix, items: torch.Tensor, neighbours: int
) -> sp.csr_matrix:
    """`matrix` with each column of an item no one in `train` interacted with (all zero in
    EASE's weights) filled with the `borrow_weights` mean of its `neighbours` most similar
    trained items' columns (cosine of `items`, the model's item embeddings)."""
    trained = np.asarray(train.getnnz(axis=0) > 0)
    cold, warm = np.flatnonzero(~trained), np.flatnonzero(trained)
    vectors = items.float().numpy()
    borrowed = borrow_weights(vectors[cold], vectors[warm], neighbours).tocoo()
    if not borrowed.nnz:
        return matrix
    n = matrix.shape[1]
    spread = sp.csr_matrix((borrowed.data, (warm[borrowed.col], cold[borrowed.row])), (n, n))
    return sp.csr_matrix(matrix + matrix @ spread)  # cold columns were all zero


def ease_part(
    train: sp.csr_matrix, l2: float, items: torch.Tensor, config: TrainConfig
) -> sp.csr_matrix:
    """The term's EASE matrix: fit on `train`, its largest weights kept, the columns of items
    without interactions borrowed (`items`: the model's item embeddings)."""
    ease = ease_matrix(train, l2, config.ease_top_k)
    return impute_cold_columns(ease, train, items, config.ease_cold_neighbours)


def item_item_term(
    weights: ItemItemWeights, links: sp.csr_matrix | None, ease: sp.csr_matrix | None
) -> ItemItemTerm | None:
    """The term `weights` describe over these matrices; None when it adds nothing."""
    parts = [weight * matrix for weight, matrix in ((weights.link, links), (weights.ease, ease))
             if weight and matrix is not None]  # fmt: skip
    return ItemItemTerm(sp.csr_matrix(sum(parts)), 1.0, weights) if parts else None


def final_item_item(
    weights: ItemItemWeights | None, dataset: RecDataset, config: TrainConfig,
    items: torch.Tensor,
) -> ItemItemTerm | None:  # fmt: skip
    """The term for the returned model (`items`: its item embeddings): EASE refit on the data
    that model is fitted on."""
    if weights is None:
        return None
    ease = None
    if weights.ease:
        ease = ease_part(dataset.interactions.train, weights.ease_l2, items, config)
    return item_item_term(weights, item_link_matrix(dataset), ease)


def tune_item_item(
    model: KGRecModel, dataset: RecDataset, config: TrainConfig
) -> tuple[ItemItemWeights | None, dict[tuple[float, float], float]]:
    """The (item-link, EASE) weights with the best validation NDCG@10 (the term spreads the
    training items); None when both are 0, or there is no validation slice."""
    interactions = dataset.interactions
    links = item_link_matrix(dataset)
    link_weights = config.item_link_weights if links is not None else (0.0,)
    if not interactions.valid.nnz or not any((*link_weights, *config.ease_weights)):
        return None, {}
    l2, ease = 0.0, None
    users, items = embeddings(model, dataset.n_items)
    if any(config.ease_weights):
        picked = tune(EASE({"l2": config.ease_l2s}), interactions.train, interactions.valid)
        l2 = picked.best_params["l2"]
        ease = ease_part(interactions.train, l2, items, config)
    found: dict[tuple[float, float], float] = {}
    for link in link_weights:
        for ease_weight in config.ease_weights:
            term = item_item_term(ItemItemWeights(link, ease_weight, l2), links, ease)
            metrics = evaluate(
                scorer(users, items, interactions.train, term), interactions.valid,
                interactions.train, ks=(10,),
            )  # fmt: skip
            found[link, ease_weight] = metrics["ndcg@10"]
    best = max(found, key=lambda pair: found[pair])  # max keeps the first of equals
    return (ItemItemWeights(*best, l2) if any(best) else None), found


def _epoch(
    model: KGRecModel,
    optimiser: torch.optim.Optimizer,
    pairs: torch.Tensor,
    n_items: int,
    config: TrainConfig,
    generator: torch.Generator,
) -> float:
    model.train()
    order = torch.randperm(pairs.shape[1], generator=generator)
    total = 0.0
    device = model.ids.weight.device
    for start in range(0, len(order), config.batch_size):
        batch = pairs[:, order[start : start + config.batch_size]].to(device)
        users_all, items_all = model.split(model())
        users, positives = users_all[batch[0]], items_all[batch[1]]
        if config.loss == "softmax":
            negatives = torch.randint(n_items, (config.negatives,), generator=generator)
            users = torch.nn.functional.normalize(users, dim=1)
            positive_items = torch.nn.functional.normalize(positives, dim=1)
            negative_items = torch.nn.functional.normalize(items_all[negatives.to(device)], dim=1)
            logits = (
                torch.cat(
                    [(users * positive_items).sum(1, keepdim=True), users @ negative_items.T], dim=1
                )
                / config.temperature
            )
            loss = torch.nn.functional.cross_entropy(
                logits, torch.zeros(len(users), dtype=torch.long, device=device)
            )
        else:
            negatives = torch.randint(n_items, (batch.shape[1],), generator=generator)
            margin = (users * positives).sum(1) - (users * items_all[negatives.to(device)]).sum(1)
            loss = -torch.nn.functional.logsigmoid(margin).mean()
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        total += float(loss.detach()) * batch.shape[1]
    return total / pairs.shape[1]


def _pairs(dataset: RecDataset) -> torch.Tensor:
    coo = dataset.interactions.train.tocoo()
    return torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))


def _fit(
    dataset: RecDataset,
    config: TrainConfig,
    device: torch.device,
    epochs: int,
    validate: bool,
    on_epoch: EpochCallback | None,
) -> tuple[KGRecModel, list[EpochLog], int, dict[str, float], float]:
    """Train up to `epochs`; with `validate`, keep the best validation state and stop early.
    Returns (model, history, best epoch, best validation metrics, seconds to best)."""
    seed_everything(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = build_model(dataset, config, device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.l2)
    pairs = _pairs(dataset)
    interactions = dataset.interactions
    history: list[EpochLog] = []
    best_epoch, best_score, best_metrics = 0, -1.0, {}
    best_state: dict[str, torch.Tensor] | None = None
    started = time.perf_counter()
    seconds_to_best = 0.0
    for epoch in range(1, epochs + 1):
        loss = _epoch(model, optimiser, pairs, dataset.n_items, config, generator)
        valid_ndcg = None
        if validate:
            users, items = embeddings(model, dataset.n_items)
            metrics = evaluate(scorer(users, items), interactions.valid, interactions.train)
            valid_ndcg = metrics["ndcg@10"]
            if valid_ndcg > best_score:
                best_epoch, best_score, best_metrics = epoch, valid_ndcg, dict(metrics)
                best_state = copy.deepcopy(model.state_dict())
                seconds_to_best = time.perf_counter() - started
        log = EpochLog(epoch, loss, valid_ndcg, time.perf_counter() - started)
        history.append(log)
        if on_epoch:
            on_epoch(log)
        if validate and (
            epoch - best_epoch >= config.patience
            or time.perf_counter() - started > config.time_budget_s
        ):
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    if not validate:
        best_epoch, seconds_to_best = epochs, time.perf_counter() - started
    return model, history, best_epoch, best_metrics, seconds_to_best


def final_data(dataset: RecDataset, config: TrainConfig) -> RecDataset:
    """What the returned model is fitted on, and so propagates over: train + valid when the
    config refits and there is a validation slice, else the dataset itself."""
    if config.refit and dataset.interactions.valid.nnz:
        return dataset.for_final_fit()
    return dataset


def train(
    dataset: RecDataset, config: TrainConfig, on_epoch: EpochCallback | None = None
) -> TrainResult:
    """Early-stopped training on train (validation NDCG@10), an optional refit on train + valid
    for the best epoch count, then test (and cold-item) metrics."""
    device = torch.device(resolve_device(config.device))
    started = time.perf_counter()
    model, history, best_epoch, best_valid, seconds_to_best = _fit(
        dataset, config, device, config.max_epochs, True, on_epoch
    )
    weights, item_item_valid = tune_item_item(model, dataset, config)
    final = final_data(dataset, config)
    if final is not dataset:
        model, _, _, _, _ = _fit(final, config, device, best_epoch, False, None)
    model.item_item = final_item_item(weights, final, config, embeddings(model, final.n_items)[1])
    train_seconds = time.perf_counter() - started
    test, cold = evaluate_test(model, final)
    gnn_only = evaluate_test(model, final, with_item_item=False)[0] if model.item_item else test
    return TrainResult(
        model, history, best_epoch, best_valid, test, cold, train_seconds, seconds_to_best,
        peak_rss_mb(), str(device), gnn_only, item_item_valid,
    )  # fmt: skip


def evaluate_test(
    model: KGRecModel, dataset: RecDataset, *, with_item_item: bool = True
) -> tuple[dict[str, float], dict[str, float] | None]:
    """Test metrics over all users, and over the cold items when the split has them (the
    model's item-item term, if any and wanted, spreads each user's train + valid items)."""
    interactions = dataset.interactions
    users, items = embeddings(model, dataset.n_items)
    seen = interactions.train_full
    score = scorer(users, items, seen, model.item_item if with_item_item else None)
    test: Metrics = evaluate(score, interactions.test, seen)
    cold = None
    if interactions.cold_items is not None:
        cold = dict(
            evaluate(score, interactions.test, seen, relevant_items=interactions.cold_items)
        )
    return dict(test), cold


def epoch_progress(console: Console, max_epochs: int) -> tuple[Progress, EpochCallback]:
    """A rich progress bar over epochs showing loss and validation NDCG@10."""
    progress = Progress(
        TextColumn("epoch"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}  valid NDCG@10 {task.fields[ndcg]}"),
        TimeElapsedColumn(), console=console,
    )  # fmt: skip
    task = progress.add_task("train", total=max_epochs, loss="-", ndcg="-")

    def update(log: EpochLog) -> None:
        ndcg = "-" if log.valid_ndcg10 is None else f"{log.valid_ndcg10:.4f}"
        progress.update(task, completed=log.epoch, loss=f"{log.loss:.4f}", ndcg=ndcg)

    return progress, update
