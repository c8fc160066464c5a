"""Versioned model directories: `<models dir>/<UTC timestamp>-<data fingerprint>/`.

Each holds `weights.pt` (the state dict), `embeddings.pt` (every node's final embedding, users
and catalogue items apart, the layer stack of every node and per-relation degrees: what
`gnn.infer` needs to score and to embed a new item without the training graph), `ids.json`,
`config.json`, `fingerprint.json` (counts and a hash of the id lists and edges), `metrics.json`
and `versions.json` (libraries). The config records the score's `blend` (`gnn.scoring.Blend`:
the GNN, item-link and EASE weights picked on validation); with an item-item term (its weight
`item_item_weight` in the config), `item_item.npz` (the catalogue x catalogue matrix: weighted
item links + EASE weights) and `user_items.npz` (each user's train + valid items, which the
term spreads). A directory is written under a temporary name and renamed when
complete, so a reader never sees half a model.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import scipy.sparse as sp
import torch

from gnn.dataset import RELATIONS, RecDataset
from gnn.model import KGRecModel, relation_adjacency
from gnn.scoring import Blend, ItemItemTerm

WEIGHTS, EMBEDDINGS, IDS = "weights.pt", "embeddings.pt", "ids.json"
CONFIG, FINGERPRINT, METRICS, VERSIONS = (
    "config.json", "fingerprint.json", "metrics.json", "versions.json",
)  # fmt: skip
ITEM_ITEM, USER_ITEMS = "item_item.npz", "user_items.npz"
LIBRARIES = ("torch", "torch-geometric", "numpy", "scipy", "sentence-transformers", "kgrec")


def data_fingerprint(dataset: RecDataset) -> dict[str, Any]:
    """Counts plus one hash over the id lists, the training edges and the split, so two models
    share a fingerprint only when trained on the same data."""
    digest = hashlib.sha256()
    for kind, ids in sorted(dataset.ids.items()):
        digest.update(kind.encode())
        digest.update("\0".join(ids).encode())
    for relation, edges in sorted(dataset.graph.edges.items()):
        digest.update(relation.encode())
        digest.update(edges.numpy().tobytes())
    for name in ("valid", "test"):
        matrix = getattr(dataset.interactions, name)
        digest.update(matrix.indptr.tobytes())
        digest.update(matrix.indices.tobytes())
    return {
        "hash": digest.hexdigest(),
        "nodes": {kind: len(ids) for kind, ids in dataset.ids.items()},
        "catalogue_items": dataset.n_items,
        "edges": {relation: int(edges.shape[1]) for relation, edges in dataset.graph.edges.items()},
        "interactions": {
            name: int(getattr(dataset.interactions, name).nnz)
            for name in ("train", "valid", "test")
        },
        "split": dataset.split,
    }


def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for library in LIBRARIES:
        try:
            found[library] = version(library)
        except PackageNotFoundError:
            found[library] = "not installed"
    return found


def relation_degrees(dataset: RecDataset, model: KGRecModel) -> dict[str, torch.Tensor]:
    """Per relation, each node's number of neighbours in the training graph."""
    degrees = {}
    for relation in model.relations:
        rows, _, _ = relation_adjacency(dataset.graph, model.index, relation)
        degrees[relation] = torch.bincount(rows, minlength=model.index.total)
    return degrees


def save_model(
    model: KGRecModel,
    dataset: RecDataset,
    config: dict[str, Any],
    metrics: dict[str, Any],
    models_dir: Path,
) -> Path:
    """Write a complete model directory and return its path."""
    fingerprint = data_fingerprint(dataset)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    final = models_dir / f"{stamp}-{fingerprint['hash'][:10]}"
    partial = models_dir / f".{final.name}.partial"
    partial.mkdir(parents=True)
    try:
        model.eval()
        with torch.no_grad():
            layers = model.layers()
            nodes = model.output(layers)
            users, items = model.split(nodes)
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, partial / WEIGHTS)
        torch.save(
            {
                "users": users.cpu(),
                "items": items[: dataset.n_items].cpu(),
                # Every node's final embedding: explanations rank paths by it.
                "nodes": nodes.cpu(),
                # A new node's last layer reads its neighbours' earlier layers only.
                "layers": [layer.cpu() for layer in layers[:-1]],
                "degrees": relation_degrees(dataset, model),
            },
            partial / EMBEDDINGS,
        )
        (partial / IDS).write_text(json.dumps(dataset.ids))
        full_config = {
            **config,
            "relations": model.relations,
            "relation_types": {name: RELATIONS[name] for name in model.relations},
            "relation_weights": [model.config.weight(name) for name in model.relations],
            "num_nodes": model.index.num_nodes,
            "catalogue_items": dataset.n_items,
            "blend": model.blend.to_dict(),
            "item_item_weight": model.item_item.weight if model.item_item else 0.0,
        }
        if model.item_item is not None:
            matrix = sp.csr_matrix(model.item_item.matrix)
            sp.save_npz(partial / ITEM_ITEM, matrix, compressed=False)
            history = sp.csr_matrix(dataset.interactions.train_full)
            sp.save_npz(partial / USER_ITEMS, history, compressed=False)
        _write_json(partial / CONFIG, full_config)
        _write_json(partial / FINGERPRINT, fingerprint)
        _write_json(partial / METRICS, metrics)
        _write_json(partial / VERSIONS, library_versions())
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def find_model(models_dir: Path, dataset: RecDataset, config: dict[str, Any]) -> Path | None:
    """The newest model trained on exactly this data with this training configuration."""
    fingerprint = data_fingerprint(dataset)["hash"]
    wanted = json.loads(json.dumps(config))  # as config.json holds it (tuples become lists)
    for path in sorted(models_dir.glob(f"*-{fingerprint[:10]}"), reverse=True):
        saved = json.loads((path / CONFIG).read_text())
        same_data = json.loads((path / FINGERPRINT).read_text())["hash"] == fingerprint
        if same_data and {key: saved.get(key) for key in wanted} == wanted:
            return path
    return None


def load_scoring(path: Path) -> tuple[Blend, ItemItemTerm | None]:
    """The blend and the item-item term (None when it has none) saved in model directory
    `path`."""
    config = json.loads((path / CONFIG).read_text())
    if not (path / ITEM_ITEM).is_file():
        return Blend.from_config(config), None
    term = ItemItemTerm(
        sp.csr_matrix(sp.load_npz(path / ITEM_ITEM)), float(config.get("item_item_weight", 1.0))
    )
    return Blend.from_config(config), term


def resolve_model_dir(path: Path) -> Path:
    """`path` itself when it is a model directory, else the newest model under it."""
    return path if (path / CONFIG).is_file() else latest_model(path)


def latest_model(models_dir: Path) -> Path:
    """The newest complete model directory (names sort by time)."""
    found = sorted(p for p in models_dir.glob("*-*") if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise FileNotFoundError(f"no model in {models_dir}; train one with `kgrec train`")
    return found[-1]


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
