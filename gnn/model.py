"""The GNN: LightGCN-style propagation over the typed edges of the knowledge graph.

Every node starts from a projection of its text vector (one linear map per node type) plus a
learnable id embedding when it was seen in training; items unseen in training (cold items, new
items) start from text alone, so they are embeddable from their text and links (inductive).
Each layer applies the relation-weighted sum of every relation's symmetrically normalised
adjacency (per-relation degrees, so 900k also_bought links do not drown 150k purchases) to the
previous layer; the output is the mean of the layers. Scores are dot products. The relation
weights are hyper-parameters, not learned: that keeps one sparse product per layer (a product
per relation costs ~0.1 s each on 2 cores, whatever its size), so full-graph training is fast
on the CPU without compiled extras.

The served score (`gnn.scoring`) blends the dot products with an item-item term: the user's
items propagated one step over a catalogue x catalogue matrix, a weighted sum of the
row-normalised item-item links (also_bought, also_viewed, bought_together, and items sharing a
related product: the propagation KG-EASE adds to EASE) and of EASE's item-item weights (what
users bought together, which the GNN's smoothed embeddings blur). The blend's weights, the
GNN's included, are picked on validation after training.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from gnn.dataset import NODE_TYPES, RELATIONS, TrainingGraph
from gnn.scoring import Blend, ItemItemTerm


@dataclass(frozen=True)
class ModelConfig:
    dim: int = 128
    num_layers: int = 2
    text_dim: int = 384
    id_init_std: float = 0.1
    relation_weights: dict[str, float] = field(default_factory=dict)  # absent: 1.0
    normalise: bool = True  # L2-normalise final embeddings (scores are then cosines)

    def weight(self, relation: str) -> float:
        return self.relation_weights.get(relation, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class NodeIndex:
    """One global index over all node types: `offset[type] + local index`."""

    def __init__(self, num_nodes: dict[str, int]) -> None:
        self.num_nodes = {kind: num_nodes[kind] for kind in NODE_TYPES}
        self.offset: dict[str, int] = {}
        total = 0
        for kind in NODE_TYPES:
            self.offset[kind] = total
            total += self.num_nodes[kind]
        self.total = total

    def slice(self, kind: str) -> slice:
        return slice(self.offset[kind], self.offset[kind] + self.num_nodes[kind])


class _SymmetricSpMM(torch.autograd.Function):
    """`adjacency @ x` for a symmetric sparse CSR adjacency: the backward is the same product
    (so autograd never has to transpose the sparse matrix)."""

    @staticmethod
    def forward(ctx: Any, adjacency: Tensor, x: Tensor) -> Tensor:
        ctx.adjacency = adjacency
        return adjacency @ x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor]:
        return None, ctx.adjacency @ grad


def relation_adjacency(
    graph: TrainingGraph, index: NodeIndex, relation: str
) -> tuple[Tensor, Tensor, Tensor]:
    """(rows, cols, values) of D^-1/2 A D^-1/2 of one relation made undirected."""
    source_type, _, target_type = RELATIONS[relation]
    edges = graph.edges[relation]
    source = edges[0] + index.offset[source_type]
    target = edges[1] + index.offset[target_type]
    # Duplicates (a link in both directions) collapse to one edge.
    key = torch.unique(torch.cat([source * index.total + target, target * index.total + source]))
    rows, cols = key // index.total, key % index.total
    inverse_sqrt = torch.bincount(rows, minlength=index.total).float().clamp(min=1).rsqrt()
    return rows, cols, inverse_sqrt[rows] * inverse_sqrt[cols]


def combined_adjacency(graph: TrainingGraph, index: NodeIndex, weights: dict[str, float]) -> Tensor:
    """Σ_r weight_r · Â_r as one N x N sparse CSR tensor (symmetric)."""
    parts = [relation_adjacency(graph, index, relation) for relation in weights]
    rows = torch.cat([part[0] for part in parts])
    cols = torch.cat([part[1] for part in parts])
    values = torch.cat([weights[r] * part[2] for r, part in zip(weights, parts, strict=True)])
    coo = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values, (index.total, index.total), check_invariants=False
    )
    with warnings.catch_warnings():  # "sparse CSR support is in beta": it is what we want
        warnings.simplefilter("ignore", UserWarning)
        return coo.coalesce().to_sparse_csr()


class KGRecModel(nn.Module):
    """`forward()` -> final embeddings of every node (N x dim); `layers()` the layer stack."""

    def __init__(
        self,
        config: ModelConfig,
        num_nodes: dict[str, int],
        relations: list[str],
        id_mask: Tensor,
    ) -> None:
        super().__init__()
        self.config = config
        self.index = NodeIndex(num_nodes)
        self.relations = list(relations)
        self.project = nn.ModuleDict(
            {kind: nn.Linear(config.text_dim, config.dim, bias=False) for kind in NODE_TYPES}
        )
        self.ids = nn.Embedding(self.index.total, config.dim)
        nn.init.normal_(self.ids.weight, std=config.id_init_std)
        self.id_mask: Tensor
        self.register_buffer("id_mask", id_mask.float().unsqueeze(1))
        self.adjacency = torch.empty(0)
        self.text_rows: dict[str, Tensor] = {}
        self.text_vectors: dict[str, Tensor] = {}
        # The blend validation picked and its item-item term (None: the blend has none).
        self.blend = Blend()
        self.item_item: ItemItemTerm | None = None

    def attach(self, graph: TrainingGraph, features: dict[str, Tensor]) -> None:
        """Bind the graph and text vectors this model propagates over (not saved as weights).
        Only nodes with text are projected: most item nodes of a catalogue with related-product
        stubs have none."""
        device = self.ids.weight.device
        weights = {relation: self.config.weight(relation) for relation in self.relations}
        self.adjacency = combined_adjacency(graph, self.index, weights).to(device)
        for kind in NODE_TYPES:
            rows = features[kind].abs().sum(dim=1).nonzero().squeeze(1)
            self.text_rows[kind] = (rows + self.index.offset[kind]).to(device)
            self.text_vectors[kind] = features[kind][rows].to(device)

    def initial(self) -> Tensor:
        """Layer 0: projected text + id embedding (zero for nodes not seen in training)."""
        layer = self.ids.weight * self.id_mask
        for kind in NODE_TYPES:
            if len(self.text_rows[kind]):
                projected = self.project[kind](self.text_vectors[kind])
                layer = layer.index_add(0, self.text_rows[kind], projected)
        return layer

    def layers(self) -> list[Tensor]:
        """Every layer's embeddings, layer 0 first."""
        stack = [self.initial()]
        for _ in range(self.config.num_layers):
            stack.append(_SymmetricSpMM.apply(self.adjacency, stack[-1]))
        return stack

    def output(self, layers: list[Tensor]) -> Tensor:
        mean = torch.stack(layers).mean(dim=0)
        return nn.functional.normalize(mean, dim=1) if self.config.normalise else mean

    def forward(self) -> Tensor:
        return self.output(self.layers())

    def split(self, embeddings: Tensor) -> tuple[Tensor, Tensor]:
        """(user embeddings, item embeddings) out of all nodes' embeddings."""
        return embeddings[self.index.slice("user")], embeddings[self.index.slice("item")]
