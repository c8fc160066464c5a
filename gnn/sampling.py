"""Random-walk-sampled mini-batches: a training step estimates its batch's embeddings from a
few random walks out of each seed instead of propagating over the whole graph, so a step costs
the same whatever the graph's size (full-graph steps make an epoch cost interactions x graph
size; docs/scale.md).

The model is linear up to its final normalisation: a node's embedding is the mean over layers
h = 0..L of (A^h x)[node], x its layer 0 (projected text + id embedding). The text part of every
layer is fixed by the text vectors, so it is propagated once a training run
(`KGRecModel.propagated_text`). The id part is estimated: `walks` walks of L steps leave each
seed, each step to a neighbour drawn in proportion to the weight of the link to it; the node
reached at step h stands for layer h, weighted by the product of the row sums (the weights of
all links) of the nodes the walk left, divided by `walks`. That is an unbiased estimate of
(A^h ids)[seed], whose only noise is which nodes are reached (PinSage's and GraphSAINT's
random-walk estimators for our one weighted adjacency; drawing neighbours uniformly instead
weighs each by degree x link weight, which varies from link to link and learned more slowly
on Beauty). A walk at a node without links stays there and weighs 0 from then on, as that
node's later layers do in the full propagation.

Walks are neighbour sampling with fanouts (walks, 1, 1, ...) a seed, not shared between seeds.
They replaced PyG's `NeighborLoader` way (a node keeps a few links at each hop, in one block
shared by the batch): a block covers most of a graph the size of these shops, so a step's
cost grew with the graph, where a walk's does not. Sampling runs on the CPU, as
PyG's does; the walks move to the model's device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch
from torch import Tensor

from gnn.compiled import compiled_loop, use_torch_threads

DEFAULT_WALKS = 10


@dataclass(frozen=True)
class Walks:
    """Per seed (one row each), the nodes standing for its layers and their weights: column 0
    the seed itself (weight 1), then layer h's `walks` nodes reached at step h, for h = 1..L
    (`layers`)."""

    nodes: Tensor
    weights: Tensor
    layers: int

    def to(self, device: torch.device) -> Walks:
        return Walks(self.nodes.to(device), self.weights.to(device), self.layers)


class WalkSampler:
    """Samples `Walks` of `layers` steps, `walks` a seed, over a sparse CSR adjacency (kept on
    the CPU)."""

    def __init__(self, adjacency: Tensor, walks: int, layers: int, seed: int) -> None:
        if walks < 1:
            raise ValueError(f"a seed needs at least 1 walk, not {walks}")
        adjacency = adjacency.cpu()
        self.crow = adjacency.crow_indices()
        self.col = adjacency.col_indices()
        # Link i covers (cumulative[i], cumulative[i + 1]] of its row's span: float64, as the
        # sum runs over every link of the graph.
        self.cumulative = torch.cat([torch.zeros(1, dtype=torch.float64),
                                     torch.cumsum(adjacency.values().double(), 0)])  # fmt: skip
        self.row_sum = (self.cumulative[self.crow[1:]] - self.cumulative[self.crow[:-1]]).float()
        self.walks = walks
        self.layers = layers
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self, seeds: Tensor) -> Walks:
        """The walks out of `seeds` (global node ids)."""
        seeds = seeds.cpu()
        count, width = len(seeds), 1 + self.layers * self.walks
        # Drawn here, from the sampler's torch generator, so that walks repeat with its seed.
        uniforms = torch.rand(self.layers, count * self.walks, generator=self.generator,
                              dtype=torch.float64)  # fmt: skip
        nodes, weights = torch.empty(count, width, dtype=torch.long), torch.empty(count, width)
        nodes[:, 0], weights[:, 0] = seeds, 1
        use_torch_threads()
        _walk(self.crow.numpy(), self.col.numpy(), self.cumulative.numpy(),
              self.row_sum.numpy(), seeds.numpy(), uniforms.numpy(), nodes.numpy(),
              weights.numpy())  # fmt: skip
        return Walks(nodes, weights, self.layers)


@compiled_loop
def _walk(
    crow: np.ndarray, col: np.ndarray, cumulative: np.ndarray, row_sum: np.ndarray,
    seeds: np.ndarray, uniforms: np.ndarray, nodes: np.ndarray, weights: np.ndarray,
) -> None:  # fmt: skip
    """Walk k of seed s fills column 1 + h * walks + k of row s of `nodes` and `weights` for
    each step h, its draws from `uniforms[h, s * walks + k]`."""
    layers = len(uniforms)
    walks = (nodes.shape[1] - 1) // layers
    for walk in numba.prange(len(seeds) * walks):
        seed, k = walk // walks, walk % walks
        here, weight = seeds[seed], 1.0 / walks
        for h in range(layers):
            weight *= row_sum[here]  # no links: 0 from here on
            start, end = crow[here], crow[here + 1]
            if end > start:
                # The link whose span (cumulative[link], cumulative[link + 1]] holds the
                # target: a binary search over this node's links alone, which stay in cache.
                low_sum, high_sum = cumulative[start], cumulative[end]
                target = low_sum + uniforms[h, walk] * (high_sum - low_sum)
                low, high = start, end - 1
                while low < high:
                    middle = (low + high + 1) // 2
                    if cumulative[middle] < target:
                        low = middle
                    else:
                        high = middle - 1
                here = col[low]
            nodes[seed, 1 + h * walks + k] = here
            weights[seed, 1 + h * walks + k] = weight
