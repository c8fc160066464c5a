"""The GNN end to end on a tiny shop written into a real Neo4j: splits without leakage, training
that learns, a saved model that reloads identically, cold items embedded from text and links,
and `kgrec train` (with write-back) including its error for a graph with nothing to learn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from typer.testing import CliRunner

from api.engine import Recommender
from gnn import cli
from gnn.artifacts import save_model
from gnn.data import interaction_matrix
from gnn.dataset import (
    LeakageError,
    NoInteractionsError,
    RecDataset,
    TrainingGraph,
    assert_no_leakage,
    build_dataset,
)
from gnn.distributed import train_data_parallel
from gnn.infer import LoadedModel
from gnn.model import ModelConfig
from gnn.scoring import Blend, ItemItemTerm, ModelScorer
from gnn.text import NEGLIGIBLE, TextEncoder
from gnn.train import (
    TrainConfig,
    TrainResult,
    ease_matrix,
    embeddings,
    final_data,
    final_item_item,
    impute_cold_columns,
    item_link_matrix,
    model_scorer,
    negative_pool,
    train,
)
from kg import Graph, Settings
from kg.export import export_graph
from kg.schema import apply_schema
from kg.write import GraphWriter, delete_all
from tests.helpers import kgrec

# Two brands with nothing in common: GlowCo make-up and ToolCo hardware.
GLOW = ["Rose lipstick", "Matte lip gloss", "Pink blush powder", "Coral lip liner",
        "Nude lipstick set", "Shimmer eyeshadow", "Velvet lip tint", "Cherry lip balm",
        "Peach lip oil", "Berry lip stain", "Gold highlighter", "Plum lip pencil"]  # fmt: skip
TOOL = ["Steel claw hammer", "Cordless power drill", "Adjustable wrench", "Phillips screwdriver",
        "Hex key set", "Wood saw", "Measuring tape", "Socket wrench set", "Pipe wrench",
        "Tool box", "Wire cutter", "Spirit level"]  # fmt: skip
USERS_PER_BRAND = 12
SMALL = TrainConfig(model=ModelConfig(dim=16), batch_size=16, negatives=16, lr=0.02,
                    max_epochs=25, patience=25, seed=0)  # fmt: skip


def write_shop(graph: Graph, *, interactions: bool = True) -> None:
    writer = GraphWriter(graph, batch_size=500)
    writer.brands([{"id": "glowco", "name": "GlowCo"}, {"id": "toolco", "name": "ToolCo"}])
    items = [(f"g{n}", title, "glowco") for n, title in enumerate(GLOW)]
    items += [(f"t{n}", title, "toolco") for n, title in enumerate(TOOL)]
    writer.items([{"id": item, "title": title} for item, title, _ in items])
    writer.item_brands([{"item_id": item, "brand_id": brand, "source": "metadata",
                         "extractor": "metadata"} for item, _, brand in items])  # fmt: skip
    if not interactions:
        return
    rows = []
    for prefix in ("g", "t"):
        for user in range(USERS_PER_BRAND):
            # Runs of neighbouring items: co-purchases a model can learn beyond the brand.
            for step in range(4):
                item = (user + step) % len(GLOW)
                rows.append({"user_id": f"{prefix}-user{user}", "item_id": f"{prefix}{item}",
                             "kind": "purchase", "ts": 1_600_000_000 + step})  # fmt: skip
    writer.interactions(rows)


@pytest.fixture(scope="module")
def encoder(neo4j_settings: Settings) -> Iterator[TextEncoder]:
    with TextEncoder(neo4j_settings) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def trained(neo4j_settings: Settings, encoder: TextEncoder) -> tuple[RecDataset, TrainResult]:
    """The shop, split and trained once for the tests that only read the result."""
    with Graph.connect(neo4j_settings, wait_s=30) as graph:
        delete_all(graph)
        apply_schema(graph, neo4j_settings.cypher_dir / "schema.cypher")
        write_shop(graph)
        dataset = build_dataset(export_graph(graph), encoder.encode)
    return dataset, train(dataset, SMALL)


def test_assert_no_leakage_catches_a_held_out_edge() -> None:
    graph = TrainingGraph({"user": 2, "item": 3}, {"interacted": torch.tensor([[0, 1], [2, 0]])})
    assert_no_leakage(graph, sp.csr_matrix(([1.0], ([0], [1])), shape=(2, 3)))
    with pytest.raises(LeakageError, match="user 1, item 0"):
        assert_no_leakage(graph, sp.csr_matrix(([1.0], ([1], [0])), shape=(2, 3)))


def test_temporal_split_holds_each_users_last_items_out_of_the_graph(
    trained: tuple[RecDataset, TrainResult],
) -> None:
    shop, _ = trained
    interactions = shop.interactions
    assert shop.split == "temporal leave-last-out"
    # 4 purchases each: 2 train, the third valid, the last test.
    assert np.all(np.diff(interactions.test.indptr) == 1)
    assert np.all(np.diff(interactions.valid.indptr) == 1)
    assert interactions.train.nnz == 2 * 2 * USERS_PER_BRAND
    assert_no_leakage(shop.graph, interactions.valid + interactions.test)
    assert shop.graph.edges["interacted"].shape[1] == interactions.train.nnz


def test_a_tiny_graph_trains_and_its_loss_falls(trained: tuple[RecDataset, TrainResult]) -> None:
    _, result = trained
    losses = [log.loss for log in result.history]
    assert losses[-1] < 0.9 * losses[0]
    assert 1 <= result.best_epoch <= SMALL.max_epochs
    assert result.test["hr@10"] > 0.5  # 16 items, the user's own brand is learnable
    assert result.peak_rss_mb > 0


def test_a_saved_model_reloads_and_scores_identically(
    trained: tuple[RecDataset, TrainResult], tmp_path: Path
) -> None:
    shop, result = trained
    path = save_model(result.model, shop, SMALL.to_dict(), result.test, tmp_path)
    loaded = LoadedModel.load(tmp_path)  # the newest model under the directory
    assert loaded.path == path
    assert loaded.blend == result.model.blend
    batch = np.arange(shop.interactions.n_users)
    final = final_data(shop, SMALL)
    trained_score = model_scorer(result.model, shop.n_items, final.interactions.train)
    assert np.array_equal(loaded.score(batch), trained_score(batch))
    assert loaded.ids["item"][: shop.n_items] == shop.ids["item"][: shop.n_items]
    top = loaded.recommend("g-user0", k=3)
    assert len(top) == 3


def next_in_run_links(shop: RecDataset) -> sp.csr_matrix:
    """also_bought from each item to the next of its brand: what the shop's users buy next."""
    row = {item: index for index, item in enumerate(shop.ids["item"][: shop.n_items])}
    pairs = [
        (row[f"{prefix}{n}"], row[f"{prefix}{(n + 1) % len(titles)}"])
        for prefix, titles in (("g", GLOW), ("t", TOOL))
        for n in range(len(titles))
    ]
    sources, targets = (np.array(column) for column in zip(*pairs, strict=True))
    return interaction_matrix(sources, targets, shop.n_items, shop.n_items)


def test_the_blend_is_picked_on_validation_saved_and_reloaded(
    trained: tuple[RecDataset, TrainResult], tmp_path: Path
) -> None:
    shop, _ = trained
    assert isinstance(shop.interactions.item_links, dict)
    links = {**shop.interactions.item_links, "also_bought": next_in_run_links(shop)}
    linked = replace(shop, interactions=replace(shop.interactions, item_links=links))
    config = replace(
        SMALL, item_link_weights=(0.0, 1.0), ease_weights=(0.0, 0.5), ease_l2s=(1.0, 10.0),
        ease_top_k=4, text_weights=(0.0, 0.5),
    )  # fmt: skip
    result = train(linked, config)
    # Every blend was scored on validation and the best one kept: with the GNN, every pair of
    # weights; without, every ratio of them but the empty one; then the best of those with
    # the text part. Each user's second training item links to their validation item, so
    # the links help.
    valid = {(b.gnn, b.link, b.ease, b.text): ndcg for b, ndcg in result.blend_valid.items()}
    # In the order tried: of equals, the first wins.
    grid = [(1.0, 0.0, 0.0, 0.0), (1.0, 0.0, 0.5, 0.0), (1.0, 1.0, 0.0, 0.0),
            (1.0, 1.0, 0.5, 0.0), (0.0, 0.0, 0.5, 0.0), (0.0, 1.0, 0.0, 0.0),
            (0.0, 1.0, 0.5, 0.0)]  # fmt: skip
    best_of_grid = max(grid, key=lambda point: valid[point])
    assert set(valid) == {*grid, (*best_of_grid[:3], 0.5)}
    assert valid[1.0, 1.0, 0.0, 0.0] > valid[1.0, 0.0, 0.0, 0.0]
    blend = result.model.blend
    best = max(result.blend_valid, key=lambda b: result.blend_valid[b])
    assert blend == replace(best, cold=blend.cold)  # the cold offset is picked after
    assert result.model.item_item is not None
    assert blend.ease_l2 in config.ease_l2s or not blend.ease
    assert result.test_gnn_only.keys() == result.test.keys()

    # Both parts, EASE refit on train + valid as the returned model is: saved and reloaded,
    # the term scores exactly as in training.
    final = final_data(linked, config)
    picked = Blend(1.0, 1.0, 0.5, 10.0)
    users, items = embeddings(result.model, shop.n_items)
    both = final_item_item(picked, final, config)
    assert both is not None and both.weight == 1.0
    ease = ease_matrix(final.interactions.train, 10.0, config.ease_top_k)
    assert np.all(np.diff(ease.indptr) <= config.ease_top_k)
    text = final.features["item"][: final.n_items].numpy()
    ease = impute_cold_columns(ease, final.interactions.train, text, config.ease_cold_neighbours)
    expected = item_link_matrix(final) + 0.5 * ease
    assert abs(both.matrix - expected).max() < 1e-6
    result.model.blend, result.model.item_item = picked, both
    path = save_model(result.model, linked, config.to_dict(), result.test, tmp_path)
    loaded = LoadedModel.load(path)
    assert loaded.item_item is not None and loaded.item_item.weight == 1.0
    assert (loaded.item_item.matrix != both.matrix).nnz == 0
    assert loaded.blend == picked
    assert loaded.config["blend"] == {"gnn": 1.0, "link": 1.0, "ease": 0.5, "ease_l2": 10.0,
                                      "text": 0.0, "cold": 0.0}  # fmt: skip
    batch = np.arange(shop.interactions.n_users)
    with_term = ModelScorer(users, items, picked, both, final.interactions.train)(batch)
    assert np.array_equal(loaded.score(batch), with_term)
    assert not np.array_equal(with_term, ModelScorer(users, items)(batch))
    assert len(loaded.recommend("g-user0", k=3)) == 3

    # Served: a new item borrows the term of its nearest trained item (one neighbour here), so
    # an exact twin of a trained item gets that item's term for any history.
    recommender = Recommender(loaded)
    recommender.cold_neighbours = 1
    twin_of = 3
    history = list(both.matrix[:, twin_of].nonzero()[0])
    assert history, "the test needs a trained item whose term is not zero"
    recommender.add_item("new-twin", recommender.items[twin_of].copy(), "A twin", [])
    rows = np.array([twin_of, recommender.item_row["new-twin"]])
    served = recommender.item_item_scores(history, rows)
    assert served is not None and served[0] > 0
    assert served[1] == pytest.approx(served[0], rel=1e-5)


def test_one_history_spreads_as_a_batch_of_histories_does() -> None:
    # What a request computes for one user, without sparse products, and what training and
    # evaluation compute for many must agree.
    matrix = sp.random(30, 30, density=0.2, format="csr", random_state=0, dtype=np.float32)
    term = ItemItemTerm(sp.csr_matrix(matrix), weight=0.5)
    history = sp.csr_matrix((np.ones(3), ([0, 0, 0], [3, 7, 12])), shape=(1, 30))
    batch = term.spread(history)[0]
    borrowed = sp.csr_matrix(([0.25, 0.75], ([0, 0], [3, 7])), shape=(1, 30))
    served = term.spread_to_new([7, 3, 12, 7], borrowed)  # a repeated item counts once
    assert np.allclose(served[:30], batch) and batch.any()
    assert served[30] == pytest.approx(0.25 * batch[3] + 0.75 * batch[7], rel=1e-5)
    assert np.array_equal(term.spread_to_new([7, 3, 12], sp.csr_matrix((0, 30))), served[:30])


def test_negatives_are_drawn_only_from_items_someone_interacted_with() -> None:
    # Items 1 and 3 have no training interactions: unknown, not disliked.
    train = sp.csr_matrix(np.array([[1, 0, 1, 0], [1, 0, 0, 0]], dtype=np.float32))
    assert negative_pool(train).tolist() == [0, 2]
    assert negative_pool(sp.csr_matrix((2, 3), dtype=np.float32)).tolist() == [0, 1, 2]


def test_an_item_without_interactions_borrows_its_nearest_trained_items_ease_columns() -> None:
    # Items 0-2 have training interactions, item 3 none: its EASE column is all zero.
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 0]], dtype=np.float32))
    ease = np.array([[0, 1, 2, 0], [3, 0, 4, 0], [5, 6, 0, 0], [7, 8, 9, 0]], dtype=np.float32)
    # Item 3 points as item 0 does (cosine 1), half-way to item 2 (0.7071), away from item 1.
    items = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 1.0], [2.0, 0.0]], dtype=np.float32)
    for neighbours in (2, 3):  # the third, item 1, has a negative cosine: weight 0
        filled = impute_cold_columns(sp.csr_matrix(ease), train, items, neighbours).toarray()
        weights = np.array([1.0, 0.0, np.sqrt(0.5)]) / (1.0 + np.sqrt(0.5))
        np.testing.assert_allclose(filled[:, 3], ease[:, :3] @ weights, rtol=1e-6)
        np.testing.assert_array_equal(filled[:, :3], ease[:, :3])  # trained items untouched
    warm = sp.csr_matrix(np.ones((1, 4), dtype=np.float32))
    np.testing.assert_array_equal(
        impute_cold_columns(sp.csr_matrix(ease), warm, items, 2).toarray(), ease
    )


def test_a_new_item_is_embedded_from_text_and_brand(
    trained: tuple[RecDataset, TrainResult], encoder: TextEncoder, tmp_path: Path
) -> None:
    shop, result = trained
    save_model(result.model, shop, SMALL.to_dict(), result.test, tmp_path)
    loaded = LoadedModel.load(tmp_path)
    glow, tool = encoder.encode(
        ["Glossy red lipstick. Brand: GlowCo", "Heavy sledge hammer. Brand: ToolCo"]
    )
    new_glow = loaded.embed_new_item(glow, {"has_brand": ["glowco"]})
    new_tool = loaded.embed_new_item(tool, {"has_brand": ["toolco"]})
    glow_users = [row for row, user in enumerate(loaded.ids["user"]) if user.startswith("g-")]
    user_vectors = loaded.users[glow_users]
    assert bool(((user_vectors @ new_glow) > (user_vectors @ new_tool)).all())


def test_text_vectors_hold_no_component_small_enough_to_make_subnormal_products(
    encoder: TextEncoder,
) -> None:
    """MiniLM itself leaves components near 1e-36, which multiplied by a gradient make the
    subnormal floats CPU matrix products crawl on; the encoder's vectors have them at 0."""
    texts = ["Glossy red lipstick. Brand: GlowCo", "Borosilicate beaker, 250 ml", "sledge"]
    raw = encoder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert bool((np.abs(raw[raw != 0]) < NEGLIGIBLE).any())
    vectors = encoder.encode(texts)
    assert bool((np.abs(vectors[vectors != 0]) >= NEGLIGIBLE).all())
    np.testing.assert_allclose(vectors, raw, atol=NEGLIGIBLE)


def test_cold_items_are_held_out_of_training(graph: Graph, encoder: TextEncoder) -> None:
    write_shop(graph)
    dataset = build_dataset(export_graph(graph), encoder.encode, cold_item_fraction=0.25)
    interactions = dataset.interactions
    assert interactions.cold_items is not None and len(interactions.cold_items) == 6
    assert interactions.train_full[:, interactions.cold_items].nnz == 0
    assert interactions.test[:, interactions.cold_items].nnz > 0
    result = train(dataset, SMALL)
    assert result.cold_test is not None and 0.0 <= result.cold_test["recall@20"] <= 1.0


def test_a_graph_with_entities_and_facts_still_trains(graph: Graph, encoder: TextEncoder) -> None:
    write_shop(graph)
    writer = GraphWriter(graph)
    writer.entities([{"id": "m.red", "name": "Red"}])
    facts = [("Item", "g0", "colour", "Entity", "m.red"),
             ("Entity", "m.red", "shade_of", "Entity", "m.pink"),
             ("Item", "g1", "refill_of", "Item", "g0")]  # fmt: skip
    writer.related(
        {"head_label": a, "head_id": head, "relation": relation, "tail_label": b, "tail_id": tail}
        for a, head, relation, b, tail in facts
    )
    exported = export_graph(graph)
    assert exported.data["entity"].num_nodes == 2
    result = train(build_dataset(exported, encoder.encode), replace(SMALL, max_epochs=2))
    assert result.history and all(np.isfinite(log.loss) for log in result.history)


@pytest.mark.usefixtures("server_env")
def test_kgrec_train_saves_a_model_and_writes_embeddings_back(graph: Graph, tmp_path: Path) -> None:
    write_shop(graph)
    models = tmp_path / "models"
    outcome = CliRunner().invoke(
        cli.train_app,
        ["--epochs", "3", "--dim", "8", "--batch-size", "64", "--models-dir", str(models),
         "--nproc", "2",  # data-parallel; one process: the other tests
         "--sample-from-links", "0", "--walks", "3"],  # their sparse id gradients summed
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    [model_dir] = list(models.glob("*/"))  # model directories, not the registry files
    assert {"results.md", "metrics.json", "curves.png", "weights.pt", "versions.json"} <= {
        path.name for path in model_dir.iterdir()
    }
    assert f"Model saved in {model_dir}" in outcome.output.replace("\n", "")
    # The simple baselines ran on the same split and stand beside ours in one table.
    baselines = ["MostPopular", "ItemKNN", "EASE", "text-only (MiniLM profile)"]
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert (metrics["processes"], metrics["sampled_walks"]) == (2, 3)
    assert sorted(metrics["baselines"]) == sorted(baselines)
    assert "KG-EASE (direct links)" in metrics["baselines_skipped"]  # the shop has no links
    results = (model_dir / "results.md").read_text()
    assert "| ours, served (GNN " in results and "Served blend, picked on validation" in results
    assert all(f"| {name} |" in results for name in baselines)
    assert "Served blend, picked on validation" in outcome.output
    rows = graph.read("MATCH (n:Item) WHERE n.embedding IS NOT NULL RETURN count(n) AS n")
    assert rows[0]["n"] == len(GLOW) + len(TOOL)
    rows = graph.read("MATCH (n:Item) WHERE n.text_embedding IS NOT NULL RETURN count(n) AS n")
    assert rows[0]["n"] == len(GLOW) + len(TOOL)  # search's semantic half
    indexes = graph.read("SHOW VECTOR INDEXES YIELD name RETURN collect(name) AS names")
    assert {"item_embedding", "user_embedding", "item_text_embedding"} <= set(indexes[0]["names"])


@pytest.mark.usefixtures("server_env")
def test_training_a_graph_without_interactions_stops_with_a_clear_error(graph: Graph) -> None:
    write_shop(graph, interactions=False)
    with pytest.raises(NoInteractionsError, match="kgrec ingest"):
        build_dataset(export_graph(graph), lambda texts: np.zeros((len(texts), 4), np.float32))
    outcome = CliRunner().invoke(cli.train_app, [])
    assert outcome.exit_code == 1
    assert "no INTERACTED relationships" in outcome.output
    assert "kgrec ingest" in outcome.output


@pytest.mark.usefixtures("server_env")
def test_kgrec_train_reuse_skips_data_it_has_a_model_for(graph: Graph, tmp_path: Path) -> None:
    write_shop(graph)
    models = tmp_path / "models"
    args = ["--epochs", "2", "--dim", "8", "--batch-size", "64", "--no-write-back",
            "--models-dir", str(models), "--reuse", "--no-baselines"]  # fmt: skip
    assert CliRunner().invoke(cli.train_app, args).exit_code == 0
    [first] = list(models.glob("*/"))
    again = CliRunner().invoke(cli.train_app, args)
    assert again.exit_code == 0
    assert "exists" in again.output
    assert list(models.glob("*/")) == [first]
    other_config = CliRunner().invoke(cli.train_app, [*args[:3], "16", *args[4:]])
    assert other_config.exit_code == 0
    assert len(list(models.glob("*/"))) == 2

    # A graph emptied and loaded again (`kgrec neo4j reset`, then `make demo`) has no vectors:
    # a reused model writes its own back, with the version it is.
    write_back = [arg for arg in args if arg != "--no-write-back"]
    reused = CliRunner().invoke(cli.train_app, write_back)
    assert reused.exit_code == 0 and "exists" in reused.output
    assert len(list(models.glob("*/"))) == 2
    embedded = graph.read("MATCH (n:Item) WHERE n.embedding IS NOT NULL RETURN count(n) AS n")
    assert embedded[0]["n"] == len(GLOW) + len(TOOL)
    versions = graph.read("MATCH (v:ModelVersion) RETURN collect(v.id) AS versions")
    assert versions[0]["versions"] == [first.name]


def test_two_processes_train_what_one_process_trains(
    trained: tuple[RecDataset, TrainResult],
) -> None:
    """`kgrec train --nproc 2` on the CPUs (gloo): each process takes half of every batch and
    their gradients are summed, so the epochs, the early stop and the metrics are one
    process's, up to float rounding."""
    dataset, one = trained
    two = train_data_parallel(dataset, SMALL, 2)
    assert (two.processes, one.processes) == (2, 1)
    assert [log.epoch for log in two.history] == [log.epoch for log in one.history]
    np.testing.assert_allclose(
        [log.loss for log in two.history], [log.loss for log in one.history], rtol=1e-3
    )
    assert two.best_epoch == one.best_epoch
    for metric in ("ndcg@10", "recall@20"):
        assert two.test[metric] == pytest.approx(one.test[metric], abs=0.01)


def test_torchrun_trains_what_one_process_trains(
    graph: Graph, tmp_path: Path, server_env: dict[str, str]
) -> None:
    """`torchrun --nproc-per-node 2 -m kg.cli train` (how it runs across machines, here on
    one): each process reads the graph and trains its share, rank 0 alone saves, and the model
    is the one a single `kgrec train` trains, up to float rounding."""
    write_shop(graph)
    args = ["train", "--epochs", "3", "--dim", "8", "--batch-size", "64", "--no-baselines",
            "--no-write-back", "--no-promote"]  # fmt: skip
    single = kgrec(*args, "--models-dir", str(tmp_path / "one"), env=server_env)
    assert single.returncode == 0, single.stderr[-3000:]
    launched = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "kg.cli", *args, "--models-dir", str(tmp_path / "two")],
        capture_output=True, text=True, env={**os.environ, **server_env}, timeout=600,
        check=False,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stderr[-3000:]
    [one], [two] = (list((tmp_path / run).glob("*/")) for run in ("one", "two"))
    alone, shared = (json.loads((run / "metrics.json").read_text()) for run in (one, two))
    np.testing.assert_allclose([log["loss"] for log in shared["history"]],
                               [log["loss"] for log in alone["history"]], rtol=1e-3)  # fmt: skip
    assert (shared["processes"], alone["processes"]) == (2, 1)
    assert shared["best_epoch"] == alone["best_epoch"]
    assert shared["ours"]["ndcg@10"] == pytest.approx(alone["ours"]["ndcg@10"], abs=0.01)

    # Under torchrun, --nproc would start processes of its own: refused before anything runs.
    launcher = {"TORCHELASTIC_RUN_ID": "test", "RANK": "0", "WORLD_SIZE": "2"}
    refused = kgrec(*args, "--nproc", "2", env={**server_env, **launcher})
    assert refused.returncode == 1
    assert "--nproc-per-node" in refused.stderr


def test_sampled_neighbourhoods_learn_the_tiny_graph_too(
    trained: tuple[RecDataset, TrainResult],
) -> None:
    """Walk-sampled steps (forced here: the graph is tiny) learn what full-graph steps
    learn, and the result says they were sampled."""
    dataset, full = trained
    sampled = train(dataset, replace(SMALL, sample_from_links=0, walks=3))
    assert (sampled.walks, full.walks) == (3, 0)
    losses = [log.loss for log in sampled.history]
    assert losses[-1] < 0.9 * losses[0]
    assert sampled.test["hr@10"] > 0.5
    # Below the threshold the same config trains on the whole graph.
    assert replace(SMALL, walks=3).walks_for(dataset.graph) == 0
    assert replace(SMALL, sample_from_links=0).walks_for(dataset.graph) == 10


@pytest.mark.parametrize("walks", ["0", "x", "2.5"])
def test_kgrec_train_refuses_walks_that_are_not_a_count(walks: str) -> None:
    outcome = CliRunner().invoke(cli.train_app, ["--walks", walks])
    assert outcome.exit_code == 2
    assert "--walks" in outcome.output


def test_kgrec_train_refuses_fewer_than_one_process() -> None:
    outcome = CliRunner().invoke(cli.train_app, ["--nproc", "0"])
    assert outcome.exit_code == 2
    assert "Invalid value for '--nproc'" in outcome.output
    assert "greater than or equal to 1" in outcome.output
