"""Versioned model directories: `<models dir>/<UTC timestamp>-<data fingerprint>/`.

Each holds `weights.pt` (the state dict), `embeddings.pt` (every node's final embedding, users
and catalogue items apart, the layer stack of every node and per-relation degrees: what
`gnn.infer` needs to score and to embed a new item without the training graph), `ids.json`,
`config.json`, `fingerprint.json` (counts and a hash of the id lists and edges), `metrics.json`
and `versions.json` (libraries). The config records the score's `blend` (`gnn.scoring.Blend`:
the GNN, item-link and EASE weights picked on validation); with an item-item term (its weight
`item_item_weight` in the config), `item_item.npz` (the catalogue x catalogue matrix: weighted
item links + EASE weights) and `user_items.npz` (each user's train + valid items, which the
term spreads). Last, `card.json`: the version (the directory's name), when, the parent version,
the data fingerprint, the test metrics (for a retrained model: the evaluation that justified
it) and the sha256 and size of every other file, which `verify_model` checks before a model is
loaded or promoted. A directory is written under a temporary name (`.<version>.partial`) and
renamed when complete, so a reader never sees half a model; `remove_partials` clears those a
killed save left.

Which version serves is the registry's (`gnn.registry`): the `SERVING` pointer in the models
directory names it; `resolve_model_dir` follows it, else takes the newest.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from collections.abc import Callable
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
CARD, SERVING = "card.json", "SERVING"
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


class DamagedModelError(ValueError):
    """A model directory whose files do not match its card; the message names the file."""


def save_model(
    model: KGRecModel,
    dataset: RecDataset,
    config: dict[str, Any],
    metrics: dict[str, Any],
    models_dir: Path,
    *,
    parent: str | None = None,
    evaluation: dict[str, Any] | None = None,
    reports: Callable[[Path], None] | None = None,
) -> Path:
    """Write a complete model directory and return its path. `parent`: the version it was
    trained from (None: from scratch); `evaluation`: what justified a model fitted on all the
    data (`gnn.retrain`), kept in its card; `reports` writes more files (results, plots) into
    the directory before the card, so that the card covers them too."""
    fingerprint = data_fingerprint(dataset)
    created = datetime.now(UTC)
    stamp = created.strftime("%Y%m%dT%H%M%S%fZ")
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
        if reports is not None:
            reports(partial)
        card = {
            "version": final.name,
            "created": created.isoformat(),
            "parent": parent,
            "data": fingerprint,
            # `kgrec train`'s summary holds the served model's test metrics under "ours";
            # benches and tests pass those metrics alone.
            "metrics": metrics.get("ours", metrics),
            **({"evaluation": evaluation} if evaluation is not None else {}),
            "files": {path.name: _checksum(path) for path in sorted(partial.iterdir())},
        }
        _write_json(partial / CARD, card)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def remove_partials(models_dir: Path) -> list[str]:
    """Remove the `.<version>.partial` directories of saves that were killed mid-write, and
    return their names. Only while no save can be running (`kgrec retrain` and `kgrec train`
    hold the retrain lock)."""
    removed = []
    for partial in sorted(models_dir.glob(".*.partial")):
        if partial.is_dir():
            shutil.rmtree(partial)
            removed.append(partial.name)
    return removed


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


def verify_model(path: Path) -> dict[str, Any] | None:
    """The card of model directory `path` once every file it lists has its size and sha256;
    None for a directory saved before cards. DamagedModelError names the first that does not."""
    card_path = path / CARD
    if not card_path.is_file():
        return None
    try:
        card: dict[str, Any] = json.loads(card_path.read_text())
        files: dict[str, dict[str, Any]] = card["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _damaged(path, f"{CARD} is unreadable ({exc})") from None
    for name, expected in files.items():
        file = path / name
        if not file.is_file():
            raise _damaged(path, f"{name} is missing")
        size = file.stat().st_size
        if size != expected["bytes"]:
            raise _damaged(
                path, f"{name} is {size:,} bytes, its card says {expected['bytes']:,} (truncated "
                "or overwritten)"
            )  # fmt: skip
        if _checksum(file)["sha256"] != expected["sha256"]:
            raise _damaged(path, f"{name} does not match its sha256 in {CARD} (changed on disk)")
    return card


def resolve_model_dir(path: Path) -> Path:
    """`path` itself when it is a model directory; else the version its `SERVING` pointer
    names; else the newest model under it."""
    if (path / CONFIG).is_file():
        return path
    version = serving_version(path)
    if version is None:
        return latest_model(path)
    if not (path / version / CONFIG).is_file():
        raise FileNotFoundError(
            f"{path / SERVING} names model {version}, which is not in {path}; serve another "
            "with `kgrec models promote VERSION` (`kgrec models list` shows them)"
        )
    return path / version


def serving_version(models_dir: Path) -> str | None:
    """The version the `SERVING` pointer names; None when there is no pointer."""
    pointer = models_dir / SERVING
    try:
        return str(json.loads(pointer.read_text())["version"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:  # written atomically: edited by hand
        raise ValueError(
            f"{pointer} is unreadable ({exc}); set it again with `kgrec models promote VERSION`"
        ) from None


def latest_model(models_dir: Path) -> Path:
    """The newest complete model directory (names sort by time)."""
    found = sorted(p for p in models_dir.glob("*-*") if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise FileNotFoundError(f"no model in {models_dir}; train one with `kgrec train`")
    return found[-1]


def _checksum(path: Path) -> dict[str, Any]:
    with path.open("rb") as file:  # streamed: a Beauty model's ~450 MB hash in ~0.3 s
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    return {"sha256": digest, "bytes": path.stat().st_size}


def _damaged(path: Path, problem: str) -> DamagedModelError:
    return DamagedModelError(
        f"model {path.name} is damaged: {problem}. It was not loaded. Serve the version served "
        "before it (`kgrec models rollback`) or another (`kgrec models promote VERSION`), or "
        "train a new one (`kgrec train`)."
    )


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
