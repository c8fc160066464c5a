"""The evaluator against hand-computed cases, the cold-item slice, and the split helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from gnn.data import Interactions, carve_validation, interaction_matrix
from gnn.metrics import evaluate, top_k

# The worked example: 5 items, ks = (2, 3); scores are fixed per user.
#
# user 0: scores .9 .8 .7 .6 .5, trained on item 0 (excluded), test {2, 4}
#   ranking 1, 2, 3, 4.  @2: [1, 2] hits [0, 1] -> recall 1/2, precision 1/2, HR 1,
#   DCG = 1/log2(3) = .6309, ideal DCG over min(2, 2) = 2 hits = 1 + 1/log2(3) = 1.6309,
#   NDCG = .3869.  @3: [1, 2, 3] -> recall 1/2, precision 1/3, NDCG .3869 (same hits).
# user 1: scores .1 .2 .45 .4 .5, nothing trained, test {4}
#   ranking 4, 2, 3.  @2 and @3: hit at rank 1 -> recall 1, NDCG 1; precision 1/2 | 1/3.
# user 2: all scores .5 (a tie: lower index first), trained on item 1, test {3}
#   ranking 0, 2, 3, 4.  @2: [0, 2] no hit -> all 0.  @3: hit at rank 3 ->
#   recall 1, precision 1/3, HR 1, NDCG = (1/log2(4)) / 1 = .5.
# user 3: trained on item 0, no test item -> not counted at all.
# user 4: scores .5 .4 .3 .2 .1, test {0, 1, 2}
#   @2: [0, 1] both hit -> recall 2/3, precision 1, NDCG 1 (the ideal DCG stops at k = 2).
#   @3: all three hit -> recall 1, precision 1, NDCG 1.
# coverage@2: {1, 2} u {4, 2} u {0, 2} u {0, 1} = {0, 1, 2, 4} -> 4/5 = .8
# coverage@3: {1, 2, 3} u {4, 2, 3} u {0, 2, 3} u {0, 1, 2} = all 5 -> 1.
SCORES = np.array(
    [
        [0.9, 0.8, 0.7, 0.6, 0.5],
        [0.1, 0.2, 0.45, 0.4, 0.5],
        [0.5, 0.5, 0.5, 0.5, 0.5],
        [0.3, 0.3, 0.3, 0.3, 0.3],
        [0.5, 0.4, 0.3, 0.2, 0.1],
    ],
    dtype=np.float32,
)
TRAIN = interaction_matrix(np.array([0, 2, 3]), np.array([0, 1, 0]), 5, 5)
TEST = interaction_matrix(np.array([0, 0, 1, 2, 4, 4, 4]), np.array([2, 4, 4, 3, 0, 1, 2]), 5, 5)
G = 1 / math.log2(3)
EXPECTED_PER_USER: dict[str, list[float]] = {  # users 0, 1, 2, 4
    "recall@2": [1 / 2, 1, 0, 2 / 3],
    "precision@2": [1 / 2, 1 / 2, 0, 1],
    "hr@2": [1, 1, 0, 1],
    "ndcg@2": [G / (1 + G), 1, 0, 1],
    "recall@3": [1 / 2, 1, 1, 1],
    "precision@3": [1 / 3, 1 / 3, 1 / 3, 1],
    "hr@3": [1, 1, 1, 1],
    "ndcg@3": [G / (1 + G), 1, 0.5, 1],
}


def fixed_scorer(users: np.ndarray) -> np.ndarray:
    scores: np.ndarray = SCORES[users]
    return scores


def test_hand_computed_example() -> None:
    metrics = evaluate(fixed_scorer, TEST, TRAIN, ks=(2, 3), batch_size=2, keep_per_user=True)
    assert metrics.n_users == 4  # user 3 has no test item
    for name, expected in EXPECTED_PER_USER.items():
        np.testing.assert_allclose(metrics.per_user[name], expected, err_msg=name)
        assert metrics[name] == pytest.approx(np.mean(expected)), name
    assert metrics["coverage@2"] == pytest.approx(0.8)
    assert metrics["coverage@3"] == pytest.approx(1.0)
    assert set(metrics) == set(EXPECTED_PER_USER) | {"coverage@2", "coverage@3"}


def test_batch_size_and_torch_scores_change_nothing() -> None:
    reference = evaluate(fixed_scorer, TEST, TRAIN, ks=(2, 3))
    for batch_size in (1, 3, 1024):
        metrics = evaluate(
            lambda users: torch.from_numpy(SCORES[users]),
            TEST,
            TRAIN,
            ks=(2, 3),
            batch_size=batch_size,
        )
        assert dict(metrics) == pytest.approx(dict(reference))


def test_scorer_output_is_never_written() -> None:
    shared = SCORES.copy()  # scorers may hand out views of cached arrays
    evaluate(lambda users: shared[: len(users)], TEST, TRAIN, ks=(2,))
    evaluate(lambda users: np.broadcast_to(shared[0], (len(users), 5)), TEST, TRAIN, ks=(2,))
    np.testing.assert_array_equal(shared, SCORES)


def test_default_keys() -> None:
    many_items = interaction_matrix(np.array([0]), np.array([3]), 1, 30)
    metrics = evaluate(lambda users: np.zeros((len(users), 30)), many_items)
    for key in (
        "ndcg@10",
        "recall@10",
        "hr@10",
        "precision@10",
        "recall@20",
        "ndcg@20",
        "coverage@10",
    ):
        assert key in metrics
    assert metrics["coverage@10"] == pytest.approx(10 / 30)  # ties: items 0..9


def test_excluded_items_never_hit_even_when_they_fill_the_list() -> None:
    # 4 of 5 items trained: at k = 3 the list holds 1 candidate and 2 excluded items.
    train = interaction_matrix(np.zeros(4, dtype=int), np.arange(4), 1, 5)
    test = interaction_matrix(np.array([0, 0]), np.array([0, 4]), 1, 5)  # item 0 also trained
    metrics = evaluate(lambda users: np.ones((len(users), 5)), test, train, ks=(3,))
    assert metrics["recall@3"] == pytest.approx(0.5)
    assert metrics["coverage@3"] == pytest.approx(1 / 5)


def test_cold_item_slice_counts_only_those_items() -> None:
    # Relevant only on items {3, 4}: users 0 (item 4), 1 (item 4), 2 (item 3); user 4 drops out.
    metrics = evaluate(
        fixed_scorer, TEST, TRAIN, ks=(3,), relevant_items=np.array([3, 4]), keep_per_user=True
    )
    assert metrics.n_users == 3
    # user 0 ranks 1, 2, 3: item 4 missed; user 1 ranks 4 first; user 2 ranks 3 third.
    np.testing.assert_allclose(metrics.per_user["recall@3"], [0, 1, 1])
    np.testing.assert_allclose(metrics.per_user["ndcg@3"], [0, 1, 0.5])
    # Candidates stay all items: user 0's list is still items 1, 2, 3.
    assert metrics["coverage@3"] == pytest.approx(1.0)


def test_no_test_users_gives_zeros() -> None:
    empty = sp.csr_matrix((3, 5), dtype=np.float32)
    metrics = evaluate(fixed_scorer, empty, ks=(2,))
    assert metrics.n_users == 0 and metrics["ndcg@2"] == 0.0


def test_k_beyond_catalogue_is_refused() -> None:
    with pytest.raises(ValueError, match="every k"):
        evaluate(fixed_scorer, TEST, TRAIN, ks=(6,))


def test_top_k_breaks_ties_by_lower_index() -> None:
    scores = torch.tensor(
        [[1.0, 1.0, 1.0, 0.0], [0.0, 2.0, 2.0, 2.0], [3.0, 1.0, 2.0, 2.0], [0.0, 1.0, 2.0, 3.0]]
    )
    indices, values = top_k(scores, 2)
    assert indices.tolist() == [[0, 1], [1, 2], [0, 2], [3, 2]]
    assert values.tolist() == [[1.0, 1.0], [2.0, 2.0], [3.0, 2.0], [3.0, 2.0]]


def test_carve_validation_random_fraction() -> None:
    rng = np.random.default_rng(1)
    users, items = rng.integers(0, 50, 600), rng.integers(0, 40, 600)
    train = interaction_matrix(users, items, 50, 40)
    kept, valid = carve_validation(train, 0.2, seed=3)
    assert kept.multiply(valid).nnz == 0
    assert (kept + valid != train).nnz == 0  # a partition of train
    assert (np.diff(kept.indptr) >= np.minimum(np.diff(train.indptr), 1)).all()  # >= 1 kept
    assert 0.1 < valid.nnz / train.nnz < 0.3
    again_kept, again_valid = carve_validation(train, 0.2, seed=3)
    assert (again_valid != valid).nnz == 0 and (again_kept != kept).nnz == 0


def test_carve_validation_leave_last_out() -> None:
    train = interaction_matrix(np.array([0, 0, 0, 1, 2, 2]), np.array([1, 2, 3, 0, 0, 4]), 3, 5)
    times = train.copy()
    times.data = np.array([5, 9, 7, 1, 4, 4], dtype=np.float32)  # user 2: a tie in time
    kept, valid = carve_validation(train, timestamps=times)
    assert sorted(zip(*valid.nonzero(), strict=True)) == [(0, 2), (2, 4)]  # user 1 keeps its one
    assert kept.nnz == train.nnz - 2


def test_interactions_refuse_leaks() -> None:
    train = interaction_matrix(np.array([0]), np.array([0]), 2, 3)
    valid = interaction_matrix(np.array([1]), np.array([1]), 2, 3)
    with pytest.raises(ValueError, match="leak"):
        Interactions(2, 3, train, valid, train.copy())
    with pytest.raises(ValueError, match="cold"):
        Interactions(2, 3, train, valid, valid * 0, cold_items=np.array([1]))
    ok = Interactions(2, 3, train, valid, interaction_matrix(np.array([1]), np.array([2]), 2, 3))
    assert ok.train_full.nnz == 2
