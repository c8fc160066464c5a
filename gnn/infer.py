"""A trained model loaded from its directory: scores, top-k, and new items embedded from their
text and links without retraining.

Scores are the dot products of the saved final embeddings, so a reloaded model ranks exactly
as it did when trained. A new item runs the model's own layers for one extra node: layer 0 is
its projected text (it has no id embedding), each later layer the relation-weighted, degree-
normalised sum of its neighbours' previous layers (the neighbours' saved layers are reused;
the one extra edge would change them only marginally).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray

from gnn.artifacts import CONFIG, EMBEDDINGS, IDS, ITEM_ITEM, USER_ITEMS, WEIGHTS, resolve_model_dir
from gnn.model import ItemItemTerm, NodeIndex


@dataclass
class LoadedModel:
    path: Path
    config: dict[str, Any]
    ids: dict[str, list[str]]
    users: torch.Tensor  # (n_users, dim)
    items: torch.Tensor  # (n_catalogue_items, dim)
    nodes: torch.Tensor  # every node's final embedding (global node index)
    layers: list[torch.Tensor]  # every node's layers 0 .. L-1 (global node index)
    degrees: dict[str, torch.Tensor]  # relation -> per-node degree (global node index)
    item_projection: torch.Tensor  # (dim, text_dim)
    relation_weights: dict[str, float]
    index: NodeIndex
    # The item-item term (absent from older model directories): scores add
    # item_item_weight * (user's train + valid items, `user_items`) @ item_item.
    item_item: sp.csr_matrix | None = None  # (n_catalogue, n_catalogue): links + EASE weights
    item_item_weight: float = 0.0
    user_items: sp.csr_matrix | None = None  # (n_users, n_catalogue) binary

    @classmethod
    def load(cls, path: Path) -> LoadedModel:
        """Load a model directory, or the newest model under a models directory."""
        path = resolve_model_dir(path)
        config = json.loads((path / CONFIG).read_text())
        weights = torch.load(path / WEIGHTS, map_location="cpu", weights_only=True)
        saved = torch.load(path / EMBEDDINGS, map_location="cpu", weights_only=True)
        return cls(
            path=path,
            config=config,
            ids=json.loads((path / IDS).read_text()),
            users=saved["users"],
            items=saved["items"],
            nodes=saved["nodes"],
            layers=saved["layers"],
            degrees=saved["degrees"],
            item_projection=weights["project.item.weight"],
            relation_weights=dict(
                zip(config["relations"], config["relation_weights"], strict=True)
            ),
            index=NodeIndex(config["num_nodes"]),
            item_item=_load_csr(path / ITEM_ITEM),
            item_item_weight=float(config.get("item_item_weight", 0.0)),
            user_items=_load_csr(path / USER_ITEMS),
        )

    def score(self, users: NDArray[np.int64] | Sequence[int]) -> torch.Tensor:
        """(len(users), n_items) scores over the catalogue: dot products plus the item-item
        term when the model has one (zero for users or items beyond its matrices)."""
        rows = np.asarray(users, dtype=np.int64)
        scores = self.users[torch.from_numpy(rows)] @ self.items.T
        if self.item_item is None or self.user_items is None or not self.item_item_weight:
            return scores
        known = rows < self.user_items.shape[0]
        term = ItemItemTerm(self.item_item, self.item_item_weight)
        added = term.scores(self.user_items[np.where(known, rows, 0)])
        added[torch.from_numpy(~known)] = 0.0
        columns = min(added.shape[1], scores.shape[1])
        scores[:, :columns] = scores[:, :columns] + added[:, :columns]
        return scores

    def recommend(
        self, user_id: str, k: int = 10, exclude: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """The k best catalogue items for a known user, `exclude` (e.g. their items) left out."""
        user = self.ids["user"].index(user_id)
        scores = self.score([user])[0].clone()
        item_index = {item: row for row, item in enumerate(self.ids["item"][: len(self.items)])}
        for item in exclude:
            if item in item_index:
                scores[item_index[item]] = -torch.inf
        values, rows = torch.topk(scores, min(k, len(scores)))
        return [
            (self.ids["item"][row], float(value))
            for row, value in zip(rows.tolist(), values.tolist(), strict=True)
            if value != -torch.inf
        ]

    def embed_new_item(
        self, text_vector: NDArray[np.float32], links: Mapping[str, Sequence[str]]
    ) -> torch.Tensor:
        """Embedding of an item absent from training, from its text vector and its links:
        relation name (`has_brand`, `in_category`, `also_bought`, ...) -> neighbour ids."""
        layer = torch.as_tensor(text_vector, dtype=torch.float32) @ self.item_projection.T
        stack = [layer]
        neighbours = self._neighbours(links)
        for depth in range(len(self.layers)):
            out = torch.zeros_like(layer)
            for relation, nodes in neighbours.items():
                if not len(nodes):
                    continue
                # The new node adds one edge to each neighbour's degree.
                norm = (len(nodes) * (self.degrees[relation][nodes].float() + 1)).rsqrt()
                out += self.relation_weights[relation] * (
                    norm[:, None] * self.layers[depth][nodes]
                ).sum(0)
            stack.append(out)
        mean = torch.stack(stack).mean(dim=0)
        return torch.nn.functional.normalize(mean, dim=0) if self.normalise else mean

    @property
    def normalise(self) -> bool:
        return bool(self.config["model"]["normalise"])

    def _neighbours(self, links: Mapping[str, Sequence[str]]) -> dict[str, torch.Tensor]:
        found: dict[str, torch.Tensor] = {}
        lookup = {
            kind: {node: row for row, node in enumerate(ids)} for kind, ids in self.ids.items()
        }
        for relation, neighbour_ids in links.items():
            if relation not in self.relation_weights:
                continue  # a relation the model was not trained with carries no weight
            source, _, target = self.config["relation_types"][relation]
            other = target if source == "item" else source
            rows = [lookup[other][n] for n in neighbour_ids if n in lookup[other]]
            found[relation] = torch.tensor(rows, dtype=torch.long) + self.index.offset[other]
        return found


def _load_csr(path: Path) -> sp.csr_matrix | None:
    return sp.csr_matrix(sp.load_npz(path)) if path.is_file() else None
