"""A trained model loaded from its directory: scores, top-k, and new items embedded from their
text and links without retraining.

Scores are those of `gnn.scoring` over the saved final embeddings, the saved blend and
item-item term, so a reloaded model ranks exactly as it did when trained. A new item runs the
model's own layers for one extra node: layer 0 is its projected text (it has no id
embedding), each later layer the relation-weighted, degree-normalised sum of its neighbours'
previous layers (the neighbours' saved layers are reused; the one extra edge would change them
only marginally).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray

from gnn.artifacts import (
    CONFIG,
    EMBEDDINGS,
    IDS,
    USER_ITEMS,
    WEIGHTS,
    load_scoring,
    resolve_model_dir,
    verify_model,
)
from gnn.model import NodeIndex
from gnn.scoring import Blend, ItemItemTerm, ModelScorer, Scores

log = logging.getLogger("kgrec.gnn")


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
    blend: Blend  # the score's weights, picked on validation
    # The item-item term (absent from older model directories): spreads each user's train +
    # valid items (`user_items`) over the catalogue.
    item_item: ItemItemTerm | None = None
    user_items: sp.csr_matrix | None = None  # (n_users, n_catalogue) binary

    @classmethod
    def load(cls, path: Path) -> LoadedModel:
        """Load a model directory, or the one a models directory serves (its `SERVING`
        pointer, else the newest). DamagedModelError when a file does not match the card."""
        path = resolve_model_dir(path)
        if verify_model(path) is None:
            log.info("model %s has no card.json (saved before cards): loaded unverified", path.name)
        config = json.loads((path / CONFIG).read_text())
        weights = torch.load(path / WEIGHTS, map_location="cpu", weights_only=True)
        saved = torch.load(path / EMBEDDINGS, map_location="cpu", weights_only=True)
        blend, item_item = load_scoring(path)
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
            blend=blend,
            item_item=item_item,
            user_items=_load_csr(path / USER_ITEMS),
        )

    @cached_property
    def scorer(self) -> ModelScorer:
        """The model's score of known users, as training measured it (built once)."""
        return ModelScorer(
            self.users.numpy(), self.items.numpy(), self.blend, self.item_item, self.user_items,
            self.ids["item"][: len(self.items)],
        )  # fmt: skip

    @cached_property
    def user_row(self) -> dict[str, int]:
        return {user: row for row, user in enumerate(self.ids["user"])}

    @cached_property
    def node_rows(self) -> dict[str, dict[str, int]]:
        """Node type -> id -> row (built once: a new item or a query is embedded per
        request, and building it took ~30 ms on Beauty)."""
        return {kind: {node: row for row, node in enumerate(ids)} for kind, ids in self.ids.items()}

    def score(self, users: NDArray[np.int64] | Sequence[int]) -> Scores:
        """(len(users), n_items) scores over the catalogue."""
        return self.scorer(users)

    def recommend(
        self, user_id: str, k: int = 10, exclude: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """The k best catalogue items for a known user, `exclude` (e.g. their items) left out."""
        scores = self.score([self.user_row[user_id]])[0]
        for item in exclude:
            if (row := self.scorer.item_row.get(item)) is not None:
                scores[row] = -np.inf
        best = np.argsort(-scores, kind="stable")[: min(k, len(scores))]
        return [(self.scorer.item_ids[row], float(scores[row])) for row in best
                if scores[row] != -np.inf]  # fmt: skip

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
        lookup = self.node_rows
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
