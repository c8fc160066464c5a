"""Explanations on Beauty: how many top-10 recommendations carry a valid graph path, and whether
the paths are faithful to the model.

    python bench/explanations.py [--users 500] [--cases 150]

Loads Beauty into a throwaway Neo4j, trains our model (or reuses the one trained on exactly
this data, .kgrec/bench-models/), serves it through the real API app and asks for each sampled
user's top 10 with explanations, found as the API finds them: in its in-memory projection of
the graph (`kg/projection.py`; the table says how many answers came from it and how many from
Neo4j's query). A path is valid when its Browser Cypher, run against Neo4j, returns it; every
served path is replayed. Faithfulness: for sampled (user, item, best explanation) cases, the
explaining path's edges are removed from the graph and the model's user-item score
(`gnn.scoring`: the GNN's dot product and the item-item term, blended) is recomputed over what
is left: same weights, no retraining; the explanation is faithful when the score falls.
Control, side by side: as many random edges of the graph removed instead.
Last line: one JSON object.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import quote

import numpy as np
import scipy.sparse as sp
import torch
import typer
from beauty_setup import beauty_dataset, beauty_graph, trained_model
from fastapi.testclient import TestClient
from pydantic import SecretStr
from rich.console import Console
from rich.progress import track
from rich.table import Table

from api.main import create_app
from gnn.baselines.kg_ease import link_transition
from gnn.dataset import RELATIONS, RecDataset, TrainingGraph
from gnn.model import KGRecModel
from gnn.scoring import blended, cold_offsets
from kg import Graph
from kg.export import relation_name

console = Console(width=140)
TARGETS = {"path_coverage": 0.95, "faithfulness": 0.80}
ADMIN_KEY = SecretStr("bench-explanations-admin-key")
Edges = Sequence[tuple[str, int, int]]  # (relation, source row, target row) of the graph


def shape(explanation: dict[str, Any]) -> str:
    """A path's kind: its item link ('also_bought', ...) or its middle node's label ('brand',
    'category', 'attribute', 'user': another customer)."""
    path = explanation["path"]
    if len(path["nodes"]) == 3:
        return str(path["relationships"][1]["type"]).lower()
    return str(path["nodes"][2]["label"]).lower()


def path_is_in_graph(graph: Graph, explanation: dict[str, Any]) -> bool:
    rows = graph.read(explanation["cypher"])
    wanted = [node["id"] for node in explanation["path"]["nodes"]]
    return any([node["id"] for node in row["p"][::2]] == wanted for row in rows)


class Propagation:
    """Our model's score of a user-item pair (GNN dot product and item-item term) over its graph,
    and over that graph minus some edges. What was learned stays fixed (the GNN's weights,
    EASE's item-item weights); what the graph gives is recomputed: the propagation, the user's
    items the term spreads, and the row-normalised item links."""

    def __init__(self, model: KGRecModel, dataset: RecDataset, final: RecDataset) -> None:
        self.model = model
        self.final = final
        self.rows = {kind: {node: row for row, node in enumerate(ids)}
                     for kind, ids in dataset.ids.items()}  # fmt: skip
        self.term = model.item_item
        links = final.interactions.item_links
        self.links = links if isinstance(links, dict) else {}
        self.base = self._embeddings(self.final.graph)
        self.offsets = cold_offsets(model.blend, final.interactions.train, final.n_items)

    def _embeddings(self, graph: TrainingGraph) -> torch.Tensor:
        self.model.attach(graph, self.final.features)
        with torch.no_grad():
            embeddings: torch.Tensor = self.model()
        return embeddings

    def score(self, user: str, item: str, removed: Edges = ()) -> tuple[float, float]:
        """(the full score, its GNN part) with the `removed` edges gone from the graph."""
        u, i = self.rows["user"][user], self.rows["item"][item]
        embeddings = self.without(removed) if removed else self.base
        offset = self.model.index.offset
        gnn = float(embeddings[offset["user"] + u] @ embeddings[offset["item"] + i])
        term = None if self.term is None else np.array([self.item_item(u, i, removed)], np.float32)
        cold = None if self.offsets is None else self.offsets[i : i + 1]
        score = blended(np.array([gnn], np.float32), term, self.model.blend.vector_weight, cold)
        return float(score[0]), gnn

    def item_item(self, user: int, item: int, removed: Edges) -> float:
        """The term's share of the score: the user's items (those `removed` takes away
        excepted) each add their row of the term's matrix, the item-link part recomputed
        without the removed links."""
        if self.term is None:
            return 0.0
        gone = {b for relation, a, b in removed if relation == "interacted" and a == user}
        items = self.final.interactions.train[user].indices
        history = np.array([m for m in items if m not in gone], dtype=np.int64)
        if not len(history):
            return 0.0
        value = float(self.term.matrix[history, item].sum())
        link = self.model.blend.link
        if link and any(relation in self.links for relation, _, _ in removed):
            changed = self._link_column(history, item, removed) - self._link_column(history, item)
            value += link * changed
        return self.term.weight * value

    def _link_column(self, history: np.ndarray, item: int, removed: Edges = ()) -> float:
        """Sum over `history` of the row-normalised item links into `item`, these links
        (either direction) taken out first; row normalisation is per row, so the history's
        rows are all it needs. A link to a related product outside the catalogue (a random
        control edge, never an explaining one) is not in these matrices: it leaves the GNN
        part only."""
        rows = {}
        for name, matrix in self.links.items():
            block = sp.lil_matrix(matrix[history])
            for relation, a, b in removed:
                if relation == name and max(a, b) < matrix.shape[1]:
                    for source, target in ((a, b), (b, a)):
                        block[np.flatnonzero(history == source), target] = 0
            rows[name] = sp.csr_matrix(block)
        return float(link_transition(rows)[:, item].sum())

    def path_edges(self, explanation: dict[str, Any]) -> Edges:
        """The path's relationships as (relation, source row, target row) of the graph."""
        nodes = explanation["path"]["nodes"]
        found = []
        for rel in explanation["path"]["relationships"]:
            relation = relation_name(rel["type"])
            source_type, _, target_type = RELATIONS[relation]
            ends = [nodes[rel["start"]], nodes[rel["end"]]]
            if ends[0]["label"].lower() != source_type:
                ends.reverse()
            source = self.rows[source_type].get(ends[0]["id"])
            target = self.rows[target_type].get(ends[1]["id"])
            if source is not None and target is not None:
                found.append((relation, source, target))
        return found

    def without(self, edges: Edges) -> torch.Tensor:
        """Embeddings with these edges (either direction) gone from the graph."""
        graph = self.final.graph
        kept = dict(graph.edges)
        for relation, source, target in edges:
            pairs = kept[relation]
            hit = ((pairs[0] == source) & (pairs[1] == target)) | (
                (pairs[0] == target) & (pairs[1] == source)
            )
            kept[relation] = pairs[:, ~hit]
        return self._embeddings(replace(graph, edges=kept))

    def random_edges(self, count: int, rng: np.random.Generator) -> Edges:
        edges = self.final.graph.edges
        names = [name for name in edges if edges[name].shape[1]]
        sizes = np.array([edges[name].shape[1] for name in names], dtype=np.float64)
        chosen = []
        for _ in range(count):
            name = names[rng.choice(len(names), p=sizes / sizes.sum())]
            column = int(rng.integers(edges[name].shape[1]))
            chosen.append((name, int(edges[name][0, column]), int(edges[name][1, column])))
        return chosen


def main(
    users: Annotated[int, typer.Option(help="Sampled users asked for a top 10.")] = 500,
    cases: Annotated[int, typer.Option(help="Sampled explanations tested for faithfulness.")] = 150,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    wipe: Annotated[bool, typer.Option(help="Allow clearing an external/Docker database.")] = False,
) -> None:
    """Path coverage and faithfulness of explanations on Beauty."""
    rng = np.random.default_rng(seed)
    with beauty_graph(console, wipe=wipe) as (settings, graph):
        dataset = beauty_dataset(console, graph, settings)
        model_dir, model, final, _ = trained_model(console, dataset)
        test_users = np.flatnonzero(np.diff(dataset.interactions.test.indptr))
        sample = [dataset.ids["user"][row] for row in rng.choice(test_users, users, replace=False)]
        answers: list[tuple[str, dict[str, Any]]] = []
        started = time.perf_counter()
        # An admin key: the faithfulness check needs every node's id, other customers' too.
        served = settings.model_copy(
            update={"models_dir": model_dir, "api_keys": [ADMIN_KEY], "api_projection": True}
        )
        admin = {"X-API-Key": ADMIN_KEY.get_secret_value()}
        with TestClient(create_app(served), headers=admin) as api:
            for user in track(sample, description="Top 10 with explanations", console=console):
                response = api.get(f"/users/{quote(user, safe='')}/recommendations",
                                   params={"k": 10, "explain": True})  # fmt: skip
                response.raise_for_status()
                answers += [(user, item) for item in response.json()["items"]]
            metrics = api.app.state.service.metrics.registry  # type: ignore[attr-defined]
            sources = {source: metrics.get_sample_value("kgrec_explained_responses_total",
                                                        {"source": source}) or 0.0
                       for source in ("projection", "graph")}  # fmt: skip
        asked_s = time.perf_counter() - started
        explained = [(u, item) for u, item in answers if item["explanations"]]
        valid = replayed = served_paths = 0
        shapes: Counter[str] = Counter()
        for _, item in track(explained, description="Checking each path's Cypher", console=console):
            found = [path_is_in_graph(graph, e) for e in item["explanations"]]
            valid += any(found)
            replayed += sum(found)
            served_paths += len(found)
            shapes[shape(item["explanations"][0])] += 1

    propagation = Propagation(model, dataset, final)
    picked = rng.choice(len(explained), min(cases, len(explained)), replace=False)
    falls: Counter[str] = Counter()
    drops: dict[str, list[float]] = {"explaining": [], "random": []}
    for index in track(picked, description="Removing explaining edges", console=console):
        user, item = explained[index]
        edges = propagation.path_edges(item["explanations"][0])
        if not edges:
            continue  # e.g. only a held-out purchase links them: nothing of the graph to remove
        falls["tested"] += 1
        before, gnn_before = propagation.score(user, item["item_id"])
        after, gnn_after = propagation.score(user, item["item_id"], edges)
        control, _ = propagation.score(
            user, item["item_id"], propagation.random_edges(len(edges), rng)
        )
        falls["explaining"] += after < before
        falls["gnn"] += gnn_after < gnn_before
        falls["random"] += control < before
        drops["explaining"].append(before - after)
        drops["random"].append(before - control)

    coverage = valid / len(answers)
    tested = falls["tested"]
    faithfulness = falls["explaining"] / tested if tested else 0.0
    table = Table(title=f"Explanations on Beauty ({users} users, top 10, model {model_dir.name})")
    for column in ("measure", "value", "target"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("recommendations", f"{len(answers):,}", "")
    table.add_row("  with >= 1 explanation", f"{len(explained) / len(answers):.1%}", "")
    table.add_row("  with >= 1 valid path (Cypher returns it)", f"{coverage:.1%}",
                  f">= {TARGETS['path_coverage']:.0%}")  # fmt: skip
    table.add_row("  explained from the projection / from Neo4j's query",
                  f"{sources['projection']:.0f} / {sources['graph']:.0f}", "")  # fmt: skip
    table.add_row("served paths whose Cypher returns them", f"{replayed:,} of {served_paths:,}",
                  "all, >= 500")  # fmt: skip
    table.add_row("mean ms per top 10 with explanations (in-process)",
                  f"{asked_s / users * 1000:.1f}", "")  # fmt: skip
    for name, count in shapes.most_common():
        table.add_row(f"  best path via {name}", f"{count / len(explained):.1%}", "")
    table.add_row("faithfulness cases tested", f"{tested}", "")
    table.add_row("  score (GNN + item-item term) falls without the explaining edges",
                  f"{faithfulness:.1%}", f">= {TARGETS['faithfulness']:.0%}")  # fmt: skip
    table.add_row("  its GNN part alone falls", f"{falls['gnn'] / max(tested, 1):.1%}", "")
    table.add_row("  control: score falls without as many random edges",
                  f"{falls['random'] / max(tested, 1):.1%}", "")  # fmt: skip
    mean_drops = " / ".join(f"{np.mean(drops[kind]):.4f}" for kind in ("explaining", "random"))
    table.add_row("  mean score drop: explaining edges / random edges", mean_drops, "")
    console.print(table)
    print(json.dumps({"path_coverage": round(coverage, 4), "faithfulness": round(faithfulness, 4),
                      "paths_replayed": replayed, "paths_served": served_paths}))  # fmt: skip


if __name__ == "__main__":
    typer.run(main)
