"""The model's score (`gnn.scoring`) on a shop whose graph carries nothing: its brands,
attributes and also_bought links are random, and what predicts a purchase is the kit the
shopper buys from. The blend picked on validation must do no worse there than EASE, and the
score training measured must be the score a loaded model and the API serve, new items too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import api.ann
import api.engine
from api.engine import Recommender
from gnn.artifacts import save_model
from gnn.baselines import EASE
from gnn.dataset import RecDataset, build_dataset
from gnn.infer import LoadedModel
from gnn.model import ModelConfig
from gnn.scoring import TIE_BREAK, Blend, ItemItemTerm, ModelScorer, blended
from gnn.text import TextEncoder
from gnn.train import TrainConfig, TrainResult, final_data, model_scorer, train
from gnn.tuning import tune
from kg import Graph, Settings
from kg.export import export_graph
from kg.schema import apply_schema
from kg.write import GraphWriter, delete_all

KITS, KIT_SIZE, USERS = 6, 4, 72
CONFIG = TrainConfig(model=ModelConfig(dim=16), batch_size=64, negatives=16, lr=0.02,
                     max_epochs=15, patience=15, seed=0)  # fmt: skip


def write_random_shop(graph: Graph, rng: np.random.Generator) -> None:
    """Kits of 4 items; each shopper buys one kit's items in a random order. Brands,
    attributes and also_bought links are drawn at random, blind to the kits."""
    writer = GraphWriter(graph, batch_size=500)
    items = [f"item{n}" for n in range(KITS * KIT_SIZE)]
    writer.items([{"id": item, "title": f"Product {item}"} for item in items])
    writer.brands([{"id": f"brand{b}", "name": f"Brand {b}"} for b in range(3)])
    writer.item_brands([{"item_id": item, "brand_id": f"brand{rng.integers(3)}",
                         "source": "metadata", "extractor": "metadata"}
                        for item in items])  # fmt: skip
    writer.attributes([{"id": f"attr{a}", "name": f"attribute {a}", "kind": "feature"}
                       for a in range(5)])  # fmt: skip
    writer.item_attributes([{"item_id": item, "attribute_id": f"attr{rng.integers(5)}",
                             "source": "title", "extractor": "rule", "confidence": 0.8}
                            for item in items])  # fmt: skip
    pairs = rng.choice(len(items), size=(len(items), 2))
    writer.item_links([{"source_id": items[a], "target_id": items[b], "type": "ALSO_BOUGHT"}
                       for a, b in pairs if a != b])  # fmt: skip
    rows = []
    for user in range(USERS):
        kit = user % KITS
        for step, member in enumerate(rng.permutation(KIT_SIZE)):
            rows.append({"user_id": f"user{user}", "item_id": items[kit * KIT_SIZE + member],
                         "kind": "purchase", "ts": 1_600_000_000 + step})  # fmt: skip
    writer.interactions(rows)


@pytest.fixture(scope="module")
def shop(neo4j_settings: Settings) -> Iterator[tuple[RecDataset, TrainResult]]:
    with Graph.connect(neo4j_settings, wait_s=30) as graph, TextEncoder(neo4j_settings) as encoder:
        delete_all(graph)
        apply_schema(graph, neo4j_settings.cypher_dir / "schema.cypher")
        write_random_shop(graph, np.random.default_rng(0))
        dataset = build_dataset(export_graph(graph), encoder.encode)
    yield dataset, train(dataset, CONFIG)


def test_where_the_graph_carries_nothing_the_served_blend_is_no_worse_than_ease(
    shop: tuple[RecDataset, TrainResult],
) -> None:
    dataset, result = shop
    interactions = dataset.interactions
    ease = tune(EASE({"l2": CONFIG.ease_l2s}), interactions.train, interactions.valid)
    blends = result.blend_valid
    served = replace(result.model.blend, cold=0.0)  # the cold offset is picked after
    assert served == max(blends, key=lambda blend: blends[blend])
    assert any(not blend.gnn and not blend.link and blend.ease for blend in blends)  # EASE alone
    assert blends[served] >= ease.best_score
    assert served.has_item_item


def test_training_loading_and_serving_score_alike(
    shop: tuple[RecDataset, TrainResult], tmp_path: Path
) -> None:
    dataset, result = shop
    final = final_data(dataset, CONFIG)
    trained = model_scorer(result.model, final.n_items, final.interactions.train)
    users = np.arange(final.interactions.n_users)
    loaded = LoadedModel.load(save_model(result.model, dataset, CONFIG.to_dict(), {}, tmp_path))
    assert loaded.blend == result.model.blend
    np.testing.assert_array_equal(loaded.score(users), trained(users))

    # The API ranks a known user from their vector and items as training measured them.
    recommender = Recommender(loaded)
    history = final.interactions.train
    for user in users[:10]:
        items = list(history[user].indices)
        served = dict(recommender.top_k(recommender.users[user], final.n_items, history=items))
        expected = trained([user])[0]
        got = np.array([served[item] for item in recommender.item_ids])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_new_item_is_scored_as_the_trained_item_it_twins(
    shop: tuple[RecDataset, TrainResult], tmp_path: Path
) -> None:
    dataset, result = shop
    loaded = LoadedModel.load(save_model(result.model, dataset, CONFIG.to_dict(), {}, tmp_path))
    recommender = Recommender(loaded)
    recommender.cold_neighbours = 1  # the twin borrows the item-item term of its one twin
    twin_of = 5
    recommender.add_item("twin", recommender.items[twin_of].copy(), "A twin", [])
    assert loaded.user_items is not None
    for user in range(10):
        items = list(loaded.user_items[user].indices)
        served = dict(recommender.top_k(recommender.users[user], len(recommender.item_ids),
                                        history=items))  # fmt: skip
        # An item added since training has no interactions: it gets the blend's cold offset.
        twin = served[recommender.item_ids[twin_of]] + loaded.blend.cold
        assert served["twin"] == pytest.approx(twin, rel=1e-5)


def test_through_the_index_rankings_score_the_proposed_items_exactly(
    shop: tuple[RecDataset, TrainResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big catalogue's rankings score the candidates the index and the item-item term
    propose (`api/ann.py`), each exactly as a ranking of every item scores it."""
    dataset, result = shop
    loaded = LoadedModel.load(save_model(result.model, dataset, CONFIG.to_dict(), {}, tmp_path))
    exact, indexed = Recommender(loaded), Recommender(loaded, ann_min_items=0)
    assert exact.index is None and indexed.index is not None
    assert Recommender(loaded, ann_min_items=len(exact.item_ids) + 1).index is None
    assert loaded.user_items is not None and indexed.item_item is not None
    users = range(10)
    histories = [list(loaded.user_items[user].indices) for user in users]
    for user, items in zip(users, histories, strict=True):  # every item proposed: the same
        vector = exact.users[user]
        assert indexed.top_k(vector, 5, exclude=items, history=items) == exact.top_k(
            vector, 5, exclude=items, history=items
        )
    monkeypatch.setattr(api.ann, "CANDIDATES", 3)  # a few of the shop's 24 items proposed
    monkeypatch.setattr(api.engine, "CANDIDATES", 3)
    for user, items in zip(users, histories, strict=True):
        vector = exact.users[user]
        truth = dict(exact.top_k(vector, len(exact.item_ids), history=items))
        served = indexed.top_k(vector, 3, history=items)
        proposed = {*indexed.index.search(vector, 3), *indexed.item_item.reached(items, 3)}
        assert len(served) == 3 and {indexed.item_row[item] for item, _ in served} <= proposed
        for item, score in served:
            assert score == pytest.approx(truth[item], rel=1e-5)
    indexed.add_item("twin", indexed.items[5].copy(), "A twin", [])  # the index grows with it
    assert len(indexed.index) == len(indexed.items) == len(exact.item_ids) + 1


def test_the_cold_offset_is_picked_on_items_made_cold(
    shop: tuple[RecDataset, TrainResult],
) -> None:
    _, result = shop
    tuning = result.cold_valid
    assert tuning is not None and 0.0 in tuning.trials
    assert len(tuning.trials) == len(CONFIG.cold_offsets)
    assert 0.0 <= tuning.weight <= 1.0
    served = tuning.score(result.model.blend.cold)
    assert all(tuning.score(offset) <= served for offset in tuning.trials)
    # Every item of this shop has interactions, so a test holds no cold item: the slice's
    # made-cold positives weigh nothing and the offset is the one the warm items like best.
    assert tuning.weight == 0.0
    warm = tuning.trials[result.model.blend.cold].warm
    assert warm == max(trial.warm for trial in tuning.trials.values())


def test_only_items_without_interactions_get_the_cold_offset_and_only_beside_a_history() -> None:
    users = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    items = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    history = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 0]], dtype=np.float32))  # item 2: cold
    term = ItemItemTerm(sp.csr_matrix(np.full((3, 3), 0.5, dtype=np.float32)))
    plain = ModelScorer(users, items, Blend(ease=1.0), term, history)
    cold = ModelScorer(users, items, Blend(ease=1.0, cold=0.25), term, history)
    np.testing.assert_allclose(cold([0]) - plain([0]), [[0.0, 0.0, 0.25]])
    assert cold.offsets is not None and plain.offsets is None
    # The API: a user without items is ranked by the vector alone, offsets or not.
    np.testing.assert_array_equal(
        blended(users @ items.T, None, 1.0, cold.offsets), users @ items.T
    )


def test_without_the_gnn_the_dot_products_only_break_ties() -> None:
    users = np.array([[1.0, 0.0]], dtype=np.float32)
    items = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    score = ModelScorer(users, items, Blend(gnn=0.0, ease=1.0))  # no term: dot products
    np.testing.assert_array_equal(score([0]), users @ items.T)
    assert Blend(gnn=0.0).vector_weight == TIE_BREAK
    assert Blend.from_config({"item_item_parts": {"link": 0.3, "ease": 2.0, "ease_l2": 50.0}}) == (
        Blend(1.0, 0.3, 2.0, 50.0)
    )  # a model saved before blends: GNN weight 1
    assert Blend.from_config({}) == Blend()
