"""Exact top-k against the HNSW index (`api/ann.py`): where the index starts to pay, and what it
costs in recall.

    python bench/ann.py [--model DIR] [--sizes 12000,48000,192000,768000] [--queries 300]

Both sides are the API's own ranking (`Recommender.top_k`), side by side in this process:

- served rankings: the Beauty benchmark's model (trained if missing; or `--model`), each of
  up to 1000 users ranked as GET /users/{id}/recommendations ranks them (their vector, their
  history's item-item term, the cold offsets, seen items left out), once over every item and
  once over the candidates the index and the term propose; recall@10 of the second against
  the first, and the time per ranking.
- catalogue sizes: catalogues of each size made from the model's item embeddings (each new
  item a random mix of two real ones plus noise of the embeddings' own spread), ranked for
  the model's user vectors; per size the index's build time and memory, the exact and the
  indexed p50 per ranking, and recall@10. The break-even is where the two p50 curves cross
  (interpolated between sizes on a log scale); `KGREC_API_ANN_MIN_ITEMS` defaults near it.

A table per part, a PNG of time against size (bench/results/ann.png); last line, one JSON
object: {"sizes", "exact_p50_ms", "ann_p50_ms", "recall_at_10", "build_s",
"break_even_items", "served_recall_at_10", "served_exact_p50_ms", "served_ann_p50_ms"}.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated

import matplotlib
import numpy as np
import typer
from beauty_setup import beauty_dataset, beauty_graph, trained_model
from rich.console import Console
from rich.progress import track
from rich.table import Table

from api.ann import ItemIndex
from api.engine import Recommender, Vector
from gnn.infer import LoadedModel

matplotlib.use("Agg")
import matplotlib.pyplot as plt

console = Console(width=140)
RESULTS = Path(__file__).parent / "results"
K = 10
SERVED_USERS = 1000
SEED = 0


Ranking = list[tuple[str, float]]


def p50_ms(rank: Callable[[int], Ranking], queries: int) -> tuple[float, list[Ranking]]:
    """Median milliseconds per ranking over the queries, and the rankings."""
    took, ranked = [], []
    for query in range(queries):
        began = time.perf_counter()
        ranked.append(rank(query))
        took.append(time.perf_counter() - began)
    return float(np.median(took)) * 1000, ranked


def recall(
    approximate: list[list[tuple[str, float]]], exact: list[list[tuple[str, float]]]
) -> float:
    hits = [len({i for i, _ in a} & {i for i, _ in e}) / max(len(e), 1)
            for a, e in zip(approximate, exact, strict=True)]  # fmt: skip
    return float(np.mean(hits))


def served(model: LoadedModel) -> dict[str, float]:
    """Users ranked as the API ranks them, exactly and through the index."""
    exact, indexed = Recommender(model), Recommender(model, ann_min_items=0)
    assert model.user_items is not None
    users = np.random.default_rng(SEED).permutation(len(exact.users))[:SERVED_USERS]
    histories = [set(model.user_items[user].indices.tolist()) for user in users]

    def ranking(recommender: Recommender) -> Callable[[int], Ranking]:
        def rank(n: int) -> Ranking:
            seen = histories[n]
            return recommender.top_k(recommender.users[users[n]], K, exclude=seen, history=seen)

        return rank

    exact_ms, truth = p50_ms(ranking(exact), len(users))
    ann_ms, found = p50_ms(ranking(indexed), len(users))
    return {"served_recall_at_10": recall(found, truth), "served_exact_p50_ms": exact_ms,
            "served_ann_p50_ms": ann_ms, "items": len(exact.item_ids),
            "users": len(users)}  # fmt: skip


def catalogue(items: Vector, size: int, rng: np.random.Generator) -> Vector:
    """`size` item embeddings: the real ones, then mixes of two real ones plus noise."""
    extra = size - len(items)
    if extra <= 0:
        return items[:size]
    pairs = rng.integers(len(items), size=(extra, 2))
    share = rng.random((extra, 1), dtype=np.float32)
    mixed = share * items[pairs[:, 0]] + (1 - share) * items[pairs[:, 1]]
    noise = rng.normal(scale=items.std(axis=0), size=mixed.shape).astype(np.float32) * 0.3
    return np.concatenate([items, mixed + noise]).astype(np.float32)


def over(model: LoadedModel, items: Vector, *, index: bool) -> Recommender:
    """A recommender over these item embeddings as if the model had been trained on them:
    no item-item term (it is the model's catalogue's), no offsets; the index built or not."""
    recommender = Recommender(model)
    recommender.items = items
    recommender.item_ids = [f"item{n}" for n in range(len(items))]
    recommender.trained_items = len(items)
    recommender.item_item, recommender.offsets = None, None
    recommender.popularity = np.zeros(len(items), dtype=np.float32)
    recommender.index = ItemIndex(items) if index else None
    return recommender


def top_10(recommender: Recommender, asked: Vector, n: int) -> Ranking:
    return recommender.top_k(asked[n], K)


def sized(model: LoadedModel, sizes: list[int], queries: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(SEED)
    base = model.items.numpy().astype(np.float32)
    users = model.users.numpy().astype(np.float32)
    asked = users[rng.integers(len(users), size=queries)]
    rows = []
    for size in track(sizes, description="catalogue sizes", console=console):
        items = catalogue(base, size, rng)
        exact = over(model, items, index=False)
        began = time.perf_counter()
        indexed = over(model, items, index=True)
        build_s = time.perf_counter() - began
        exact_ms, truth = p50_ms(partial(top_10, exact, asked), queries)
        ann_ms, found = p50_ms(partial(top_10, indexed, asked), queries)
        rows.append({"size": size, "exact_p50_ms": exact_ms, "ann_p50_ms": ann_ms,
                     "recall_at_10": recall(found, truth), "build_s": build_s})  # fmt: skip
    return rows


def break_even(rows: list[dict[str, float]]) -> float | None:
    """The size where the indexed p50 falls below the exact one, interpolated on log scales;
    None if it never does (or already does at the smallest size: then that size)."""
    ratio = [np.log(row["ann_p50_ms"] / row["exact_p50_ms"]) for row in rows]
    if ratio[0] <= 0:
        return rows[0]["size"]
    for (a, ra), (b, rb) in zip(zip(rows, ratio), zip(rows[1:], ratio[1:])):  # noqa: B905
        if rb <= 0 < ra:
            at = np.log(a["size"]) + (np.log(b["size"]) - np.log(a["size"])) * ra / (ra - rb)
            return float(np.exp(at))
    return None


def plot(rows: list[dict[str, float]], path: Path) -> None:
    sizes = [row["size"] for row in rows]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.loglog(sizes, [row["exact_p50_ms"] for row in rows], "o-", label="exact: every item")
    axes.loglog(sizes, [row["ann_p50_ms"] for row in rows], "s-", label="HNSW candidates")
    for row in rows:
        axes.annotate(f"recall {row['recall_at_10']:.3f}", (row["size"], row["ann_p50_ms"]),
                      textcoords="offset points", xytext=(4, -12), fontsize=8)  # fmt: skip
    axes.set(xlabel="catalogue items", ylabel="p50 ms per top-10 ranking",
             title="Exact top-k against the HNSW index")  # fmt: skip
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(
    model_dir: Annotated[
        Path | None, typer.Option("--model", help="a saved model (default: Beauty's)")
    ] = None,
    sizes: Annotated[str, typer.Option(help="catalogue sizes, comma-separated")] = (
        "12000,48000,192000,768000"
    ),
    queries: Annotated[int, typer.Option(min=10, help="rankings timed per size")] = 300,
) -> None:
    if model_dir is None:
        with beauty_graph(console) as (settings, graph):
            model_dir, *_ = trained_model(console, beauty_dataset(console, graph, settings))
    model = LoadedModel.load(model_dir)
    console.print(f"Model {model.path}")
    ranked = served(model)
    table = Table(title=f"Served rankings, {ranked['users']:.0f} users over "
                        f"{ranked['items']:.0f} items (top {K})")  # fmt: skip
    for column in ("exact p50 ms", "indexed p50 ms", "recall@10 vs exact"):
        table.add_column(column, justify="right")
    table.add_row(f"{ranked['served_exact_p50_ms']:.3f}", f"{ranked['served_ann_p50_ms']:.3f}",
                  f"{ranked['served_recall_at_10']:.4f}")  # fmt: skip
    console.print(table)

    rows = sized(model, [int(size) for size in sizes.split(",")], queries)
    table = Table(title=f"Catalogue sizes (top {K}, {queries} rankings each)")
    for column in ("items", "exact p50 ms", "indexed p50 ms", "exact / indexed",
                   "recall@10", "index build s"):  # fmt: skip
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(f"{row['size']:,}", f"{row['exact_p50_ms']:.3f}",
                      f"{row['ann_p50_ms']:.3f}", f"{row['exact_p50_ms'] / row['ann_p50_ms']:.2f}x",
                      f"{row['recall_at_10']:.4f}", f"{row['build_s']:.1f}")  # fmt: skip
    console.print(table)
    even = break_even(rows)
    console.print(f"Break-even: {'never' if even is None else f'{even:,.0f} items'}")
    RESULTS.mkdir(exist_ok=True)
    plot(rows, RESULTS / "ann.png")
    console.print(f"Plot: {RESULTS / 'ann.png'}")
    headline = {
        "sizes": [row["size"] for row in rows],
        "exact_p50_ms": [round(row["exact_p50_ms"], 4) for row in rows],
        "ann_p50_ms": [round(row["ann_p50_ms"], 4) for row in rows],
        "recall_at_10": [round(row["recall_at_10"], 4) for row in rows],
        "build_s": [round(row["build_s"], 2) for row in rows],
        "break_even_items": None if even is None else round(even),
        **{key: round(ranked[key], 4) for key in
           ("served_recall_at_10", "served_exact_p50_ms", "served_ann_p50_ms")},
    }  # fmt: skip
    print(json.dumps(headline))


if __name__ == "__main__":
    typer.run(main)
