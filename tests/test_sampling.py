"""Random-walk-sampled mini-batches (`gnn.sampling`): walks estimate the full propagation
without bias, and exactly where a node has at most one link; their epochs keep a user's pairs
together a chunk at a time; a data-parallel step sums the processes' sparse id gradients."""

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
from gnn.sampling import WalkSampler
from gnn.train import epoch_order
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


def walked(model: KGRecModel, sampler: WalkSampler, chosen: torch.Tensor) -> torch.Tensor:
    return model.walked(chosen, sampler.sample(chosen), model.propagated_text())


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_walks_estimate_the_full_propagation_without_bias(num_layers: int) -> None:
    model = random_model(num_layers)
    sampler = WalkSampler(model.adjacency, 3, num_layers, seed=0)
    chosen = seeds(model)
    with torch.no_grad():
        exact = model()[chosen]
        draws = torch.stack([walked(model, sampler, chosen) for _ in range(4000)])
    spread = draws.std(dim=0) / 4000**0.5  # the standard error of the mean of the draws
    assert (draws.std(dim=0) > 0).any()  # the walks do sample
    assert ((draws.mean(dim=0) - exact).abs() <= 5 * spread + 1e-6).all()


def test_nodes_with_one_link_or_none_are_walked_exactly() -> None:
    """Users 0-2 bought items 0-2, one each, and item 0 has a brand; user 3 bought nothing:
    every walk from users 1-3 is forced (user 3's stops at once), item 0's are not."""
    num_nodes = {"user": 4, "item": 3, "brand": 1, "category": 0, "attribute": 0}
    edges = {"interacted": torch.tensor([[0, 1, 2], [0, 1, 2]]),
             "has_brand": torch.tensor([[0], [0]])}  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    features = {kind: torch.randn(count, TEXT_DIM, generator=generator)
                for kind, count in num_nodes.items()}  # fmt: skip
    config = ModelConfig(dim=4, num_layers=2, text_dim=TEXT_DIM, normalise=False)
    model = KGRecModel(config, num_nodes, list(edges), torch.ones(8, dtype=torch.bool))
    model.attach(TrainingGraph(num_nodes, edges), features)
    forced, item = torch.tensor([1, 2, 3]), torch.tensor([model.index.offset["item"]])
    sampler = WalkSampler(model.adjacency, 4, 2, seed=0)
    with torch.no_grad():
        torch.testing.assert_close(walked(model, sampler, forced), model()[forced])
        draws = [walked(model, sampler, item) for _ in range(10)]
        assert not all(torch.allclose(draw, model()[item]) for draw in draws)
    walks = sampler.sample(torch.tensor([3]))
    assert walks.nodes.tolist() == [[3] * 9]  # no links: it stays, weighing 0
    assert walks.weights.tolist() == [[1.0] + [0.0] * 8]


def test_each_walk_steps_along_links() -> None:
    model = random_model(2)
    chosen = seeds(model)
    walks = WalkSampler(model.adjacency, 3, 2, seed=0).sample(chosen)
    assert walks.nodes.shape == walks.weights.shape == (5, 7)
    torch.testing.assert_close(walks.nodes[:, 0], chosen)
    linked = model.adjacency.to_dense() != 0
    for before, after in ((walks.nodes[:, :1].expand(5, 3), walks.nodes[:, 1:4]),
                          (walks.nodes[:, 1:4], walks.nodes[:, 4:])):  # fmt: skip
        assert bool(linked[before, after].all())
    assert bool((walks.weights[:, 1:] > 0).all())


def test_a_step_draws_a_link_in_proportion_to_its_weight() -> None:
    """Node 0 links to node 1 (weight 0.1) and node 2 (0.3): a step from it reaches node 2
    three times in four, and every walk weighs the row's sum, 0.4, over the walks."""
    links = torch.tensor([[0, 0, 1, 2], [1, 2, 0, 0]])
    weights = torch.tensor([0.1, 0.3, 0.1, 0.3])
    adjacency = torch.sparse_coo_tensor(links, weights, (3, 3), check_invariants=True)
    walks = WalkSampler(adjacency.to_sparse_csr(), 20000, 1, seed=0).sample(torch.tensor([0]))
    reached = walks.nodes[0, 1:]
    assert set(reached.tolist()) == {1, 2}
    assert abs(float((reached == 2).float().mean()) - 0.75) < 0.015  # 0.003 standard error
    torch.testing.assert_close(walks.weights[0, 1:], torch.full((20000,), 0.4 / 20000))


def user_runs(users: torch.Tensor, order: torch.Tensor) -> dict[int, int]:
    """How many separate runs of consecutive pairs each user's pairs take in `order`."""
    taken = users[order]
    starts = torch.cat([torch.tensor([True]), taken[1:] != taken[:-1]])
    return {user: int((starts & (taken == user)).sum()) for user in torch.unique(users).tolist()}


@pytest.mark.parametrize("user_chunk", [3, 1000])
def test_walk_sampled_epochs_keep_a_users_pairs_together_a_chunk_at_a_time(user_chunk: int) -> None:
    generator = torch.Generator().manual_seed(0)
    users = torch.randint(50, (400,), generator=generator).sort().values  # as `_pairs` has them
    pairs = torch.stack([users, torch.randint(30, (400,), generator=generator)])

    orders = [epoch_order(pairs, generator, user_chunk) for _ in range(2)]

    for order in orders:
        assert torch.equal(order.sort().values, torch.arange(400))
        runs = user_runs(users, order)
        for user, count in runs.items():
            assert count <= -(-int((users == user).sum()) // user_chunk)
        assert max(runs.values()) > 1 or user_chunk == 1000  # chunks, not whole users
    assert not torch.equal(users[orders[0]], users[orders[1]])  # reshuffled each epoch
    assert len(epoch_order(pairs[:, :0], generator, user_chunk)) == 0


def test_a_user_chunk_of_one_takes_the_pairs_at_random() -> None:
    pairs = torch.stack([torch.arange(100) // 10, torch.arange(100) % 7])
    order = epoch_order(pairs, torch.Generator().manual_seed(3), 1)
    assert torch.equal(order, torch.randperm(100, generator=torch.Generator().manual_seed(3)))
    assert max(user_runs(pairs[0], order).values()) > 3
    with pytest.raises(ValueError, match="user_chunk must be at least 1"):
        epoch_order(pairs, torch.Generator(), 0)


def test_fewer_than_one_walk_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 walk"):
        WalkSampler(random_model(2).adjacency, 0, 2, seed=0)


def test_walks_for_another_depth_are_refused() -> None:
    model = random_model(2)
    walks = WalkSampler(model.adjacency, 4, 1, seed=0).sample(seeds(model))
    with pytest.raises(ValueError, match="walks of 1 steps for 2 layers"):
        model.walked(seeds(model), walks, model.propagated_text())


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
