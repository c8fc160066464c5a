"""Search on two shops: known-item search, category intent and the latency of GET /search.

    python bench/search.py [--items 1000] [--train-seconds 120]

For each shop (Beauty 2014; Industrial & Scientific, which search was not tuned on) the shop is
loaded into a throwaway Neo4j, its text encoded (MiniLM, cached), the items' text vectors
written to the graph and a model trained for a short time budget (search uses it only to
order a named category's items and to personalise; kept under .kgrec/bench-models/ and reused
by reruns on the same data), then the real API app is asked.

- known-item search: random items (the sample is cut into a tuning half and a held-out half);
  the query is the 2-3 rarest words of the item's title (document frequency over the shop's
  titles) that are not its brand's words; hit@10 for lexical only (the full-text index's own
  order), vector only (the vector index's own order), hybrid (GET /search), and the model's
  vector of the query text, which is how queries were answered before hybrid search.
- category intent: every category name with at least 10 items (the shop's root left out) as
  the query; precision@10 of items in or below a category of that name (names repeat under
  different parents: "Gels" for eyes and for cleansers); halves by a hash of the name.
- latency: p50 and p90 of GET /search with explanations over the known-item queries, beside
  GET /search without explanations and an explained GET /users/{id}/recommendations.
Last line: one JSON object (the held-out halves).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from beauty_setup import BENCH_MODELS, beauty_graph
from fastapi.testclient import TestClient
from rich.console import Console
from rich.progress import track
from rich.table import Table
from scientific_setup import scientific_graph

from api.main import create_app
from api.search import STOP_WORDS
from api.service import Service
from gnn.artifacts import find_model, save_model
from gnn.dataset import build_dataset
from gnn.text import TextEncoder
from gnn.train import TrainConfig, train
from kg import Graph, Settings
from kg.catalogue import read_catalogue
from kg.embeddings import write_embeddings
from kg.export import export_graph
from kg.search import query_words

console = Console(width=140)
ShopGraph = Callable[[Console], AbstractContextManager[tuple[Settings, Graph]]]
SHOPS: dict[str, ShopGraph] = {"beauty": beauty_graph, "scientific": scientific_graph}
TARGETS = {"known_item_hit@10": 0.90, "category_precision@10": 0.80}
MODES = ("lexical only", "vector only", "model vector (before)", "hybrid")
MIN_CATEGORY_ITEMS = 10


def half(key: str) -> str:
    """'tune' or 'held-out', fixed by a hash of the key."""
    return "tune" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "held-out"


def category_names(
    category_items: dict[str, list[str]], names: dict[str, str], roots: set[str]
) -> dict[str, set[str]]:
    """Each category name (the shop's roots left out) -> the items in or below a category of
    that name ("Gels" is a name under Eyes and under Cleansers: a query cannot tell them
    apart), for the names with at least MIN_CATEGORY_ITEMS items."""
    items: dict[str, set[str]] = {}
    for category, members in category_items.items():
        if category in names and category not in roots:
            items.setdefault(names[category], set()).update(members)
    return {name: found for name, found in items.items() if len(found) >= MIN_CATEGORY_ITEMS}


def known_item_queries(
    titles: dict[str, str], brands: dict[str, str], n: int, rng: np.random.Generator
) -> list[tuple[str, str]]:
    """(item, query) for `n` random items whose title has at least 2 words that are not its
    brand's: the 2-3 rarest of them over the shop's titles, in title order."""
    frequency: Counter[str] = Counter()
    for title in titles.values():
        frequency.update(set(query_words(title)))
    items = sorted(titles)
    queries = []
    for row in rng.permutation(len(items)):
        item = items[row]
        brand = set(query_words(brands.get(item, "")))
        words = [w for w in query_words(titles[item]) if w not in brand and w not in STOP_WORDS]
        if len(words) < 2:
            continue
        rarest = set(sorted(words, key=lambda w: (frequency[w], words.index(w)))[:3])
        queries.append((item, " ".join(w for w in words if w in rarest)))
        if len(queries) == n:
            break
    return queries


def ranked(api: TestClient, service: Service, query: str, mode: str) -> list[str]:
    """The top 10 item ids of one mode."""
    if mode == "hybrid":
        response = api.get("/search", params={"q": query, "k": 10, "explain": False})
        response.raise_for_status()
        return [item["item_id"] for item in response.json()["items"]]
    if mode == "model vector (before)":
        recommender = service.recommender
        vector = recommender.context_vector(service.text_vector(query), [], [], None)
        return [item for item, _ in recommender.top_k(vector, 10)]
    candidates, _, _ = service.search_candidates(query)
    assert candidates is not None
    found = candidates.lexical if mode == "lexical only" else candidates.semantic
    return [item for item, _ in found[:10]]


def shop_model(
    console: Console, settings: Settings, graph: Graph, name: str, seconds: float
) -> Path:
    """Text vectors into the graph (as `kgrec train` writes them) and the model directory of a
    model trained for `seconds` at most (kept by data fingerprint, reused by reruns)."""
    with console.status("Exporting and encoding the shop..."), TextEncoder(settings) as encoder:
        dataset = build_dataset(export_graph(graph), encoder.encode)
    n_items = dataset.n_items
    vectors = dataset.features["item"][:n_items].numpy()
    with console.status("Writing the items' text vectors..."):
        write_embeddings(
            graph, "Item", dataset.ids["item"][:n_items], vectors, prop="text_embedding"
        )
    config = TrainConfig(time_budget_s=seconds, device=settings.device)
    folder = BENCH_MODELS / f"search-{name}"
    if found := find_model(folder, dataset, config.to_dict()):
        console.print(f"Reusing the model trained on this data: {found}")
        return found
    with console.status(f"Training a model ({seconds:.0f} s budget, then the blend)..."):
        result = train(dataset, config)
    return save_model(result.model, dataset, config.to_dict(), result.test, folder)


def measure_shop(
    name: str, n_items: int, train_seconds: float, rng: np.random.Generator
) -> dict[str, Any]:
    with SHOPS[name](console) as (settings, graph):
        models_dir = shop_model(console, settings, graph, name, train_seconds)
        catalogue = read_catalogue(graph)
        brands = {
            row["item"]: row["brand"]
            for row in graph.read(
                "MATCH (i:Item)-[:HAS_BRAND]->(b:Brand) RETURN i.id AS item, b.name AS brand"
            )
        }
        names = {
            row["id"]: row["name"]
            for row in graph.read(
                "MATCH (c:Category) WHERE c.name IS NOT NULL RETURN c.id AS id, c.name AS name"
            )
        }
        roots = {
            row["id"]
            for row in graph.read(
                "MATCH (c:Category) WHERE NOT (c)-[:SUBCATEGORY_OF]->() RETURN c.id AS id"
            )
        }
        user = graph.read("MATCH (u:User)-[:INTERACTED]->() RETURN u.id AS id LIMIT 1")[0]["id"]
        queries = known_item_queries(catalogue.titles, brands, n_items, rng)
        named = category_names(catalogue.category_items, names, roots)
        app = create_app(settings.model_copy(update={"models_dir": models_dir}))
        with TestClient(app) as api:
            service: Service = app.state.service
            hits: dict[str, dict[str, list[bool]]] = {
                m: {"tune": [], "held-out": []} for m in MODES
            }
            for item, query in track(queries, description=f"{name}: known items", console=console):
                for mode in MODES:
                    hits[mode][half(item)].append(item in ranked(api, service, query, mode))
            precision: dict[str, dict[str, list[float]]] = {
                m: {"tune": [], "held-out": []} for m in MODES
            }
            for category, wanted in track(named.items(), description=f"{name}: categories",
                                          console=console):  # fmt: skip
                for mode in MODES:
                    top = ranked(api, service, category, mode)
                    precision[mode][half(category)].append(len(wanted & set(top)) / 10)
            texts = [query for _, query in queries[:200]]
            timing = {
                "GET /search, explained": _timed(
                    lambda q: api.get("/search", params={"q": q, "k": 10}), texts
                ),
                "GET /search, no explanations": _timed(
                    lambda q: api.get("/search", params={"q": q, "k": 10, "explain": False}), texts
                ),
                "GET /users/{id}/recommendations, explained": _timed(
                    lambda _: api.get(f"/users/{user}/recommendations", params={"k": 10}), texts
                ),
            }
            example = api.get("/search", params={"q": queries[0][1], "k": 3}).json()
    return {
        "known": {
            m: {h: float(np.mean(v)) for h, v in halves.items()} for m, halves in hits.items()
        },
        "category": {
            m: {h: float(np.mean(v)) for h, v in halves.items()} for m, halves in precision.items()
        },
        "counts": {
            "known": Counter(half(i) for i, _ in queries),
            "category": Counter(half(c) for c in named),
        },
        "timing": timing,
        "example": (queries[0], example),
    }


def _timed(call: Callable[[str], Any], texts: Sequence[str]) -> dict[str, float]:
    for text in texts[:20]:  # warm up
        call(text)
    spent = []
    for text in texts:
        started = time.perf_counter()
        call(text)
        spent.append(1000 * (time.perf_counter() - started))
    return {"p50": float(np.percentile(spent, 50)), "p90": float(np.percentile(spent, 90))}


def main(
    items: Annotated[int, typer.Option(help="Known items sampled per shop (both halves).")] = 1000,
    train_seconds: Annotated[float, typer.Option(help="Training budget per shop.")] = 120.0,
    shops: Annotated[
        list[str] | None, typer.Option("--shop", help="Shops to run (default: both).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Known-item search, category intent and search latency on Beauty and Scientific."""
    results = {}
    for name in shops or list(SHOPS):
        results[name] = measure_shop(name, items, train_seconds, np.random.default_rng(seed))
        (item, query), example = results[name]["example"]
        console.print(f"{name}: e.g. {query!r} for item {item}:")
        for hit in example["items"]:
            console.print(
                f"  {hit['item_id']} {hit['title']!r}: "
                f"{hit['explanations'][0]['sentence'] if hit['explanations'] else '-'}"
            )
    table = Table(
        title="Search: hit@10 of known items, precision@10 of category names (tune / held-out)"
    )
    table.add_column("mode")
    for name in results:
        table.add_column(f"{name} known-item hit@10", justify="right")
        table.add_column(f"{name} category P@10", justify="right")
    for mode in MODES:
        cells = []
        for result in results.values():
            for measure in ("known", "category"):
                v = result[measure][mode]
                cells.append(f"{v['tune']:.3f} / {v['held-out']:.3f}")
        table.add_row(mode, *cells)
    table.add_row("target (hybrid)", *[f">= {TARGETS[k]:.2f}" for _ in results for k in TARGETS])
    console.print(table)
    counts = Table(title="Sample sizes (tune / held-out)")
    counts.add_column("shop")
    counts.add_column("known items", justify="right")
    counts.add_column("categories", justify="right")
    for name, result in results.items():
        c = result["counts"]
        counts.add_row(
            name,
            f"{c['known']['tune']} / {c['known']['held-out']}",
            f"{c['category']['tune']} / {c['category']['held-out']}",
        )
    console.print(counts)
    timing = Table(title="Latency in process (TestClient), ms; ratio to explained recommendations")
    for column in ("request", "shop", "p50", "p90", "p50 ratio"):
        timing.add_column(column, justify="left" if column in ("request", "shop") else "right")
    for name, result in results.items():
        base = result["timing"]["GET /users/{id}/recommendations, explained"]["p50"]
        for request, t in result["timing"].items():
            timing.add_row(
                request, name, f"{t['p50']:.1f}", f"{t['p90']:.1f}", f"{t['p50'] / base:.2f}"
            )
    console.print(timing)
    headline = {
        "known_item_hit@10": {
            n: round(r["known"]["hybrid"]["held-out"], 4) for n, r in results.items()
        },
        "category_precision@10": {
            n: round(r["category"]["hybrid"]["held-out"], 4) for n, r in results.items()
        },
        "search_p50_ms": round(
            max(r["timing"]["GET /search, explained"]["p50"] for r in results.values()), 2
        ),
    }
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "search.json").write_text(json.dumps(headline) + "\n")
    print(json.dumps(headline))


if __name__ == "__main__":
    typer.run(main)
