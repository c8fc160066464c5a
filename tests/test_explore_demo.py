"""The analyst's side on the demo graph: what `make demo` builds (the data/sample shop, loaded
with the real extraction, and a model trained on it whose embeddings are written back as
`kgrec train` writes them), in the test Neo4j. Every file of cypher/explore/, run with its
documented parameters, must answer with rows; the display names must cover the catalogue.
The Neo4j Browser test in this module (it needs the same graph) drives the real Browser in
headless Chromium; its screenshot goes to $KGREC_TEST_SCREENSHOTS when set."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gnn.artifacts import save_model
from gnn.cli import write_back_embeddings
from gnn.dataset import build_dataset
from gnn.model import ModelConfig
from gnn.text import TextEncoder
from gnn.train import TrainConfig, train
from ingest.extract.mention_cache import MentionCache
from ingest.extract.stage import ExtractionStage, build_extractors
from ingest.sources.amazon2018.load import load_amazon2018
from kg import Graph, Settings, provision
from kg.explore import ExploreQuery, explore_queries
from kg.export import export_graph
from kg.provision.browser import STYLE_FILE, extras_url
from kg.schema import apply_schema
from kg.write import GraphWriter, delete_all

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SCREENSHOTS = "KGREC_TEST_SCREENSHOTS"  # a folder for them (docs/ holds the README's)
ITEM_COLOUR = "#4c8eda"  # node.Item in cypher/style.grass
LOCAL_ONLY = pytest.mark.skipif(
    provision.resolve_mode(Settings()) != "local",
    reason="kgrec's guide and style are served by the local server only",
)
DEMO_TRAINING = TrainConfig(model=ModelConfig(dim=32), batch_size=256, negatives=16, lr=0.02,
                            max_epochs=15, patience=5, seed=0)  # fmt: skip


@pytest.fixture(scope="module")
def demo(neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    """The demo graph in the test Neo4j: the sample loaded, a model trained and written back."""
    settings = neo4j_settings.model_copy(update={"cache_dir": tmp_path_factory.mktemp("cache")})
    with Graph.connect(settings, wait_s=30) as graph:
        delete_all(graph)
        apply_schema(graph, settings.cypher_dir / "schema.cypher")
        with MentionCache(settings.cache_dir / "mentions.sqlite") as cache:
            stage = ExtractionStage(build_extractors(settings), cache)
            load_amazon2018(
                GraphWriter(graph, settings.write_batch_size),
                SAMPLE / "Magazine_Subscriptions_5.json.gz",
                SAMPLE / "meta_Magazine_Subscriptions.json.gz",
                extraction=stage,
            )
        with TextEncoder(settings) as text:
            dataset = build_dataset(export_graph(graph), text.encode)
        result = train(dataset, DEMO_TRAINING)
        model_dir = save_model(result.model, dataset, DEMO_TRAINING.to_dict(), result.test,
                               tmp_path_factory.mktemp("models"))  # fmt: skip
        write_back_embeddings(graph, model_dir, dataset)  # with its (:ModelVersion)
        yield graph


def test_the_demo_catalogue_has_display_names(demo: Graph) -> None:
    """Issue 15: names for >= 95% of the sample's items (its titles are mostly HTML residue)."""
    (row,) = demo.read(
        "MATCH (i:Item) RETURN count(i) AS items, count(i.name) AS named, "
        "count(CASE WHEN size(keys(i)) > 1 THEN 1 END) AS described, "
        "count(CASE WHEN size(keys(i)) > 1 AND i.name IS NOT NULL THEN 1 END) AS described_named"
    )
    assert row["named"] / row["items"] >= 0.95, row
    assert row["described_named"] / row["described"] >= 0.99, row


@pytest.mark.parametrize("query", explore_queries(Settings().cypher_dir), ids=lambda q: q.path.stem)
def test_every_exploration_file_answers_on_the_demo_graph(demo: Graph, query: ExploreQuery) -> None:
    """Each file with its `:param` examples (evaluated by Neo4j, as Browser's `:param x => ...`
    does) returns rows: the documented ids exist in the demo graph and give an answer."""
    params = {}
    if query.params:
        expressions = ", ".join(f"{value} AS {name}" for name, value in query.params.items())
        params = dict(demo.read(f"RETURN {expressions}")[0])
    rows = demo.read(query.statement, params)
    assert rows, f"{query.path.name} returned nothing for {params}"
    if query.path.stem.endswith("similar_items"):
        assert rows[0]["compared_by"] == "model embedding" and rows[0]["note"] is None
    if query.path.stem.endswith("why_recommended"):
        assert not rows[0]["already_rated"]
        assert {row["why"].split(":")[0] for row in rows} >= {"linked items", "same category"}


@LOCAL_ONLY
def test_neo4j_browser_shows_items_by_name(
    demo: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    """Issue 15 (a): the local server's Neo4j Browser, in headless Chromium, connects, loads
    kgrec's style, runs the neighbourhood query of cypher/explore/ with its parameters, and
    every Item node it draws is captioned with (the start of) the item's display name."""
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("no `chromium` on PATH: `make test` installs it (apt-get install chromium)")
    info = provision.resolve_connection(neo4j_settings)
    http = neo4j_settings.neo4j_http_port
    query = next(q for q in explore_queries(neo4j_settings.cypher_dir)
                 if q.path.stem.endswith("user_neighbourhood"))  # fmt: skip
    style = extras_url(http, STYLE_FILE)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(f"http://127.0.0.1:{http}/browser/?connectURL={info.uri}")
        page.fill('input[data-testid="username"]', info.user)
        page.fill('input[data-testid="password"]', info.password)
        page.click('button[data-testid="connect"]')
        # Connected: the server's post-connect command has loaded the style.
        page.wait_for_selector(f'[data-testid="frameCommand"]:has-text(":style {style}")')

        def run(command: str) -> None:
            page.click("#monaco-main-editor")
            page.keyboard.type(command)
            page.click('[data-testid="editor-Run"]')

        run(":clear")
        run(f":style {style}")
        loaded = page.wait_for_selector('[data-testid="frame"]:has-text("node.Item")')
        assert 'caption: "{name}"' in loaded.inner_text()
        for name, value in query.params.items():
            run(f":param {name} => {value}")
        run(" ".join(query.statement.split()))  # one line: Enter would run a partial query
        page.wait_for_selector("svg g.node")
        page.wait_for_timeout(3000)  # the force layout settles
        drawn = page.eval_on_selector_all(
            "svg g.node",
            "nodes => nodes.map(n => [n.getAttribute('aria-label'),"
            " Array.from(n.querySelectorAll('text')).map(t => t.textContent).join(' '),"
            " Array.from(n.querySelectorAll('circle')).map(c => c.getAttribute('fill'))"
            "  .find(fill => fill)])",
        )
        page.click('[data-testid="frame"] button[title="Fullscreen"]')
        for _ in range(2):  # captions readable in the screenshot
            page.click('[aria-label="zoom-in"]')
            page.wait_for_timeout(700)
        page.wait_for_timeout(1500)
        folder = Path(os.environ.get(SCREENSHOTS) or tmp_path)
        page.screenshot(path=str(folder / "neo4j-browser.png"))
        browser.close()
    captions = {int(label.removeprefix("graph-node")): (text, fill) for label, text, fill in drawn}
    names = {row["node"]: row["name"] for row in demo.read(
        "MATCH (i:Item) WHERE id(i) IN $nodes RETURN id(i) AS node, i.name AS name",
        {"nodes": list(captions)},
    )}  # fmt: skip
    assert len(names) >= 10, drawn  # the user's rated items, at least
    for node, name in names.items():
        caption, fill = captions[node]
        assert shows(caption, name), (caption, name)
        assert fill.lower() == ITEM_COLOUR


def shows(caption: str, name: str) -> bool:
    """Whether a Browser caption shows this name: Browser wraps a caption over lines, leaves
    out what does not fit and cuts the last word it shows with "…"."""
    words, named = caption.split(), name.split()
    if not words or words[0].removesuffix("…") != named[0][: len(words[0].removesuffix("…"))]:
        return False
    shown = [word for word in words if not word.endswith("…")]
    cut = [word.removesuffix("…") for word in words if word.endswith("…")]
    return all(word in named for word in shown) and all(
        any(n.startswith(part) for n in named) for part in cut
    )
