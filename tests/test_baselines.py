"""Every baseline on a small synthetic shop with planted structure; tuning never sees test.

The shop: 8 clusters of 10 items; each user shops in one cluster, the lower-numbered
clusters drawing more users, so popularity carries a little signal and co-occurrence a lot.
Item links join items of the same cluster; text vectors are the cluster's direction plus
noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.sparse as sp

from gnn.baselines import (
    EASE,
    Baseline,
    Fitted,
    ItemKNN,
    KGEase,
    LightGCN,
    MostPopular,
    Params,
    RP3Beta,
    TextProfile,
    resolve,
)
from gnn.baselines.sparse import dense_top_k_per_row
from gnn.data import Interactions, carve_validation, interaction_matrix
from gnn.metrics import evaluate
from gnn.tuning import tune, tune_and_refit

N_CLUSTERS, CLUSTER_SIZE, N_USERS = 8, 10, 400
N_ITEMS = N_CLUSTERS * CLUSTER_SIZE


def cluster_of(items: np.ndarray) -> np.ndarray:
    return items % N_CLUSTERS


def planted_shop(items_per_user: int, n_users: int = N_USERS, seed: int = 0) -> Interactions:
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(cluster_of(np.arange(N_ITEMS)) == c) for c in range(N_CLUSTERS)]
    cluster_share = 1.0 / np.arange(1, N_CLUSTERS + 1)
    user_clusters = rng.choice(N_CLUSTERS, n_users, p=cluster_share / cluster_share.sum())
    users, items = [], []
    for user, cluster in enumerate(user_clusters):
        chosen = rng.choice(members[cluster], items_per_user + 1, replace=False)
        users += [user] * len(chosen)
        items += list(chosen)
    held_out = np.zeros(len(users), dtype=bool)
    held_out[np.arange(items_per_user, len(users), items_per_user + 1)] = True  # last per user
    users_a, items_a = np.array(users), np.array(items)
    test = interaction_matrix(users_a[held_out], items_a[held_out], n_users, N_ITEMS)
    train_all = interaction_matrix(users_a[~held_out], items_a[~held_out], n_users, N_ITEMS)
    train, valid = carve_validation(train_all, 0.25, seed=seed)
    same_cluster = cluster_of(np.arange(N_ITEMS))[:, None] == cluster_of(np.arange(N_ITEMS))
    links = sp.csr_matrix(same_cluster & ~np.eye(N_ITEMS, dtype=bool), dtype=np.float32)
    return Interactions(n_users, N_ITEMS, train, valid, test, item_links=links)


@pytest.fixture(scope="module")
def shop() -> Interactions:
    return planted_shop(items_per_user=4)


def item_vectors(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(N_CLUSTERS, 16))
    vectors: np.ndarray = directions[cluster_of(np.arange(N_ITEMS))]
    return vectors + 0.5 * rng.normal(size=(N_ITEMS, 16))


def random_ndcg(data: Interactions) -> float:
    rng = np.random.default_rng(0)
    return evaluate(
        lambda users: rng.random((len(users), data.n_items)), data.test, data.train_full
    )["ndcg@10"]


def test_ndcg(baseline: Baseline, data: Interactions) -> float:
    fitted, _ = tune_and_refit(baseline, data.train, data.valid)
    return evaluate(fitted.scorer, data.test, data.train_full)["ndcg@10"]


test_ndcg.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def small_lightgcn() -> LightGCN:
    return LightGCN(
        {"lr": (0.05,), "l2": (1e-4,)},
        embedding_dim=16,
        num_layers=2,
        batch_size=512,
        max_epochs=20,
    )


def test_most_popular_beats_random(shop: Interactions) -> None:
    assert test_ndcg(MostPopular(), shop) > random_ndcg(shop) + 0.02


@pytest.mark.parametrize(
    "make",
    [ItemKNN, EASE, RP3Beta, small_lightgcn, lambda: TextProfile(item_vectors())],
    ids=["item_knn", "ease", "rp3beta", "lightgcn", "text_profile"],
)
def test_personalised_baselines_beat_most_popular(shop: Interactions, make: type[Baseline]) -> None:
    popular = test_ndcg(MostPopular(), shop)
    assert test_ndcg(make(), shop) > 1.5 * popular


def test_kg_ease_with_zero_alpha_is_ease(shop: Interactions) -> None:
    users = np.arange(N_USERS)
    ease = EASE().fit(shop.train, {"l2": 10.0}).scorer(users)
    kg = KGEase(shop.item_links).fit(shop.train, {"l2": 10.0, "alpha": 0.0}).scorer(users)
    np.testing.assert_array_equal(ease, kg)


def test_kg_ease_beats_ease_when_links_carry_signal() -> None:
    # Few users with two or three items each: co-occurrence is thin, the cluster links are not.
    sparse_shop = planted_shop(items_per_user=3, n_users=60, seed=1)
    grid = {"l2": (1.0, 10.0, 100.0)}
    ease = test_ndcg(EASE(grid), sparse_shop)
    kg_ease = test_ndcg(
        KGEase(sparse_shop.item_links, {**grid, "alpha": (0.0, 0.1, 1.0)}), sparse_shop
    )
    assert kg_ease > 1.2 * ease


def test_kg_ease_accepts_links_by_type(shop: Interactions) -> None:
    links = shop.item_links
    assert isinstance(links, sp.csr_matrix)
    by_type = {"also_bought": links, "also_viewed": links}
    users = np.arange(5)
    single = KGEase(links).fit(shop.train, {"l2": 10.0, "alpha": 1.0}).scorer(users)
    typed = KGEase(by_type).fit(shop.train, {"l2": 10.0, "alpha": 1.0}).scorer(users)
    np.testing.assert_allclose(single, typed, rtol=1e-6)  # summed then row-normalised: same


def test_dense_top_k_keeps_each_rows_largest_entries() -> None:
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(7, 9)).astype(np.float32)
    pruned = dense_top_k_per_row(dense, 3, chunk=2)  # chunks smaller than the matrix
    assert np.all(np.diff(pruned.indptr) == 3)
    for row in range(7):
        kept = pruned[row].toarray().ravel()
        largest = np.sort(dense[row])[-3:]
        np.testing.assert_array_equal(np.sort(kept[kept != 0]), largest)


def test_lightgcn_is_deterministic_and_early_stops(shop: Interactions) -> None:
    model = small_lightgcn()
    first = model.fit(shop.train, {"lr": 0.05, "l2": 1e-4}, shop.valid)
    second = model.fit(shop.train, {"lr": 0.05, "l2": 1e-4}, shop.valid)
    users = np.arange(N_USERS)
    np.testing.assert_array_equal(np.asarray(first.scorer(users)), np.asarray(second.scorer(users)))
    assert 1 <= first.params["epochs"] <= 20
    refit = model.fit(shop.train, first.params)  # no valid: exactly the chosen epoch count
    assert refit.params["epochs"] == first.params["epochs"]


def test_lightgcn_refuses_an_empty_graph() -> None:
    empty = sp.csr_matrix((3, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="at least one"):
        small_lightgcn().fit(empty, {"lr": 0.05, "l2": 1e-4})


@dataclass
class SpyBaseline(Baseline):
    """MostPopular that records every matrix it is given."""

    name = "spy"
    seen: list[sp.csr_matrix] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__({"unused": (1.0, 2.0)})

    def fit(
        self, train: sp.csr_matrix, params: Params, valid: sp.csr_matrix | None = None
    ) -> Fitted:
        self.seen += [train] + ([valid] if valid is not None else [])
        return MostPopular().fit(train, params)


def test_tuning_sees_only_train_and_valid(shop: Interactions) -> None:
    spy = SpyBaseline()
    _, result = tune_and_refit(spy, shop.train, shop.valid)
    assert len(result.trials) == 2 and result.best_params == {"unused": 1.0}  # tie: first wins
    for matrix in spy.seen:
        assert matrix.multiply(shop.test).nnz == 0, "a test pair reached the tuner"
    assert (spy.seen[-1] != shop.train_full).nnz == 0  # the refit: train + valid


def test_tuning_picks_by_validation_only(shop: Interactions) -> None:
    grid = {"l2": (1.0, 30.0, 1000.0)}
    result = tune(EASE(grid), shop.train, shop.valid)
    scores = [trial.score for trial in result.trials]
    assert result.best_score == max(scores)
    assert result.best_params == result.trials[int(np.argmax(scores))].params


def test_resolver() -> None:
    assert resolve("EASE") is EASE and resolve("kg_ease") is KGEase
    with pytest.raises(ValueError, match="unknown baseline"):
        resolve("nope")
