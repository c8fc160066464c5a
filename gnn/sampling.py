"""Neighbour-sampled mini-batches: a training step propagates over its batch's sampled
neighbourhood instead of the whole graph, so a step's cost is bounded by its batch and fanouts
rather than by the graph (full-graph steps make an epoch cost interactions x graph size; the
bound is reached once the graph is much larger than a block, docs/scale.md).

Each node of the neighbourhood keeps at most `fanout` of its links: all of them when it has no
more, else `fanout` drawn uniformly with replacement, each weighted by degree / fanout, so that
a sampled layer's sum is an unbiased estimate of the full layer's. It is PyG's neighbour
sampling for our propagation (one weighted adjacency over every relation), written in torch:
PyG's `NeighborLoader` needs pyg-lib or torch-sparse, which no registry this project installs
from serves as a wheel. Sampling runs on the CPU, as PyG's does; the block moves to the model's
device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def default_fanouts(layers: int) -> tuple[int, ...]:
    """The links a node keeps unless told otherwise: 10 at the first hop, 5 at the next."""
    return (10,) + (5,) * (layers - 1) if layers else ()


@dataclass(frozen=True)
class Block:
    """The computation graph of one step. `nodes` (global ids) are ordered by hop: the first
    `ends[0]` are the seeds, the first `ends[h]` those within h hops. `rows`/`cols` (local
    positions in `nodes`) and `values` are the sampled weighted links of every node within
    `len(ends) - 2` hops, sorted by row, the first `edge_ends[h]` of them those of the nodes
    within h hops; a node's links lead one hop further."""

    nodes: Tensor
    ends: list[int]
    rows: Tensor
    cols: Tensor
    values: Tensor
    edge_ends: list[int]

    def to(self, device: torch.device) -> Block:
        return Block(self.nodes.to(device), self.ends, self.rows.to(device),
                     self.cols.to(device), self.values.to(device), self.edge_ends)  # fmt: skip


class NeighbourSampler:
    """Samples `Block`s from a sparse CSR adjacency (kept on the CPU), `fanouts[h]` links a node
    at hop h, one hop per propagation layer."""

    def __init__(self, adjacency: Tensor, fanouts: tuple[int, ...], seed: int) -> None:
        if any(fanout < 1 for fanout in fanouts):
            raise ValueError(f"every fanout must be at least 1, not {fanouts}")
        adjacency = adjacency.cpu()
        self.crow = adjacency.crow_indices()
        self.col = adjacency.col_indices()
        self.values = adjacency.values()
        self.fanouts = fanouts
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self, seeds: Tensor) -> Block:
        """The block of `seeds` (distinct global node ids)."""
        nodes, ends, edge_ends = seeds.cpu(), [len(seeds)], [0]
        rows, cols, values = [], [], []
        frontier_start = 0
        for fanout in self.fanouts:
            owner, neighbours, weights = self._links(nodes[frontier_start:], fanout)
            nodes, local = _extended(nodes, neighbours)
            rows.append(owner + frontier_start)
            cols.append(local)
            values.append(weights)
            edge_ends.append(edge_ends[-1] + len(owner))
            frontier_start = ends[-1]
            ends.append(len(nodes))
        empty = torch.empty(0, dtype=torch.long)
        return Block(nodes, ends, torch.cat(rows) if rows else empty,
                     torch.cat(cols) if cols else empty,
                     torch.cat(values) if values else torch.empty(0), edge_ends[1:])  # fmt: skip

    def _links(self, frontier: Tensor, fanout: int) -> tuple[Tensor, Tensor, Tensor]:
        """(owner position in `frontier`, neighbour id, weight) of every sampled link."""
        start = self.crow[frontier]
        degree = self.crow[frontier + 1] - start
        taken = degree.clamp(max=fanout)
        owner = torch.repeat_interleave(torch.arange(len(frontier)), taken)
        # A row with no more than `fanout` links keeps them all, in order; a longer one draws.
        first = torch.cumsum(taken, 0) - taken
        in_order = torch.arange(len(owner)) - first[owner]
        drawn = (torch.rand(len(owner), generator=self.generator) * degree[owner]).long()
        position = torch.where((degree > fanout)[owner], drawn, in_order)
        link = start[owner] + position
        scale = degree.float() / taken.clamp(min=1).float()
        return owner, self.col[link], self.values[link] * scale[owner]


def _extended(nodes: Tensor, found: Tensor) -> tuple[Tensor, Tensor]:
    """`nodes` with the ids of `found` they lack appended (in id order), and the position of
    each of `found` in the result."""
    known = len(nodes)
    distinct, inverse = torch.unique(torch.cat([nodes, found]), return_inverse=True)
    is_known = torch.zeros(len(distinct), dtype=torch.bool)
    is_known[inverse[:known]] = True
    position = torch.empty(len(distinct), dtype=torch.long)
    position[inverse[:known]] = torch.arange(known)
    fresh = ~is_known
    position[fresh] = known + torch.arange(int(fresh.sum()))
    return torch.cat([nodes, distinct[fresh]]), position[inverse[known:]]
