"""Placing the items a model was not trained on, as a service starts or takes over in a reload,
against the real Neo4j and model: all of them in a few round trips, each exactly where placing
it alone (as POST /items does) puts it; and a reloaded service forgets what its catalogue read
folded in once no predecessor can replay a write on it any more."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

import api.service
from api.engine import Vector
from api.metrics import Metrics
from api.parts import SharedParts
from api.schemas import Event
from api.service import NEIGHBOURS, PLACE_BATCH, PlacedItem, Service
from gnn.infer import LoadedModel
from kg import Graph, Settings
from kg.catalogue import StoredItem, read_stored_items, untrained_item_ids
from kg.records import ItemCategoryRow, ItemLinkRow, ItemRow, Row
from kg.search import ItemCandidates, item_candidates, query_words, search_candidates
from kg.write import write_atomically

N = 300  # items added since training
WORDS = ["rose", "lip", "gloss", "matte", "wrench", "steel", "drill", "saw", "velvet", "tape"]


@pytest.fixture(scope="module")
def patient(shop: Settings) -> Settings:
    """Room for Neo4j to answer on a busy test machine: this is about placing, not timeouts."""
    return shop.model_copy(update={"api_graph_timeout_s": 10.0})


@pytest.fixture(scope="module")
def model(shop: Settings) -> LoadedModel:
    return LoadedModel.load(shop.models_dir)


@pytest.fixture(scope="module")
def added(shop: Settings) -> list[str]:
    """N items with text vectors that the model lacks, as the API writes them: words of the
    shop's titles (some none at all), a category, some linked to trained items."""
    rng = np.random.default_rng(0)
    rows: list[Row] = []
    provenance = {"source": "metadata", "extractor": "metadata"}
    for n in range(N):
        item = f"added-{n}"
        vector = rng.normal(size=384).astype(np.float32)
        vector /= np.linalg.norm(vector)
        title = "!!!" if n % 50 == 0 else f"{WORDS[n % 10]} {WORDS[n * 7 % 10]} no. {n}"
        category = "beauty > lips" if n % 2 else "tools > hand tools"
        rows += [ItemRow(id=item, title=title, text_embedding=vector.tolist()),
                 ItemCategoryRow(item_id=item, category_id=category, **provenance)]  # fmt: skip
        if n % 3 == 0:
            rows.append(ItemLinkRow(source_id=item, target_id=f"g{n % 12}", type="ALSO_BOUGHT"))
    with Graph.connect(shop, wait_s=30) as graph:
        for start in range(0, len(rows), 300):
            write_atomically(graph, rows[start : start + 300])
    return [f"added-{n}" for n in range(N)]


@pytest.fixture(scope="module")
def parts(patient: Settings) -> Iterator[SharedParts]:
    with SharedParts(patient) as shared:
        yield shared


@pytest.fixture()
def graph(shop: Settings) -> Iterator[Graph]:
    with Graph.connect(shop, wait_s=30) as connected:
        yield connected


def test_the_items_added_since_training_are_placed_in_a_few_round_trips_as_one_by_one(
    patient: Settings,
    model: LoadedModel,
    parts: SharedParts,
    added: list[str],
    graph: Graph,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[int] = []  # queries per round trip for neighbours
    answers: dict[bytes, ItemCandidates] = {}  # text vector -> what the batch found for it

    def counted(
        graph: Graph, queries: Sequence[tuple[Sequence[str], Vector]], *, limit: int
    ) -> list[ItemCandidates]:
        asked.append(len(queries))
        found = item_candidates(graph, queries, limit=limit)
        if len(queries) > 1:
            pairs = zip(queries, found, strict=True)
            answers.update((vector.tobytes(), one) for (_, vector), one in pairs)
        return found

    monkeypatch.setattr(api.service, "item_candidates", counted)
    batch = Service(patient, model, Metrics(), parts)
    single = Service(patient, model, Metrics(), parts)
    try:
        batch._place_untrained(None)
        assert asked == [PLACE_BATCH] * (N // PLACE_BATCH) + [N % PLACE_BATCH]
        assert len(asked) == math.ceil(N / PLACE_BATCH)

        stored = read_stored_items(graph, untrained_item_ids(graph, model.scorer.item_ids))
        assert sorted(item.id for item in stored) == sorted(added)
        asked.clear()
        with single._adding:  # one after the other, as POST /items places each
            for item in stored:
                single._place(PlacedItem.stored(item))
        assert len(asked) == N

        one, many = single.recommender, batch.recommender
        assert many.item_ids == one.item_ids
        np.testing.assert_array_equal(many.items, one.items)
        # The same trained items borrowed from, by the same weights (up to BLAS rounding: one
        # matrix product for all instead of one each).
        assert many.borrowed.shape == (N, one.trained_items)
        assert ((many.borrowed > 0) != (one.borrowed > 0)).nnz == 0
        np.testing.assert_allclose(many.borrowed.toarray(), one.borrowed.toarray(), atol=1e-6)
        np.testing.assert_array_equal(many.popularity, one.popularity)
        assert many.titles == one.titles
        rows = {category: rows.tolist() for category, rows in many.category_rows.items()}
        assert rows == {category: rows.tolist() for category, rows in one.category_rows.items()}
        assert len(rows["beauty > lips"]) == N // 2
        assert batch.searcher.entity_items == single.searcher.entity_items
        assert batch._placed == single._placed
        # The neighbours asked for many at once are those the search query finds for one.
        by_id = {item.id: item for item in stored}
        for one_of in (PlacedItem.stored(by_id[added[n]]) for n in (0, 3, 7, N - 1)):  # 0: no words
            words, vector = query_words(one_of.title or ""), one_of.text_vector
            together = answers[vector.tobytes()]
            alone = search_candidates(graph, words, vector, limit=NEIGHBOURS + 1)
            assert [i for i, _ in together.lexical] == [i for i, _ in alone.lexical]
            assert [i for i, _ in together.semantic] == [i for i, _ in alone.semantic]
            assert len(alone.semantic) == NEIGHBOURS + 1
            assert bool(alone.lexical) == bool(words)
    finally:
        batch.close()
        single.close()


def test_a_reloaded_service_forgets_what_it_folded_once_no_predecessor_can_replay(
    patient: Settings, model: LoadedModel, parts: SharedParts, added: list[str]
) -> None:
    """The interactions a successor's read folded in are kept only to recognise a replayed
    event; once its predecessor (and each one before that) has closed, none can come."""
    first, second, third = (Service(patient, model, Metrics(), parts) for _ in range(3))
    running = [first, second, third]

    def close(service: Service) -> None:
        running.remove(service)
        service.close()

    try:
        first.start()
        events = [Event(user_id="folded", item_id=item, kind="purchase", ts=1_700_000_000 + n)
                  for n, item in enumerate(("g1", added[1]))]  # fmt: skip
        assert first.record_events(events) == ["folded"]
        assert first._folded == set()  # started, not handed over to: no replays ever come
        folded = {("folded", event.item_id, "purchase", event.ts) for event in events}
        first.hand_over(second)
        assert folded <= second._folded
        second.hand_over(third)  # before the first has closed
        assert folded <= third._folded
        close(second)  # a request still in flight on the first may replay through it
        assert folded <= third._folded
        close(first)
        assert second._folded == third._folded == set()
    finally:
        for service in running:
            service.close()


def test_a_reload_of_the_same_model_keeps_the_placed_items_and_reads_only_the_others(
    patient: Settings,
    model: LoadedModel,
    parts: SharedParts,
    added: list[str],
    graph: Graph,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A successor over the model its predecessor serves takes the items placed there as they
    are (re-reading thousands of text vectors made every reload slower and the heap larger);
    it reads an item only another writer added since. Over another model, it places them all."""
    read: list[str] = []  # ids of the stored items read to place them

    def counted(graph: Graph, ids: Sequence[str]) -> list[StoredItem]:
        read.extend(ids)
        return read_stored_items(graph, ids)

    monkeypatch.setattr(api.service, "read_stored_items", counted)
    first = Service(patient, model, Metrics(), parts)
    first.start()
    assert sorted(read) == sorted(added)
    late = "added-by-another-writer"
    vector = np.random.default_rng(1).normal(size=384).astype(np.float32)
    write_atomically(graph, [ItemRow(id=late, title="velvet tape", text_embedding=vector.tolist())])
    successors = [Service(patient, model, Metrics(), parts)]
    try:
        read.clear()
        first.hand_over(successors[0])
        assert read == [late]
        kept, had = successors[0].recommender, first.recommender
        assert kept.item_ids == [*had.item_ids, late]
        np.testing.assert_array_equal(kept.items[: len(had.items)], had.items)
        assert (kept.borrowed[: had.borrowed.shape[0]] != had.borrowed).nnz == 0
        assert kept.titles[added[3]] == had.titles[added[3]]  # from its catalogue read
        assert successors[0]._placed == {**first._placed, late: successors[0]._placed[late]}

        shutil.copytree(model.path, other := tmp_path / "another-version")
        successors.append(Service(patient, LoadedModel.load(other), Metrics(), parts))
        read.clear()
        successors[0].hand_over(successors[1])
        assert sorted(read) == sorted([*added, late])
    finally:
        for service in (first, *successors):
            service.close()
