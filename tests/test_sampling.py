"""Neighbour-sampled mini-batches (`gnn.sampling`): a block whose fanouts cover every link
propagates exactly what the full graph does; smaller fanouts estimate it without bias; a
data-parallel step sums the processes' sparse id gradients."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch.multiprocessing.spawn import spawn

from gnn.collective import summed_sparse
from gnn.dataset import TrainingGraph
from gnn.model import KGRecModel, ModelConfig
from gnn.sampling import NeighbourSampler, _extended
from kg.provision import free_port

TEXT_DIM = 8


def random_model(num_layers: int, seed: int = 0) -> KGRecModel:
    """A model over a random graph: 40 users, 30 items (half with text), 4 brands, 5
    categories, users of very different degrees."""
    generator = torch.Generator().manual_seed(seed)
    num_nodes = {"user": 40, "item": 30, "brand": 4, "category": 5, "attribute": 0}

    def links(count: int, sources: int, targets: int) -> torch.Tensor:
        return torch.stack([torch.randint(sources, (count,), generator=generator),
                            torch.randint(targets, (count,), generator=generator)])  # fmt: skip

    edges = {"interacted": links(300, 40, 30), "has_brand": links(30, 30, 4),
             "in_category": links(45, 30, 5), "also_bought": links(60, 30, 30)}  # fmt: skip
    features = {kind: torch.zeros(count, TEXT_DIM) for kind, count in num_nodes.items()}
    features["item"][::2] = torch.randn(15, TEXT_DIM, generator=generator)
    config = ModelConfig(dim=6, num_layers=num_layers, text_dim=TEXT_DIM, normalise=False,
                         relation_weights={"also_bought": 0.5})  # fmt: skip
    torch.manual_seed(seed)
    total = sum(num_nodes.values())
    model = KGRecModel(config, num_nodes, list(edges), torch.rand(total) > 0.2)
    model.attach(TrainingGraph(num_nodes, edges), features)
    return model


def seeds(model: KGRecModel) -> torch.Tensor:
    return torch.tensor([0, 3, 17, model.index.offset["item"] + 2, model.index.offset["brand"]])


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_fanouts_that_cover_every_link_propagate_exactly(num_layers: int) -> None:
    model = random_model(num_layers)
    widest = int((model.adjacency.crow_indices().diff()).max())
    sampler = NeighbourSampler(model.adjacency, (widest,) * num_layers, seed=0)
    chosen = seeds(model)
    with torch.no_grad():
        torch.testing.assert_close(model.sampled(sampler.sample(chosen)), model()[chosen])


def test_small_fanouts_estimate_the_full_propagation_without_bias() -> None:
    model = random_model(2)
    sampler = NeighbourSampler(model.adjacency, (2, 3), seed=0)
    chosen = seeds(model)
    with torch.no_grad():
        exact = model()[chosen]
        draws = torch.stack([model.sampled(sampler.sample(chosen)) for _ in range(4000)])
    spread = draws.std(dim=0) / 4000**0.5  # the standard error of the mean of the draws
    assert (draws.std(dim=0) > 0).any()  # the fanouts do sample
    assert ((draws.mean(dim=0) - exact).abs() <= 5 * spread + 1e-6).all()


def test_a_block_orders_its_nodes_by_hop_and_links_each_node_once() -> None:
    model = random_model(2)
    block = NeighbourSampler(model.adjacency, (2, 3), seed=0).sample(seeds(model))
    assert block.ends[0] == 5 and block.ends[0] <= block.ends[1] <= block.ends[2]
    assert len(set(block.nodes.tolist())) == len(block.nodes)
    torch.testing.assert_close(block.nodes[:5], seeds(model))
    assert bool((block.rows[:-1] <= block.rows[1:]).all())  # sorted by row
    assert int(block.rows[: block.edge_ends[0]].max()) < block.ends[0]
    assert int(block.cols[: block.edge_ends[0]].max()) < block.ends[1]
    assert int(block.cols.max()) < block.ends[2]
    degree = model.adjacency.crow_indices().diff()[block.nodes[: block.ends[1]]]
    links = torch.bincount(block.rows, minlength=block.ends[1])
    expected = torch.cat([degree[:5].clamp(max=2), degree[5:].clamp(max=3)])
    torch.testing.assert_close(links, expected)


def test_extended_appends_only_the_new_ids() -> None:
    nodes, positions = _extended(torch.tensor([7, 2, 9]), torch.tensor([9, 4, 2, 4, 1]))
    assert nodes.tolist() == [7, 2, 9, 1, 4]
    assert positions.tolist() == [2, 4, 1, 4, 3]


def test_a_fanout_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        NeighbourSampler(random_model(2).adjacency, (4, 0), seed=0)


def test_a_block_for_another_depth_is_refused() -> None:
    model = random_model(2)
    block = NeighbourSampler(model.adjacency, (4,), seed=0).sample(seeds(model))
    with pytest.raises(ValueError, match="1 hops for 2 layers"):
        model.sampled(block)


def _sum_in_process(rank: int, world: int, port: int, out: Path) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        rows = [[0, 3], [3, 5, 6]][rank]  # row 3 in both, the others in one
        values = torch.full((len(rows), 2), float(rank + 1))
        grad = torch.sparse_coo_tensor(torch.tensor([rows]), values, (8, 2))
        torch.save(summed_sparse(grad).to_dense(), out / f"{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_sparse_gradients_are_summed_over_processes(tmp_path: Path) -> None:
    spawn(_sum_in_process, args=(2, free_port(), tmp_path), nprocs=2)  # type: ignore[no-untyped-call]
    expected = torch.zeros(8, 2)
    expected[[0]] = 1.0
    expected[3] = 3.0
    expected[[5, 6]] = 2.0
    for rank in (0, 1):
        torch.testing.assert_close(torch.load(tmp_path / f"{rank}.pt"), expected)
