"""What the benchmarks share: a shop loaded into a throwaway local Neo4j (`shop_graph`; Beauty
here, the lab shop in scientific_setup.py) and (for the serving benches) a model trained on
Beauty.

The model is kept under .kgrec/bench-models/ by data fingerprint, so the second serving bench
(or a rerun) reuses it instead of training again; `trained_model` rebuilds the in-memory
`KGRecModel` from its weights, blend and item-item term for what needs the propagation itself
(faithfulness).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import torch
from rich.console import Console

from gnn.artifacts import WEIGHTS, find_model, load_scoring, save_model
from gnn.dataset import RecDataset, build_dataset
from gnn.model import KGRecModel
from gnn.text import TextEncoder
from gnn.train import TrainConfig, build_model, epoch_progress, final_data, train
from ingest.extract.mention_cache import MentionCache
from ingest.extract.stage import ExtractionStage, build_extractors
from ingest.sources.beauty.load import load_beauty
from kg import Graph, Settings, provision
from kg.export import export_graph
from kg.schema import apply_schema
from kg.settings import PROJECT_ROOT
from kg.write import GraphWriter, delete_all

BEAUTY_KG = Path("../shared/data/amazon-beauty-pgpr-cafe")
BEAUTY_SEQ = Path("../shared/data/amazon-beauty-2014-seq-text")
BENCH_MODELS = PROJECT_ROOT / ".kgrec" / "bench-models"
CONFIG = TrainConfig()
# How a shop gets into the graph: (the server's settings, a writer, the extraction stage).
ShopLoad = Callable[
    [Settings, GraphWriter, ExtractionStage], None
]  # what `kgrec train` uses by default


@contextmanager
def shop_graph(
    console: Console, folder: str, what: str, load: ShopLoad, *, wipe: bool = False
) -> Iterator[tuple[Settings, Graph]]:
    """A shop, loaded by `load` (extraction on, mentions cached), in a throwaway server under
    .kgrec/<folder>/ (or, with `wipe`, the external server the settings point at)."""
    with (
        provision.scratch_server(Settings(), folder, wipe=wipe) as settings,
        Graph.connect(settings) as graph,
    ):
        delete_all(graph)
        apply_schema(graph, settings.cypher_dir / "schema.cypher")
        with (
            console.status(f"Loading {what} into Neo4j..."),
            MentionCache(settings.cache_dir / "mentions.sqlite") as cache,
        ):
            stage = ExtractionStage(build_extractors(settings), cache)
            load(settings, GraphWriter(graph, settings.write_batch_size), stage)
        yield settings, graph


def beauty_graph(
    console: Console, *, wipe: bool = False, kg: Path = BEAUTY_KG, seq: Path = BEAUTY_SEQ
) -> AbstractContextManager[tuple[Settings, Graph]]:
    """Beauty (PGPR/CAFE KG + review-derived titles, extraction on) in a throwaway server."""

    def load(_: Settings, writer: GraphWriter, stage: ExtractionStage) -> None:
        load_beauty(writer, kg, seq, extraction=stage)

    return shop_graph(console, "neo4j-bench", "the Beauty benchmark", load, wipe=wipe)


def beauty_dataset(console: Console, graph: Graph, settings: Settings) -> RecDataset:
    with console.status("Exporting and encoding the graph..."), TextEncoder(settings) as encoder:
        return build_dataset(export_graph(graph), encoder.encode)


def trained_model(
    console: Console, dataset: RecDataset
) -> tuple[Path, KGRecModel, RecDataset, float | None]:
    """(model directory, the model, the data it propagates over (`final_data`), training
    seconds or None when a model for exactly this data was found and reused)."""
    final = final_data(dataset, CONFIG)
    if found := find_model(BENCH_MODELS, dataset, CONFIG.to_dict()):
        console.print(f"Reusing the model trained on this data: {found}")
        model = build_model(final, CONFIG, torch.device("cpu"))
        model.load_state_dict(torch.load(found / WEIGHTS, weights_only=True))
        model.blend, model.item_item = load_scoring(found)
        return found, model.eval(), final, None
    progress, on_epoch = epoch_progress(console, CONFIG.max_epochs)
    with progress:
        result = train(dataset, CONFIG, on_epoch)
    path = save_model(result.model, dataset, CONFIG.to_dict(), result.test, BENCH_MODELS)
    console.print(f"Trained in {result.train_seconds:.0f} s; saved in {path}")
    return path, result.model.cpu().eval(), final, result.train_seconds
