"""The small two-sided shop the API tests run against: lipsticks by GlowCo, hand tools by
ToolCo, a model trained on it, and settings for an API over both. Its fixtures (`shop`,
`client`; one of each per test module) are registered for every module by conftest.py."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.cli import server_config
from api.main import create_app
from gnn.artifacts import save_model
from gnn.dataset import RecDataset, build_dataset
from gnn.model import ModelConfig
from gnn.text import TextEncoder
from gnn.train import TrainConfig, train
from kg import Graph, Settings
from kg.embeddings import write_embeddings
from kg.export import export_graph
from kg.schema import apply_schema
from kg.write import GraphWriter, delete_all

KEY = "test-key-0123456789"
LIPS = ["Rose lipstick", "Matte lip gloss", "Coral lip liner", "Nude lipstick set",
        "Velvet lip tint", "Cherry lip balm", "Peach lip oil", "Berry lip stain",
        "Plum lip pencil", "Sheer lip gloss", "Red lipstick duo", "Lip plumping serum"]  # fmt: skip
TOOLS = ["Steel claw hammer", "Cordless power drill", "Adjustable wrench", "Phillips screwdriver",
         "Hex key set", "Wood saw", "Socket wrench set", "Pipe wrench", "Tool box",
         "Wire cutter", "Spirit level", "Measuring tape"]  # fmt: skip
SMALL = TrainConfig(model=ModelConfig(dim=16), batch_size=16, negatives=16, lr=0.02,
                    max_epochs=30, patience=30, seed=0)  # fmt: skip


def write_shop(graph: Graph) -> None:
    """Lipsticks by GlowCo under Beauty > Lips, hand tools by ToolCo under Tools > Hand tools;
    each item also bought with the next; 12 customers per shop side, each buying a run of 3."""
    writer = GraphWriter(graph, batch_size=500)
    writer.brands([{"id": "glowco", "name": "GlowCo"}, {"id": "toolco", "name": "ToolCo"}])
    writer.categories([
        {"id": "beauty", "name": "Beauty"},
        {"id": "beauty > lips", "name": "Lips", "parent_id": "beauty"},
        {"id": "tools", "name": "Tools"},
        {"id": "tools > hand tools", "name": "Hand tools", "parent_id": "tools"},
    ])  # fmt: skip
    sides = {"g": (LIPS, "glowco", "beauty > lips"), "t": (TOOLS, "toolco", "tools > hand tools")}
    provenance = {"source": "metadata", "extractor": "metadata"}
    for prefix, (titles, brand, category) in sides.items():
        ids = [f"{prefix}{n}" for n in range(len(titles))]
        writer.items([{"id": i, "title": t, "description": f"{t} for everyday use."}
                      for i, t in zip(ids, titles, strict=True)])  # fmt: skip
        writer.item_brands([{"item_id": i, "brand_id": brand, **provenance} for i in ids])
        writer.item_categories([{"item_id": i, "category_id": category, **provenance} for i in ids])
        writer.item_links([{"source_id": a, "target_id": b, "type": "ALSO_BOUGHT"}
                           for a, b in itertools.pairwise(ids)])  # fmt: skip
        writer.interactions([
            {"user_id": f"{prefix}-user{u}", "item_id": ids[(u + step) % len(ids)],
             "kind": "purchase", "ts": 1_600_000_000 + step}
            for u in range(12) for step in range(3)
        ])  # fmt: skip


def write_text_vectors(graph: Graph, dataset: RecDataset) -> None:
    """The items' text vectors, as `kgrec train` writes them for search."""
    n_items = dataset.n_items
    vectors = dataset.features["item"][:n_items].numpy()
    write_embeddings(graph, "Item", dataset.ids["item"][:n_items], vectors, prop="text_embedding")


def trained_shop(neo4j_settings: Settings, models: Path) -> Settings:
    """The shop in the test Neo4j (wiped first), its text vectors and a model trained on it;
    settings for an API over both."""
    with Graph.connect(neo4j_settings, wait_s=30) as graph, TextEncoder(neo4j_settings) as text:
        delete_all(graph)
        apply_schema(graph, neo4j_settings.cypher_dir / "schema.cypher")
        write_shop(graph)
        dataset = build_dataset(export_graph(graph), text.encode)
        write_text_vectors(graph, dataset)
    result = train(dataset, SMALL)
    save_model(result.model, dataset, SMALL.to_dict(), {}, models)
    return neo4j_settings.model_copy(
        update={
            "models_dir": models,
            "api_keys": [SecretStr(KEY)],
            "api_max_body_bytes": 64_000,
            "api_graph_timeout_s": 1.0,
            "api_graph_retry_s": 0.5,
        }
    )


@pytest.fixture(scope="module")
def shop(neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return trained_shop(neo4j_settings, tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def client(shop: Settings) -> Iterator[TestClient]:
    """The real app (lifespan included) over the shop."""
    with TestClient(create_app(shop)) as running:
        yield running


@pytest.fixture(scope="module")
def served(shop: Settings) -> Iterator[str]:
    """The app over the shop as `kgrec serve` serves it (`server_config`: uvicorn), on a free
    loopback port, in a thread; its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(server_config(shop, create_app(shop), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    listener.close()
