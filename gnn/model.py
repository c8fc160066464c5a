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
from typing import Any, NamedTuple, cast

import torch
from torch import Tensor, nn

from gnn.dataset import NODE_TYPES, RELATIONS, TrainingGraph
from gnn.sampling import Walks
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


class _SparseProduct(torch.autograd.Function):
    """`matrix @ x` for a sparse CSR `matrix` whose transpose is given (a symmetric one is its
    own): the backward is the transpose's product, so autograd never transposes a sparse
    matrix."""

    @staticmethod
    def forward(ctx: Any, matrix: Tensor, transposed: Tensor, x: Tensor) -> Tensor:
        ctx.transposed = transposed
        return matrix @ x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor]:
        return None, None, ctx.transposed @ grad


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


class PropagatedText(NamedTuple):
    """`KGRecModel.propagated_text()`: `vectors` holds, for each node, one `text_dim` slot a
    node type in `kinds`."""

    kinds: tuple[str, ...]
    vectors: Tensor


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
        self.text_vectors: dict[str, Tensor] = {}
        self.text_index = torch.empty(0, dtype=torch.long)  # node -> its row of text_vectors
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
        self.text_index = torch.full((self.index.total,), -1, dtype=torch.long)
        for kind in NODE_TYPES:
            rows = features[kind].abs().sum(dim=1).nonzero().squeeze(1)
            self.text_index[rows + self.index.offset[kind]] = torch.arange(len(rows))
            self.text_vectors[kind] = features[kind][rows].to(device)
        self.text_index = self.text_index.to(device)

    def initial(self, nodes: Tensor | None = None) -> Tensor:
        """Layer 0 of every node, or of `nodes` (global ids; their id embeddings' gradient is
        then sparse): projected text + id embedding (zero for nodes not seen in training)."""
        every = nodes is None
        if nodes is None:
            nodes = torch.arange(self.index.total, device=self.id_mask.device)
            ids = self.ids.weight
        else:
            ids = nn.functional.embedding(nodes, self.ids.weight, sparse=True)
        layer = ids * self.id_mask[nodes]
        text = self.text_index[nodes]
        for kind in NODE_TYPES:
            start = self.index.offset[kind]
            is_kind = (nodes >= start) & (nodes < start + self.index.num_nodes[kind])
            with_text = (is_kind & (text >= 0)).nonzero().squeeze(1)
            if len(with_text):
                # Every node: the rows of text_vectors in order, so no copy of them is taken.
                vectors = self.text_vectors[kind]
                projected = self.project[kind](vectors if every else vectors[text[with_text]])
                layer.index_add_(0, with_text, projected)  # in place: no copy a kind
        return layer

    def layers(self) -> list[Tensor]:
        """Every layer's embeddings, layer 0 first."""
        stack = [self.initial()]
        for _ in range(self.config.num_layers):
            stack.append(_SparseProduct.apply(self.adjacency, self.adjacency, stack[-1]))
        return stack

    def propagated_text(self) -> PropagatedText:
        """The text part of every node's layer mean before projection: per node type with
        text, the mean over layers h = 0..L of A^h applied to that type's text vectors, side by
        side in one row a node (`walked` reads a node's row at once). Projecting it gives the
        text part of `forward()` before normalisation, as the propagation and the projection
        are both linear."""
        kinds = tuple(kind for kind, vectors in self.text_vectors.items() if len(vectors))
        width = self.config.text_dim
        mean = torch.zeros(self.index.total, len(kinds) * width, device=self.id_mask.device)
        for slot, kind in enumerate(kinds):
            layer = torch.zeros(self.index.total, width, device=self.id_mask.device)
            kind_rows = self.text_index[self.index.slice(kind)]
            with_text = (kind_rows >= 0).nonzero().squeeze(1)
            layer[with_text + self.index.offset[kind]] = self.text_vectors[kind][
                kind_rows[with_text]
            ]
            part = mean[:, slot * width : (slot + 1) * width]
            part += layer
            for _ in range(self.config.num_layers):
                layer = self.adjacency @ layer
                part += layer
        return PropagatedText(kinds, mean.div_(self.config.num_layers + 1))

    def walked(self, seeds: Tensor, walks: Walks, text: PropagatedText) -> Tensor:
        """The final embeddings of `seeds` (global ids), their id part estimated from `walks`
        (`gnn.sampling`) and their text part read from `text` (`propagated_text()`):
        `forward()[seeds]` in expectation, up to the final normalisation. The id embeddings'
        gradient is sparse: one row a node the walks reached."""
        if walks.layers != self.config.num_layers:
            raise ValueError(f"walks of {walks.layers} steps for {self.config.num_layers} layers")
        rows, local = torch.unique(walks.nodes, return_inverse=True)
        ids = nn.functional.embedding(rows, self.ids.weight, sparse=True)
        weights = walks.weights * self.id_mask[walks.nodes, 0]  # no id: weight 0
        summed = nn.functional.embedding_bag(local, ids, per_sample_weights=weights, mode="sum")
        mean = summed / (self.config.num_layers + 1)
        if text.kinds:  # every type's projection at once, over a seed's row of `text`
            projection = torch.cat([cast(Tensor, self.project[kind].weight) for kind in text.kinds],
                                   dim=1)  # fmt: skip
            mean = mean + text.vectors[seeds] @ projection.T
        return nn.functional.normalize(mean, dim=1) if self.config.normalise else mean

    def output(self, layers: list[Tensor]) -> Tensor:
        mean = sum(layers[1:], layers[0]) / len(layers)  # no stacked copy of every layer
        return nn.functional.normalize(mean, dim=1) if self.config.normalise else mean

    def forward(self) -> Tensor:
        return self.output(self.layers())

    def split(self, embeddings: Tensor) -> tuple[Tensor, Tensor]:
        """(user embeddings, item embeddings) out of all nodes' embeddings."""
        return embeddings[self.index.slice("user")], embeddings[self.index.slice("item")]
