"""Training: BPR or sampled softmax over catalogue negatives, full-graph propagation per step
(or each batch's embeddings estimated from random walks, `gnn.sampling`), early stopping on
validation NDCG@10, the score's blend (GNN, item links, EASE) picked on validation, then
(optionally) a refit on train + valid for the best number of epochs before the one look at
test.
"""

from __future__ import annotations

import copy
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gnn.baselines.ease import EASE, ease_weights
from gnn.baselines.kg_ease import link_transition
from gnn.baselines.sparse import dense_top_k_per_row, row_normalise, without_diagonal
from gnn.collective import rank_and_world, sum_gradients, summed
from gnn.data import binarise
from gnn.dataset import RecDataset, TrainingGraph, hold_out_cold_items
from gnn.metrics import Metrics, evaluate
from gnn.model import KGRecModel, ModelConfig, PropagatedText
from gnn.row_adam import RowAdam
from gnn.sampling import DEFAULT_WALKS, WalkSampler
from gnn.scoring import (
    COLD_NEIGHBOURS,
    Blend,
    ItemItemTerm,
    ModelScorer,
    borrow_weights,
    interacted,
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
    # A step propagates over the whole graph, which is exact but makes an epoch cost
    # interactions x graph size; in a training graph of `sample_from_links` links or more it
    # estimates its batch's embeddings from `walks` random walks a node instead
    # (`gnn.sampling`), whose epochs grow far less with the shop (docs/scale.md). 0: always
    # walks. From about 500k links a full-graph epoch costs over twice a walk-sampled one
    # (measured at 225k and 918k), for under 1% of Beauty's test NDCG@10.
    sample_from_links: int = 500_000
    walks: int = DEFAULT_WALKS
    # Walk-sampled epochs take a user's pairs up to this many together: a step then walks
    # from fewer distinct users, so on large shops, where few pairs of a random batch share a
    # user, its cost grows far less (docs/scale.md, "Pairs by user").
    user_chunk: int = 4
    lr: float = 0.01
    l2: float = 0.0  # Adam weight decay
    max_epochs: int = 100
    patience: int = 5  # epochs without a better validation NDCG@10 before stopping
    time_budget_s: float = 15 * 60  # training stops at its best so far past this
    refit: bool = True  # retrain on train + valid for the best epoch count
    # The blend's grid, tried on validation after early stopping: every GNN weight with every
    # pair of an item-link weight and an EASE weight (the best NDCG@10 wins, ties: the first
    # point). A GNN weight of 0 is "no GNN" (with EASE alone: "EASE alone"), so where the
    # graph does not help the served model falls back to what does; link and EASE weights 0
    # leave the item-item term out. EASE's lambda is picked on validation as the EASE baseline
    # picks it, over `ease_l2s`; each item keeps its `ease_top_k` largest weights, so the term
    # stays a sparse matrix to save and serve.
    gnn_weights: tuple[float, ...] = (1.0, 0.0)
    item_link_weights: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0)
    ease_weights: tuple[float, ...] = (0.0, 2.0, 3.0, 4.0)
    ease_l2s: tuple[float, ...] = (50.0, 100.0, 200.0, 500.0, 1000.0)
    ease_top_k: int = 500
    # Then the text part: each of the user's items spreads one unit over its
    # `text_neighbours` nearest items by MiniLM cosine (cold items included, which have
    # text but no interactions); its weights are tried on the best blend of the grid above.
    text_weights: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)
    text_neighbours: int = 50
    # An item with no training interactions has an all-zero EASE column, so the term would
    # sink it below every item it knows; it borrows the similarity-weighted mean column of
    # its nearest trained items by text (cosine of the MiniLM vectors: on the lab-supplies
    # shop, cold-item Recall@20 of EASE alone 6.1% by text against 2.6% by the GNN's
    # embeddings, which cold items only get from text and links anyway) instead.
    ease_cold_neighbours: int = COLD_NEIGHBOURS
    # Then the cold offset (`Blend.cold`): `cold_share` of the trained items are made cold (their
    # interactions out of the term, their id embeddings and edges out of the GNN), and each
    # offset, in units of the median user's 20th best score, is tried on validation with those
    # items' interactions added to it, so that the slice looks like a test that has new items.
    # The cold items' share of that slice is weighed down to the catalogue's share of items
    # without interactions (`ColdTuning`; on Beauty's PGPR split, where there is one, the
    # slice as it is picked an offset that cost 6% of test NDCG@10).
    cold_share: float = 0.05
    cold_offsets: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def walks_for(self, graph: TrainingGraph) -> int:
        """The random walks a node's embedding is estimated from in a step when training over
        `graph`; 0 when its steps propagate over the whole graph."""
        if self.walks < 1:
            raise ValueError(f"walks must be at least 1, not {self.walks}")
        links = sum(int(edges.shape[1]) for edges in graph.edges.values())
        if links < self.sample_from_links or not self.model.num_layers:
            return 0
        return self.walks

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> TrainConfig:
        """The config `to_dict` wrote (a saved model's config.json: lists where tuples were;
        keys that are not the config's, such as the saved graph shape, are ignored)."""
        fields = {key: value for key, value in saved.items() if key in cls.__dataclass_fields__}
        model = ModelConfig(**fields.pop("model", {}))
        tuples = {k: tuple(v) for k, v in fields.items() if isinstance(v, list)}
        return cls(model=model, **{**fields, **tuples})


@dataclass(frozen=True)
class EpochLog:
    epoch: int
    loss: float
    valid_ndcg10: float | None
    seconds: float


class ColdTrial(NamedTuple):
    """One cold offset tried by `tune_cold`: validation NDCG@10 on the items that stayed warm
    and on the items made cold."""

    warm: float
    cold: float


@dataclass(frozen=True)
class ColdTuning:
    """The cold offsets `tune_cold` tried, and the weight of the cold items' NDCG@10 in the
    score that picks one: the share of the slice's positives that fall on items made cold,
    scaled to the share of the catalogue the served model will know no interaction of."""

    trials: dict[float, ColdTrial]
    weight: float

    def score(self, offset: float) -> float:
        trial = self.trials[offset]
        return (1 - self.weight) * trial.warm + self.weight * trial.cold

    def best(self) -> float:
        """The offset that scores best (ties: the smaller)."""
        return max(sorted(self.trials), key=self.score)


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
    blend_valid: dict[Blend, float] = field(default_factory=dict)  # -> validation NDCG@10
    cold_valid: ColdTuning | None = None  # the cold offsets tried (`tune_cold`)
    processes: int = 1  # data-parallel processes that trained it (`gnn.distributed`)
    walks: int = 0  # the random walks a node its steps were estimated from; 0: full graph


EpochCallback = Callable[[EpochLog], None]
Initialise = Callable[[KGRecModel, RecDataset], None]
"""Sets a freshly built model's starting parameters (a warm start), after its random init."""


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
    items[: dataset.n_items] = torch.from_numpy(interacted(train))
    model.id_mask[model.index.slice("user")] = users.float().unsqueeze(1)
    model.id_mask[model.index.slice("item")] = items.float().unsqueeze(1)
    model.to(device)
    model.attach(dataset.graph, dataset.features)
    return model


def _relations(dataset: RecDataset) -> list[str]:
    return [name for name, edges in dataset.graph.edges.items() if edges.shape[1] > 0]


def embeddings(model: KGRecModel, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """(user, catalogue item) embeddings of a trained model, float32 on the CPU."""
    model.eval()
    with torch.no_grad():
        users, items = model.split(model())
    return users.cpu().numpy(), items[:n_items].cpu().numpy()


def model_scorer(
    model: KGRecModel, n_items: int, history: sp.csr_matrix, *, with_item_item: bool = True
) -> ModelScorer:
    """The model's served score (its blend; `with_item_item` False: the GNN's dot products
    alone), the item-item term spreading `history` (users x catalogue)."""
    users, items = embeddings(model, n_items)
    if not with_item_item:
        return ModelScorer(users, items)
    return ModelScorer(users, items, model.blend, model.item_item, history)


def item_link_matrix(dataset: RecDataset) -> sp.csr_matrix | None:
    """The dataset's item-item links (every type, summed) row-normalised, as KG-EASE uses
    them; None when it has none."""
    links = dataset.interactions.item_links
    if links is None:
        return None
    matrix = link_transition(links)
    return matrix if matrix.nnz else None


def item_text_vectors(dataset: RecDataset) -> np.ndarray:
    """The catalogue items' text vectors (zero rows for items without text)."""
    return dataset.features["item"][: dataset.n_items].numpy()


def text_neighbour_matrix(dataset: RecDataset, neighbours: int) -> sp.csr_matrix | None:
    """Each catalogue item's `neighbours` nearest items by text (cosine of the text vectors,
    in proportion to it), each row summing to 1; None when no item has text."""
    vectors = item_text_vectors(dataset)
    nearest = borrow_weights(vectors, vectors, neighbours + 1)  # + 1: the item itself
    matrix = row_normalise(without_diagonal(nearest))
    return matrix if matrix.nnz else None


def ease_matrix(train: sp.csr_matrix, l2: float, top_k: int) -> sp.csr_matrix:
    """EASE's item-item weights fit on `train`, each item's `top_k` largest kept."""
    return dense_top_k_per_row(ease_weights(train, l2), top_k)


def impute_cold_columns(
    matrix: sp.csr_matrix, train: sp.csr_matrix, items: np.ndarray, neighbours: int
) -> sp.csr_matrix:
    """`matrix` with each column of an item no one in `train` interacted with (all zero in
    EASE's weights) filled with the `borrow_weights` mean of its `neighbours` most similar
    trained items' columns (cosine of `items`, the items' text vectors; an item without text
    borrows nothing)."""
    trained = interacted(train)
    cold, warm = np.flatnonzero(~trained), np.flatnonzero(trained)
    vectors = np.asarray(items, dtype=np.float32)
    borrowed = borrow_weights(vectors[cold], vectors[warm], neighbours).tocoo()
    if not borrowed.nnz:
        return matrix
    n = matrix.shape[1]
    spread = sp.csr_matrix((borrowed.data, (warm[borrowed.col], cold[borrowed.row])), (n, n))
    return sp.csr_matrix(matrix + matrix @ spread)  # cold columns were all zero


def ease_part(
    train: sp.csr_matrix, l2: float, dataset: RecDataset, config: TrainConfig
) -> sp.csr_matrix:
    """The term's EASE matrix: fit on `train`, its largest weights kept, the columns of items
    without interactions borrowed by text."""
    ease = ease_matrix(train, l2, config.ease_top_k)
    vectors = item_text_vectors(dataset)
    return impute_cold_columns(ease, train, vectors, config.ease_cold_neighbours)


def item_item_term(
    blend: Blend,
    links: sp.csr_matrix | None,
    ease: sp.csr_matrix | None,
    text: sp.csr_matrix | None,
) -> ItemItemTerm | None:
    """The item-item term `blend` describes over these matrices; None when it adds nothing."""
    weighted = ((blend.link, links), (blend.ease, ease), (blend.text, text))
    parts = [weight * matrix for weight, matrix in weighted if weight and matrix is not None]
    return ItemItemTerm(sp.csr_matrix(sum(parts))) if parts else None


def final_item_item(blend: Blend, dataset: RecDataset, config: TrainConfig) -> ItemItemTerm | None:
    """The term for the returned model: EASE refit on the data that model is fitted on."""
    ease = None
    if blend.ease:
        ease = ease_part(dataset.interactions.train, blend.ease_l2, dataset, config)
    text = text_neighbour_matrix(dataset, config.text_neighbours) if blend.text else None
    return item_item_term(blend, item_link_matrix(dataset), ease, text)


def blend_grid(config: TrainConfig, has_links: bool, ease_l2: float) -> list[Blend]:
    """The blends validation tries, in order. Without the GNN only the ratio of the link and
    EASE weights matters, so a point whose ratio came before is left out, as is the empty
    blend."""
    link_weights = config.item_link_weights if has_links else (0.0,)
    points: list[Blend] = []
    ratios: set[tuple[float, float]] = set()
    for gnn in config.gnn_weights:
        for link in link_weights:
            for ease in config.ease_weights:
                if not gnn:
                    scale = max(link, ease)
                    if not scale or (link / scale, ease / scale) in ratios:
                        continue
                    ratios.add((link / scale, ease / scale))
                points.append(Blend(gnn, link, ease, ease_l2 if ease else 0.0))
    return points


def tune_blend(
    model: KGRecModel, dataset: RecDataset, config: TrainConfig, kept: Blend | None = None
) -> tuple[Blend, dict[Blend, float]]:
    """The blend with the best validation NDCG@10 (the term spreads the training items), and
    every blend tried: the grid of GNN, item-link and EASE weights, then text weights added to
    its best; or, given a `kept` blend, that one alone, measured. The GNN alone when there is
    no validation slice."""
    interactions = dataset.interactions
    links = item_link_matrix(dataset)
    if not interactions.valid.nnz:
        return Blend(), {}
    users, items = embeddings(model, dataset.n_items)
    if kept is not None:
        l2 = kept.ease_l2
    elif any(config.ease_weights):
        picked = tune(EASE({"l2": config.ease_l2s}), interactions.train, interactions.valid)
        l2 = picked.best_params["l2"]
    else:
        l2 = 0.0
    # The parts the blends tried may use: every part for the grid, the kept blend's for it.
    use_ease, use_text = (bool(kept.ease), bool(kept.text)) if kept else (True, True)
    ease = ease_part(interactions.train, l2, dataset, config) if l2 and use_ease else None
    text = text_neighbour_matrix(dataset, config.text_neighbours) if use_text else None
    found: dict[Blend, float] = {}

    def validate(blends: list[Blend]) -> Blend:
        for blend in blends:
            score = ModelScorer(users, items, blend, item_item_term(blend, links, ease, text),
                                interactions.train)  # fmt: skip
            metrics = evaluate(score, interactions.valid, interactions.train, ks=(10,))
            found[blend] = metrics["ndcg@10"]
        return max(found, key=lambda blend: found[blend])  # max keeps the first of equals

    if kept is not None:
        return validate([kept]), found
    best = validate(blend_grid(config, links is not None, l2))
    if text is not None:
        best = validate([replace(best, text=weight) for weight in config.text_weights if weight])
    return best, found


def tune_cold(
    model: KGRecModel, dataset: RecDataset, config: TrainConfig, blend: Blend
) -> tuple[Blend, ColdTuning | None]:
    """`blend` with the cold offset picked on a slice made to look like a test with new
    items: `config.cold_share` of the trained items are made cold (`hold_out_cold_items`:
    their interactions join validation), the term is rebuilt without them, and the GNN embeds
    them as it embeds an item added since training (no id embedding, no interaction edges).

    The warm and the made-cold items are scored apart (NDCG@10 of each) and weighed as the
    test will weigh them (`ColdTuning`): a made-cold item takes all its interactions into the
    slice, which on a shop where every item has some (Beauty's PGPR split: 1 item of 12,101
    has none) would reward pushing the few untrained items above what users buy. A blend
    without an item-item term has no offset: the dot products alone are the score."""
    interactions = dataset.interactions
    if not blend.has_item_item or not interactions.valid.nnz or len(config.cold_offsets) < 2:
        return blend, None
    empty = sp.csr_matrix(interactions.train.shape, dtype=np.float32)
    train, valid, moved, made_cold = hold_out_cold_items(
        interactions.train, interactions.valid, empty, config.cold_share, config.seed + 1
    )
    held_out = binarise(valid + moved)
    stayed_warm = np.setdiff1d(np.arange(dataset.n_items), made_cold)
    users, items = _embeddings_with_cold(model, dataset, train, made_cold)
    ease = ease_part(train, blend.ease_l2, dataset, config) if blend.ease else None
    text = text_neighbour_matrix(dataset, config.text_neighbours) if blend.text else None
    term = item_item_term(blend, item_link_matrix(dataset), ease, text)
    base = ModelScorer(users, items, blend, term, train)
    unit = _typical_score(base, np.flatnonzero(held_out.getnnz(axis=1)), rank=20)
    trials: dict[float, ColdTrial] = {}
    for share in config.cold_offsets:
        scorer = replace(base, blend=replace(blend, cold=share * unit))
        trials[share * unit] = ColdTrial(*(
            evaluate(scorer, held_out, train, ks=(10,), relevant_items=part)["ndcg@10"]
            for part in (stayed_warm, made_cold)))  # fmt: skip
    untrained = int((~interacted(interactions.train + interactions.valid)).sum())
    cold_positives = held_out[:, made_cold].nnz / held_out.nnz
    weight = cold_positives * min(1.0, untrained / len(made_cold))
    tuning = ColdTuning(trials, float(weight))
    return replace(blend, cold=tuning.best()), tuning


def _embeddings_with_cold(
    model: KGRecModel, dataset: RecDataset, train: sp.csr_matrix, cold: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The model's embeddings over `train`'s interaction edges with the `cold` items' id
    embeddings left out; the model is put back as it was."""
    mask = model.id_mask.clone()
    model.id_mask[model.index.offset["item"] + torch.from_numpy(cold).to(mask.device)] = 0.0
    model.attach(dataset.graph.with_interactions(train), dataset.features)
    try:
        return embeddings(model, dataset.n_items)
    finally:
        model.id_mask.copy_(mask)
        model.attach(dataset.graph, dataset.features)


def _typical_score(score: ModelScorer, users: np.ndarray, rank: int, sample: int = 2000) -> float:
    """The median over (a seeded sample of) `users` of their `rank`-th best score: the bar an
    item must clear to enter a top list, the unit of the cold offsets."""
    chosen = np.random.default_rng(0).permutation(users)[:sample]
    scores = score(chosen)
    rank = min(rank, scores.shape[1])
    best = -np.partition(-scores, rank - 1, axis=1)[:, rank - 1]
    return max(float(np.median(best)), 0.0) or 1.0


# Pairs whose loss terms are taken at once. The gradient is the batch's all the same, but a
# batch's logits (pairs x negatives floats) never sit in memory together, and small tensors
# stay in cache: full-graph epochs of the synthetic shops took 2.6 s at 1x and 40.9 s at 4x
# with chunks of 2,048 pairs, 3.7 s and 45.1 s with the whole 16,384-pair batch at once.
LOSS_CHUNK = 2048


def _epoch(
    model: KGRecModel,
    steppers: list[torch.optim.Optimizer],
    pairs: torch.Tensor,
    negative_pool: torch.Tensor,
    config: TrainConfig,
    generator: torch.Generator,
    walker: Walker | None,
) -> float:
    """One pass over the training pairs; negatives are drawn from `negative_pool`. In
    data-parallel training (`gnn.distributed`) this process takes its share of each batch,
    drawing every negative in lockstep with the others (and its own walks)."""
    model.train()
    rank, world = rank_and_world()
    order = epoch_order(pairs, generator, config.user_chunk if walker else 1)
    total = 0.0
    device = model.ids.weight.device
    for start in range(0, len(order), config.batch_size):
        # In the pairs' own order (by user): rows are then gathered and scattered in order,
        # which costs less than at random once the embeddings outgrow the caches.
        whole = pairs[:, order[start : start + config.batch_size].sort().values]
        size = whole.shape[1]
        # softmax: one set shared by the batch; bpr: one a positive, this share's kept.
        negatives = _draw(negative_pool, config.negatives if config.loss == "softmax" else size,
                          generator).to(device)  # fmt: skip
        batch = whole[:, rank::world].to(device)
        if config.loss == "bpr":
            negatives = negatives[rank::world]
        embedded = _batch_embeddings(model, batch, negatives, walker)
        # Summed over the share, divided by the whole batch: the shares' gradients add up to
        # the batch mean's.
        loss, gradients = _chunked_loss(embedded, config)
        for stepper in steppers:
            stepper.zero_grad()
        torch.autograd.backward(embedded, [gradient / size for gradient in gradients])
        if world > 1:
            sum_gradients(model)
        for stepper in steppers:
            stepper.step()
        total += loss
    if world > 1:
        total = summed(total, device)
    return total / pairs.shape[1]


def _chunked_loss(
    embedded: tuple[torch.Tensor, torch.Tensor, torch.Tensor], config: TrainConfig
) -> tuple[float, list[torch.Tensor]]:
    """The loss summed over the pairs of `embedded` (users, positive items, negative items),
    and its gradient with respect to each of the three, taken `LOSS_CHUNK` pairs at a time:
    each chunk's rows are leaves of their own, so no chunk's backward touches more than them."""
    users, positives, negatives = (part.detach() for part in embedded)
    shared = config.loss == "softmax"  # one set of negatives for every pair
    gradients = [torch.zeros_like(users), torch.zeros_like(positives), torch.zeros_like(negatives)]
    shared_negatives = _leaf(negatives)  # its gradient adds up over the chunks
    total = 0.0
    for first in range(0, len(users), LOSS_CHUNK):
        part = slice(first, first + LOSS_CHUNK)
        leaves = [_leaf(users[part]), _leaf(positives[part])]
        leaves.append(shared_negatives if shared else _leaf(negatives[part]))
        loss = _pair_loss(leaves[0], leaves[1], leaves[2], config)
        loss.backward()  # type: ignore[no-untyped-call]
        total += float(loss.detach())
        for gradient, leaf in zip(gradients, leaves[:2] if shared else leaves, strict=False):
            gradient[part] = _gradient(leaf)
    if shared:
        gradients[2] = _gradient(shared_negatives)
    return total, gradients


def _leaf(values: torch.Tensor) -> torch.Tensor:
    return values.detach().requires_grad_()


def _gradient(leaf: torch.Tensor) -> torch.Tensor:
    return leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)


def _pair_loss(
    users: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor, config: TrainConfig
) -> torch.Tensor:
    """The loss summed over these pairs: sampled softmax of each positive against the shared
    `negatives`, or BPR against one negative a pair."""
    if config.loss == "bpr":
        margin = (users * positives).sum(1) - (users * negatives).sum(1)
        return -torch.nn.functional.logsigmoid(margin).sum()
    users = torch.nn.functional.normalize(users, dim=1)
    positives = torch.nn.functional.normalize(positives, dim=1)
    negatives = torch.nn.functional.normalize(negatives, dim=1)
    logits = torch.cat([(users * positives).sum(1, keepdim=True), users @ negatives.T], dim=1)
    targets = torch.zeros(len(users), dtype=torch.long, device=users.device)
    return torch.nn.functional.cross_entropy(logits / config.temperature, targets, reduction="sum")


def _batch_embeddings(
    model: KGRecModel,
    batch: torch.Tensor,
    negatives: torch.Tensor,
    walker: Walker | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The final embeddings of the batch's users, positive items and negative items: from a
    full-graph propagation, or with a `walker` estimated from random walks."""
    if walker is None:
        users, items = model.split(model())
        return users[batch[0]], items[batch[1]], items[negatives]
    offset = model.index.offset
    wanted = torch.cat([batch[0] + offset["user"], batch[1] + offset["item"],
                        negatives + offset["item"]])  # fmt: skip
    seeds, position = torch.unique(wanted, return_inverse=True)
    walks = walker.sampler.sample(seeds).to(seeds.device)
    found = model.walked(seeds, walks, walker.text)[position]
    pairs = batch.shape[1]
    return found[:pairs], found[pairs : 2 * pairs], found[2 * pairs :]


def optimisers(
    model: KGRecModel, config: TrainConfig, walker: Walker | None
) -> list[torch.optim.Optimizer]:
    """Adam over every parameter; with walk-sampled steps, RowAdam over the id embeddings (a
    step's gradient has rows for the nodes its walks reached alone, so a step does not touch
    every node's moments) and Adam over the rest."""
    if walker is None:
        return [torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.l2)]
    if config.l2:
        raise ValueError("walk-sampled training has no weight decay (its id embeddings' Adam is "
                         "lazy); set l2 to 0 or raise sample_from_links")  # fmt: skip
    dense = [parameter for parameter in model.parameters() if parameter is not model.ids.weight]
    return [RowAdam([model.ids.weight], lr=config.lr), torch.optim.Adam(dense, lr=config.lr)]


@dataclass(frozen=True)
class Walker:
    """What walk-sampled steps read: the walks' sampler and the model's propagated text
    (`KGRecModel.propagated_text`, computed once a training run)."""

    sampler: WalkSampler
    text: PropagatedText


def walk_sampling(model: KGRecModel, config: TrainConfig, walks: int) -> Walker | None:
    """Walk-sampled steps' sampler (`walks` a node, seeded apart in each data-parallel
    process) and propagated text over the model's graph; None for full-graph steps (0
    walks)."""
    if not walks:
        return None
    rank, _ = rank_and_world()
    sampler = WalkSampler(model.adjacency, walks, model.config.num_layers, config.seed + 1 + rank)
    with torch.no_grad():
        return Walker(sampler, model.propagated_text())


def epoch_order(pairs: torch.Tensor, generator: torch.Generator, user_chunk: int) -> torch.Tensor:
    """The order an epoch takes the training pairs in: at random, then, past a `user_chunk` of
    1, each user's pairs cut into chunks of that many, each chunk kept together and the chunks
    in a random order."""
    if user_chunk < 1:
        raise ValueError(f"user_chunk must be at least 1 (1: pairs at random), not {user_chunk}")
    order = torch.randperm(pairs.shape[1], generator=generator)
    if user_chunk == 1:
        return order
    by_user = order[torch.sort(pairs[0, order], stable=True).indices]
    _, counts = torch.unique_consecutive(pairs[0, by_user], return_counts=True)
    user_start = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    opens_chunk = (torch.arange(len(by_user)) - user_start) % user_chunk == 0
    chunk = torch.cumsum(opens_chunk, 0) - 1
    chunk_rank = torch.randperm(int(opens_chunk.sum()), generator=generator)[chunk]
    return by_user[torch.sort(chunk_rank).indices]


def _draw(pool: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    return pool[torch.randint(len(pool), (count,), generator=generator)]


def negative_pool(train: sp.csr_matrix) -> torch.Tensor:
    """The items negatives are drawn from: those someone interacted with in `train`. An item
    no one has seen yet (a cold item, one added since) is unknown, not disliked: drawn as a
    negative and never as a positive, it would only ever be pushed down, and its text with it,
    which sinks every new item below the catalogue (the cold-item slice measured it)."""
    seen = np.flatnonzero(interacted(train))
    return torch.from_numpy(seen.astype(np.int64)) if len(seen) else torch.arange(train.shape[1])


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
    initialise: Initialise | None,
    walks: int,
) -> tuple[KGRecModel, list[EpochLog], int, dict[str, float], float]:
    """Train up to `epochs` (steps estimated from `walks` random walks a node, or over the
    whole graph: 0); with `validate`, keep the best validation state and stop early. Returns (model,
    history, best epoch, best validation metrics, seconds to best)."""
    seed_everything(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = build_model(dataset, config, device)
    if initialise is not None:
        initialise(model, dataset)
    walker = walk_sampling(model, config, walks)
    steppers = optimisers(model, config, walker)
    pairs = _pairs(dataset)
    interactions = dataset.interactions
    pool = negative_pool(interactions.train)
    history: list[EpochLog] = []
    best_epoch, best_score, best_metrics = 0, -1.0, {}
    best_state: dict[str, torch.Tensor] | None = None
    started = time.perf_counter()
    seconds_to_best = 0.0

    def validated(epoch: int) -> float:
        nonlocal best_epoch, best_score, best_metrics, best_state, seconds_to_best
        score = model_scorer(model, dataset.n_items, interactions.train, with_item_item=False)
        metrics = evaluate(score, interactions.valid, interactions.train)
        if metrics["ndcg@10"] > best_score:
            best_epoch, best_score, best_metrics = epoch, metrics["ndcg@10"], dict(metrics)
            best_state = copy.deepcopy(model.state_dict())
            seconds_to_best = time.perf_counter() - started
        return metrics["ndcg@10"]

    if validate and initialise is not None:
        validated(0)  # a warm start may already be the best there is: then it is kept as is
    for epoch in range(1, epochs + 1):
        loss = _epoch(model, steppers, pairs, pool, config, generator, walker)
        valid_ndcg = validated(epoch) if validate else None
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


def fit(
    dataset: RecDataset,
    config: TrainConfig,
    epochs: int,
    blend: Blend,
    initialise: Initialise | None = None,
    on_epoch: EpochCallback | None = None,
    walks: int | None = None,
) -> KGRecModel:
    """A model trained on all of `dataset`'s training interactions for `epochs` (no early
    stopping: the epoch count and `blend` were picked on validation before), its steps
    estimated from `walks` random walks a node (0: over the whole graph; None: as `config`
    says for the dataset's graph)."""
    device = torch.device(resolve_device(config.device))
    if walks is None:
        walks = config.walks_for(dataset.graph)
    model, _, _, _, _ = _fit(dataset, config, device, epochs, False, on_epoch, initialise, walks)
    return with_blend(model, blend, dataset, config)


def with_blend(
    model: KGRecModel, blend: Blend, dataset: RecDataset, config: TrainConfig
) -> KGRecModel:
    """`model` serving `blend`, its item-item term built on the data `model` was fitted on."""
    model.blend = blend
    model.item_item = final_item_item(blend, dataset, config)
    return model


def train(
    dataset: RecDataset,
    config: TrainConfig,
    on_epoch: EpochCallback | None = None,
    initialise: Initialise | None = None,
    kept_blend: Blend | None = None,
) -> TrainResult:
    """Early-stopped training on train (validation NDCG@10), the blend picked (or `kept_blend`
    measured) on validation, an optional refit on train + valid for the best epoch count, then
    test (and cold-item) metrics. `initialise` warm-starts every model trained
    (`gnn.retrain`)."""
    device = torch.device(resolve_device(config.device))
    started = time.perf_counter()
    # Decided once, on the training graph: the refit's adds the validation links.
    walks = config.walks_for(dataset.graph)
    model, history, best_epoch, best_valid, seconds_to_best = _fit(
        dataset, config, device, config.max_epochs, True, on_epoch, initialise, walks
    )
    blend, blend_valid = tune_blend(model, dataset, config, kept_blend)
    cold_valid: ColdTuning | None = None
    if kept_blend is None:
        blend, cold_valid = tune_cold(model, dataset, config, blend)
    final = final_data(dataset, config)
    if final is not dataset:
        model = fit(final, config, best_epoch, blend, initialise, walks=walks)
    else:
        model = with_blend(model, blend, final, config)
    train_seconds = time.perf_counter() - started
    test, cold = evaluate_test(model, final)
    gnn_only = test if blend == Blend() else evaluate_test(model, final, with_item_item=False)[0]
    return TrainResult(
        model, history, best_epoch, best_valid, test, cold, train_seconds, seconds_to_best,
        peak_rss_mb(), str(device), gnn_only, blend_valid, cold_valid, rank_and_world()[1],
        walks,
    )  # fmt: skip


def evaluate_test(
    model: KGRecModel, dataset: RecDataset, *, with_item_item: bool = True
) -> tuple[dict[str, float], dict[str, float] | None]:
    """Test metrics over all users, and over the cold items when the split has them: the
    model's blend (its item-item term spreading each user's train + valid items), or with
    `with_item_item` False the GNN's dot products alone."""
    interactions = dataset.interactions
    seen = interactions.train_full
    score = model_scorer(model, dataset.n_items, seen, with_item_item=with_item_item)
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
