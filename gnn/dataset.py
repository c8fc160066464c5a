"""From the exported graph to what training needs: the catalogue, the splits, the training graph
and the text vectors of its nodes.

- The catalogue (the candidates of every ranking) is the items with a title or an interaction;
  related-product stubs stay graph nodes that carry links but are never recommended. Model item
  indices put the catalogue first (`0 .. n_items-1`, the columns of the interaction matrices)
  and the stubs after it.
- Splits: the graph's own `split` property where interactions carry one (Beauty: train/test),
  else temporal leave-last-out per user (last pair -> test, the one before -> valid). Validation
  is carved from training when the split has none, so tuning never sees test.
- Cold items (optional): a seeded share of the interacted catalogue items whose every
  interaction moves to test, so they are absent from training entirely.
- The training graph holds the training interactions only; `assert_no_leakage` checks that.
  Reviews are left out of it: a review of a test item would hand the model the test pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray

from gnn.data import Interactions, binarise, carve_validation, interaction_matrix
from kg.export import NO_SPLIT, GraphExport
from kg.records import SPLITS

Encode = Callable[[Sequence[str]], NDArray[np.float32]]
"""Text -> L2-normalised float32 vectors, e.g. `TextEncoder(settings).encode`."""

# relation name -> (source node type, export edge name, target node type); undirected in the model.
RELATIONS: dict[str, tuple[str, str, str]] = {
    "interacted": ("user", "interacted", "item"),
    "has_brand": ("item", "has_brand", "brand"),
    "in_category": ("item", "in_category", "category"),
    "subcategory_of": ("category", "subcategory_of", "category"),
    "has_attribute": ("item", "has_attribute", "attribute"),
    "also_bought": ("item", "also_bought", "item"),
    "also_viewed": ("item", "also_viewed", "item"),
    "bought_together": ("item", "bought_together", "item"),
}
NODE_TYPES = ("user", "item", "brand", "category", "attribute")
ITEM_LINKS = ("also_bought", "also_viewed", "bought_together")
VIA_RELATED = "via_related"  # two catalogue items linked to the same non-catalogue product
SplitChoice = Literal["auto", "temporal"]
LITTLE_TEXT_SHARE = 0.5  # below this share of catalogue items with a description: "little text"


class NoInteractionsError(ValueError):
    """The graph has no user-item interactions to learn from."""


class LeakageError(AssertionError):
    """A held-out (valid or test) interaction is an edge of the training graph."""


@dataclass(frozen=True)
class TrainingGraph:
    """Typed edges of the graph the model propagates over, in model node indices."""

    num_nodes: dict[str, int]
    edges: dict[str, torch.Tensor]  # relation -> (2, E) long: source row, target row

    def with_interactions(self, matrix: sp.csr_matrix) -> TrainingGraph:
        coo = matrix.tocoo()
        pairs = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
        return replace(self, edges={**self.edges, "interacted": pairs})


@dataclass(frozen=True)
class RecDataset:
    """Everything one training run needs; `graph` holds `interactions.train` as its only
    user-item edges."""

    interactions: Interactions
    graph: TrainingGraph
    features: dict[str, torch.Tensor]  # node type -> (n, text_dim) float32, zero rows: no text
    ids: dict[str, list[str]]  # node type -> ids in model index order
    split: str  # where the split came from: "graph" or "temporal leave-last-out"
    notes: tuple[str, ...] = field(default=())

    @property
    def n_items(self) -> int:
        return self.interactions.n_items

    def for_final_fit(self) -> RecDataset:
        """The same data with validation folded into training (after tuning is over)."""
        full = self.interactions.train_full
        zero = sp.csr_matrix(full.shape, dtype=np.float32)
        return self._training_on(replace(self.interactions, train=full, valid=zero))

    def with_nothing_held_out(self) -> RecDataset:
        """The same data with every interaction in training, the validation and test ones too:
        what a served fit learns from once an evaluation has picked its epochs and blend
        (`gnn.retrain`)."""
        everything = binarise(self.interactions.train_full + self.interactions.test)
        zero = sp.csr_matrix(everything.shape, dtype=np.float32)
        interactions = replace(
            self.interactions, train=everything, valid=zero, test=zero, cold_items=None
        )
        fitted = self._training_on(interactions)
        return replace(fitted, split=f"nothing held out (evaluated on {self.split})")

    def _training_on(self, interactions: Interactions) -> RecDataset:
        """This dataset with `interactions`, its graph's user-item edges their training part."""
        graph = self.graph.with_interactions(interactions.train)
        return replace(self, interactions=interactions, graph=graph)


def assert_no_leakage(graph: TrainingGraph, held_out: sp.csr_matrix) -> None:
    """Raise `LeakageError` when a held-out (user, item) pair is a training-graph edge."""
    pairs = graph.edges["interacted"].numpy()
    n_users, n_items = held_out.shape
    catalogue = pairs[1] < n_items
    edges = interaction_matrix(pairs[0][catalogue], pairs[1][catalogue], n_users, n_items)
    leaked = edges.multiply(binarise(held_out))
    if leaked.nnz:
        user, item = (int(v[0]) for v in leaked.nonzero())
        raise LeakageError(
            f"{leaked.nnz} held-out interactions are edges of the training graph "
            f"(e.g. user {user}, item {item})"
        )


def build_dataset(
    export: GraphExport,
    encode: Encode,
    *,
    cold_item_fraction: float = 0.0,
    valid_fraction: float = 0.1,
    seed: int = 0,
    split: SplitChoice = "auto",
) -> RecDataset:
    """Catalogue, splits, training graph and text vectors of an exported graph. `split`:
    "auto" uses the graph's own `split` property where it has one, else temporal
    leave-last-out; "temporal" always the latter."""
    data = export.data
    store = data["user", "interacted", "item"]
    if "edge_index" not in store or store.edge_index.shape[1] == 0:
        raise NoInteractionsError(
            "the graph has no INTERACTED relationships, so there is nothing to train on. Load "
            "data first: `kgrec ingest beauty|amazon2018|table ...` (see `kgrec ingest --help`)."
        )
    users_of, items_of = store.edge_index.numpy()
    titles: list[str | None] = list(data["item"].title)
    descriptions: list[str | None] = list(data["item"].description)

    # Catalogue first, stubs after; each group keeps the export's (sorted id) order.
    interacted = np.zeros(len(titles), dtype=bool)
    interacted[items_of] = True
    in_catalogue = interacted | np.array([bool(t) for t in titles], dtype=bool)
    order = np.concatenate([np.flatnonzero(in_catalogue), np.flatnonzero(~in_catalogue)])
    item_row = np.empty_like(order)
    item_row[order] = np.arange(len(order))
    n_items, n_users = int(in_catalogue.sum()), len(export.id_maps["user"])

    split_of = store.split.numpy()
    pairs_items = item_row[items_of]
    if split == "auto" and (split_of != NO_SPLIT).any():
        split_name = "graph"
        train, valid, test = _split_by_property(users_of, pairs_items, split_of, n_users, n_items)
        if valid.nnz == 0:
            train, valid = carve_validation(train, valid_fraction, seed=seed)
    else:
        split_name = "temporal leave-last-out"
        train, valid, test = _split_leave_last_out(
            users_of, pairs_items, store.ts.numpy(), n_users, n_items
        )
    cold_items = None
    if cold_item_fraction > 0:
        train, valid, test, cold_items = hold_out_cold_items(
            train, valid, test, cold_item_fraction, seed
        )
    interactions = Interactions(
        n_users, n_items, train, valid, test,
        item_links=_item_links(export, item_row, n_items), cold_items=cold_items,
    )  # fmt: skip

    num_nodes = {kind: data[kind].num_nodes for kind in NODE_TYPES}
    edges: dict[str, torch.Tensor] = {}
    for relation, (source, name, target) in RELATIONS.items():
        if relation == "interacted":
            continue
        edge_index = data[source, name, target].edge_index.clone()
        if source == "item":
            edge_index[0] = torch.from_numpy(item_row[edge_index[0].numpy()])
        if target == "item":
            edge_index[1] = torch.from_numpy(item_row[edge_index[1].numpy()])
        edges[relation] = edge_index
    graph = TrainingGraph(num_nodes, edges).with_interactions(train)
    assert_no_leakage(graph, valid + test)

    ids = {kind: list(export.id_maps[kind].ids) for kind in NODE_TYPES}
    ids["item"] = [ids["item"][old] for old in order]
    features = _text_features(export, graph, train, order, encode)
    notes = []
    if sum(bool(descriptions[old]) for old in order[:n_items]) < LITTLE_TEXT_SHARE * n_items:
        notes.append(
            "little text: most catalogue items have no description, so item vectors come "
            "from titles, brands and categories only"
        )
    return RecDataset(interactions, graph, features, ids, split_name, tuple(notes))


def _split_by_property(
    users: NDArray[np.int64],
    items: NDArray[np.int64],
    split_of: NDArray[np.int64],
    n_users: int,
    n_items: int,
) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Pairs tagged valid or test go there (test wins over valid); the rest train."""
    test_mask = split_of == SPLITS.index("test")
    valid_mask = split_of == SPLITS.index("valid")
    test = interaction_matrix(users[test_mask], items[test_mask], n_users, n_items)
    valid = _minus(interaction_matrix(users[valid_mask], items[valid_mask], n_users, n_items), test)
    train_mask = ~(test_mask | valid_mask)
    train = interaction_matrix(users[train_mask], items[train_mask], n_users, n_items)
    return _minus(_minus(train, test), valid), valid, test


def _split_leave_last_out(
    users: NDArray[np.int64],
    items: NDArray[np.int64],
    ts: NDArray[np.int64],
    n_users: int,
    n_items: int,
) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Per user, the latest pair is test and the one before valid; a pair counts at its last
    event, so an earlier view of a test item never stays in training."""
    latest = _max_per_pair(users, items, ts, n_users, n_items)
    pairs = binarise(latest)
    rest, test = carve_validation(pairs, timestamps=_aligned(latest, pairs))
    train, valid = carve_validation(rest, timestamps=_aligned(latest, rest))
    return train, valid, test


def _max_per_pair(
    users: NDArray[np.int64],
    items: NDArray[np.int64],
    ts: NDArray[np.int64],
    n_users: int,
    n_items: int,
) -> sp.csr_matrix:
    """(user, item) -> latest event time + 1 (so time 0 stays a stored value)."""
    key = users.astype(np.int64) * n_items + items
    order = np.lexsort((ts, key))
    last = np.r_[key[order][1:] != key[order][:-1], True]
    chosen = order[last]
    values = ts[chosen].astype(np.float64) + 1.0
    matrix = sp.csr_matrix((values, (users[chosen], items[chosen])), shape=(n_users, n_items))
    matrix.sort_indices()
    return matrix


def _aligned(times: sp.csr_matrix, pattern: sp.csr_matrix) -> sp.csr_matrix:
    """`times` restricted to the pattern of `pattern`, sorted like it."""
    restricted = sp.csr_matrix(times.multiply(pattern))
    restricted.sort_indices()
    return restricted


def _minus(matrix: sp.csr_matrix, other: sp.csr_matrix) -> sp.csr_matrix:
    return binarise(matrix - matrix.multiply(other))


def hold_out_cold_items(
    train: sp.csr_matrix,
    valid: sp.csr_matrix,
    test: sp.csr_matrix,
    fraction: float,
    seed: int,
) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, NDArray[np.int64]]:
    """Move every interaction of a seeded `fraction` of the trained items to test."""
    trained = np.flatnonzero(np.asarray((train + valid).sum(axis=0)).ravel() > 0)
    rng = np.random.default_rng(seed)
    cold = np.sort(rng.choice(trained, size=max(1, round(fraction * len(trained))), replace=False))
    mask = np.zeros(train.shape[1], dtype=np.float32)
    mask[cold] = 1.0
    to_cold = sp.diags(mask)
    moved = binarise((train + valid) @ to_cold)
    return (
        _minus(train, moved),
        _minus(valid, moved),
        binarise(test + moved),
        cold.astype(np.int64),
    )


def _item_links(
    export: GraphExport, item_row: NDArray[np.int64], n_items: int
) -> dict[str, sp.csr_matrix]:
    """Catalogue x catalogue link matrices (for the KG-aware baseline): the direct links by
    type, and `VIA_RELATED`, the number of non-catalogue products two items both link to
    (Beauty's also_bought mostly points outside the catalogue)."""
    links: dict[str, sp.csr_matrix] = {}
    n_nodes = len(item_row)
    to_stub = sp.csr_matrix((n_items, n_nodes), dtype=np.float32)
    for relation in ITEM_LINKS:
        source, target = export.data["item", relation, "item"].edge_index.numpy()
        source, target = item_row[source], item_row[target]
        keep = (source < n_items) & (target < n_items)
        links[relation] = interaction_matrix(source[keep], target[keep], n_items, n_items)
        stub = (source < n_items) & (target >= n_items)
        to_stub += interaction_matrix(source[stub], target[stub], n_items, n_nodes)
    shared = (binarise(to_stub) @ binarise(to_stub).T).tocsr()
    shared.setdiag(0)
    shared.eliminate_zeros()
    links[VIA_RELATED] = shared.astype(np.float32)
    return links


def item_text(
    title: str | None, description: str | None, brands: Sequence[str], categories: Sequence[str]
) -> str:
    """The text an item is encoded from (training and new items alike); "" for bare stubs."""
    parts = [title or "", description or ""]
    if brands:
        parts.append("Brand: " + ", ".join(brands))
    if categories:
        parts.append("Categories: " + ", ".join(categories))
    return ". ".join(part for part in parts if part)


def _text_features(
    export: GraphExport,
    graph: TrainingGraph,
    train: sp.csr_matrix,
    order: NDArray[np.int64],
    encode: Encode,
) -> dict[str, torch.Tensor]:
    """Text vectors per node type; users get the mean of their training items' vectors (the
    export carries no review text)."""
    data = export.data
    names = {kind: list(data[kind].name) for kind in ("brand", "category", "attribute")}
    item_brands = _names_by_item(graph.edges["has_brand"], names["brand"])
    item_categories = _names_by_item(graph.edges["in_category"], names["category"])
    titles, descriptions = list(data["item"].title), list(data["item"].description)
    item_texts = [
        item_text(titles[old], descriptions[old], item_brands.get(row, []),
                  item_categories.get(row, []))
        for row, old in enumerate(order)
    ]  # fmt: skip
    features = {"item": _encode_nonempty(item_texts, encode)}
    for kind, kind_names in names.items():
        features[kind] = _encode_nonempty([name or "" for name in kind_names], encode)
    n_items = train.shape[1]
    degree = np.asarray(train.sum(axis=1)).ravel()
    user_vectors = (train @ features["item"][:n_items].numpy()) / np.maximum(degree, 1.0)[:, None]
    features["user"] = torch.from_numpy(user_vectors.astype(np.float32))
    return features


def _names_by_item(edge_index: torch.Tensor, names: list[str | None]) -> dict[int, list[str]]:
    by_item: dict[int, list[str]] = {}
    for item, target in edge_index.t().tolist():
        if name := names[target]:
            by_item.setdefault(item, []).append(name)
    return by_item


def _encode_nonempty(texts: list[str], encode: Encode) -> torch.Tensor:
    """Vectors of the non-empty texts, zero rows for the empty ones."""
    present = [index for index, text in enumerate(texts) if text]
    dim = encode(["x"]).shape[1]
    vectors = np.zeros((len(texts), dim), dtype=np.float32)
    if present:
        vectors[present] = encode([texts[index] for index in present])
    return torch.from_numpy(vectors)
