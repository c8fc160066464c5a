"""Everything a request needs: the recommender (the model in memory), Neo4j behind a guard,
and the parts every service of the app shares (`api.parts`: text encoder, entity extractors,
path projection). One service per model; a reload hands over to the next."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TypedDict, TypeVar

import numpy as np
from fastapi.exceptions import RequestValidationError
from numpy.typing import NDArray

from api.compute import COMPUTING
from api.engine import (
    ENTITY_RELATIONS,
    ItemUpdate,
    Recommender,
    UnknownError,
    Vector,
    normalise,
)
from api.explain import CANDIDATE_PATHS, explain, explain_candidates
from api.memory import settle_heap
from api.metrics import Metrics
from api.parts import SharedParts, api_graph
from api.schemas import Event, Explanation, ItemAdded, NewItem
from api.search import WEIGHTS, Searcher, fuse
from gnn.dataset import item_text
from gnn.infer import LoadedModel
from gnn.vectors import l2_normalised
from ingest.categories import category_rows
from ingest.extract.base import ItemText
from ingest.records import CategoryPartSetAside
from kg.catalogue import (
    Catalogue,
    Entity,
    StoredItem,
    read_catalogue,
    read_stored_items,
    read_untrained_interactions,
    untrained_item_ids,
)
from kg.connection import Graph
from kg.embeddings import ensure_vector_index
from kg.errors import GraphError, GraphQueryError, GraphTimeoutError
from kg.export import relation_name
from kg.paths import explanation_paths
from kg.projection import NodeKey, PathProjection
from kg.records import (
    AttributeRow,
    BrandRow,
    CategoryRow,
    InteractionRow,
    ItemAttributeRow,
    ItemBrandRow,
    ItemCategoryRow,
    ItemLinkRow,
    ItemLinkType,
    ItemRow,
    ReviewRow,
    Row,
    review_id,
)
from kg.search import Candidates, ItemCandidates, item_candidates, query_words, search_candidates
from kg.settings import Settings
from kg.write import write_atomically

log = logging.getLogger("kgrec.api")
T = TypeVar("T")
# The in-memory part of a write whose graph part is done: applied again by a successor.
Replay = Callable[["Service"], None]
InteractionKey = tuple[str, str, str, int]  # (user, item, kind, ts): one INTERACTED edge
ENTITY_LABELS = {relation: label for label, relation in ENTITY_RELATIONS.items()}
NEIGHBOURS = 10  # trained items a new item's text finds, whose embeddings it moves towards
PLACE_BATCH = 200  # items whose neighbours one query asks for, placing those a model lacks
MAX_LINKS = 200  # links to related items (ALSO_BOUGHT & co.) one item may have, in all
DRAIN_S = 30.0  # how long closing a service waits for its requests in flight


class PathRequest(TypedDict):
    """Where explanation paths start: the projection and Neo4j's query take the same."""

    user_id: str | None
    liked: Sequence[str]
    entities: list[str]
    per_item: int


class ReloadError(RuntimeError):
    """A reload could not take over; the message says why (the old service serves on)."""


@dataclass(frozen=True)
class PlacedItem:
    """An item the model was not trained on, as it is placed: its text vector, its links
    (the model's relation name -> target ids) and its categories with those above them."""

    id: str
    title: str | None
    text_vector: Vector
    links: dict[str, list[str]]
    categories: list[str]
    name: str | None = None  # its display name; None: the one the catalogue holds

    @classmethod
    def stored(cls, item: StoredItem) -> PlacedItem:
        """An item as the graph holds it."""
        vector = np.asarray(item.text_vector, dtype=np.float32)
        return cls(item.id, item.title, vector, _by_relation(item.links), item.categories)

    def fingerprint(self) -> bytes:
        """What its placement depends on (the display name moves nothing)."""
        links = sorted((relation, sorted(targets)) for relation, targets in self.links.items())
        digest = hashlib.blake2b(self.text_vector.astype(np.float32).tobytes(), digest_size=16)
        digest.update(repr((self.title, sorted(self.categories), links)).encode())
        return digest.digest()

    def entities(self) -> list[Entity]:
        """The brands, categories and attributes it links to."""
        return [Entity(label=label, id=entity_id)
                for relation, label in ENTITY_LABELS.items()
                for entity_id in self.links.get(relation, [])]  # fmt: skip


def _candidates(graph: Graph, items: Sequence[PlacedItem]) -> list[ItemCandidates]:
    """Each item's candidate neighbours: what its title's words and its text vector find."""
    queries = [(query_words(item.title or ""), item.text_vector) for item in items]
    return item_candidates(graph, queries, limit=NEIGHBOURS + 1)


def _row_links(rows: Sequence[Row]) -> Iterator[tuple[str, str]]:
    """(relationship type, target id) of each link among the rows written for a new item."""
    for row in rows:
        if isinstance(row, ItemBrandRow):
            yield "HAS_BRAND", row.brand_id
        elif isinstance(row, ItemAttributeRow):
            yield "HAS_ATTRIBUTE", row.attribute_id
        elif isinstance(row, ItemCategoryRow):
            yield "IN_CATEGORY", row.category_id
        elif isinstance(row, ItemLinkRow):
            yield row.type, row.target_id


def _by_relation(links: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(relationship type, target id) pairs as the model takes them: relation -> target ids."""
    found: dict[str, list[str]] = {}
    for rel_type, target in links:
        found.setdefault(relation_name(rel_type), []).append(target)
    return found


def _listed(ids: Sequence[str], shown: int = 10) -> str:
    """The first `shown` ids, quoted, and how many more there are."""
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(repr(i) for i in ids[:shown]) + more


def _invalid_links(message: str) -> RequestValidationError:
    """A 422 that names the `links` field, as the request's own validation does."""
    return RequestValidationError(
        [{"loc": ("body", "links"), "msg": message, "type": "value_error"}]
    )


class GraphDownError(RuntimeError):
    """Neo4j did not answer; the message says what that means for the caller.
    `may_have_written`: the call timed out, so a write in it may still land."""

    def __init__(self, message: str, *, may_have_written: bool = False) -> None:
        super().__init__(message)
        self.may_have_written = may_have_written


class GraphGuard:
    """Neo4j as the API sees it. A call that fails to reach it (or times out: the graph's
    query timeout bounds every call) marks it down for `retry_s`, during which calls fail at
    once instead of each waiting; the first call after that tries again, so the service
    recovers by itself when Neo4j is back. A query Neo4j refuses is logged as the bug it is
    and fails that call alone. Callers see GraphDownError only, never a 500."""

    def __init__(self, graph: Graph, retry_s: float, load_timeout_s: float) -> None:
        self.graph = graph
        self.retry_s = retry_s
        self.load_timeout_s = load_timeout_s
        self._down_until = 0.0

    @property
    def up(self) -> bool:
        return time.monotonic() >= self._down_until

    def call(self, work: Callable[[Graph], T]) -> T:
        if not self.up:
            raise GraphDownError(f"Neo4j at {self.graph.uri} is unreachable")
        try:
            return work(self.graph)
        except GraphQueryError as exc:
            log.error("Neo4j at %s refused a query: %s", self.graph.uri, exc)
            raise GraphDownError(f"Neo4j at {self.graph.uri} could not answer") from exc
        except GraphTimeoutError as exc:
            self._down_until = time.monotonic() + self.retry_s
            log.warning("Neo4j at %s did not answer in time: %s", self.graph.uri, exc)
            raise GraphDownError(f"Neo4j at {self.graph.uri} did not answer in time",
                                 may_have_written=True) from exc  # fmt: skip
        except GraphError as exc:
            self._down_until = time.monotonic() + self.retry_s
            log.warning("Neo4j at %s is unreachable: %s", self.graph.uri, exc)
            raise GraphDownError(f"Neo4j at {self.graph.uri} is unreachable") from exc

    def load(self, work: Callable[[Graph], T]) -> T:
        """`call` with the (long) load timeout instead of the query timeout: for reading the
        whole catalogue."""
        return self.call(lambda graph: work(graph.with_timeout(self.load_timeout_s)))

    def ping(self) -> bool:
        """Ask the server now (even while marked down); readiness probes use this."""
        self._down_until = 0.0
        try:
            self.call(Graph.ping)
        except GraphDownError:
            return False
        return True


class Service:
    def __init__(
        self, settings: Settings, model: LoadedModel, metrics: Metrics, parts: SharedParts
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.parts = parts
        self.paths = parts.paths
        self.recommender = Recommender(model, settings.api_ann_min_items)
        self.searcher = Searcher(self.recommender)
        self.graph = api_graph(settings)
        self.guard = GraphGuard(self.graph, settings.api_graph_retry_s, settings.api_load_timeout_s)
        self._adding = threading.Lock()  # one placement at a time: each grows the item matrix
        self._stop = threading.Event()
        self._loader: threading.Thread | None = None
        # Requests and writes in flight, counted so that a reload can hand over to the next
        # service and close this one without pulling Neo4j from under them.
        self._state = threading.Condition()
        self._requests = 0
        self._closing = False
        self._successor: Service | None = None
        # While a successor reads the graph: the writes answered here since, to replay on it.
        self._journal: list[Replay] | None = None
        # While a predecessor (or one before it) may replay writes here, from its hand-over
        # until each has closed: the interactions of untrained users its catalogue read folded
        # in, so that a replayed event among them is not counted twice. Then let go.
        self._awaiting_replays = False
        self._folded: set[InteractionKey] = set()
        self._drained = False  # closed, with no request left in flight
        self._placed: dict[str, bytes] = {}  # item id -> fingerprint of its latest placement

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Read the catalogue now, or keep trying in the background while Neo4j is down (the
        model serves meanwhile, without seen-item filters, titles or popularity)."""
        if not self._load_catalogue():
            log.warning("serving from the model alone until Neo4j answers")
            self._loader = threading.Thread(target=self._keep_loading, daemon=True)
            self._loader.start()

    def enter(self) -> Service | None:
        """Count a request in; the service that takes it: this one or, once a reload has
        handed over, its successor. None: shutting down."""
        with self._state:
            if not self._closing:
                self._requests += 1
                return self
            successor = self._successor
        return None if successor is None else successor.enter()

    def leave(self) -> None:
        with self._state:
            self._requests -= 1
            self._state.notify_all()

    def hand_over(self, successor: Service) -> None:
        """Start `successor` (it reads the catalogue from the graph, which must answer) and
        send every request from now on to it. Nothing waits: writes go on here meanwhile, and
        the in-memory part of each one answered from now on is replayed on the successor,
        whether its read saw the write or not (replays are idempotent), so it misses none. If
        it fails to start, the error is raised and this one serves on."""
        with self._state:
            self._journal = []
        successor._awaiting_replays = True
        try:
            # Unlike a first start, no serving from the model alone: this one has a catalogue.
            if not successor._load_catalogue(predecessor=self):
                raise ReloadError("Neo4j did not answer while it read the catalogue; reload "
                                  "again once Neo4j is back")  # fmt: skip
        except BaseException:
            with self._state:
                self._journal = None
            raise
        while True:  # until no write was answered since the last look: then swap at once
            with self._state:
                pending, self._journal = self._journal or [], []
                if not pending:
                    self._journal = None
                    self._successor = successor
                    self._closing = True
                    self._state.notify_all()
                    return
            for replay in pending:
                successor._replay(replay)

    def _applied(self, replay: Replay) -> None:
        """A write answered here: journal its in-memory part while a successor reads the
        graph, or, once one has taken over (the write was in flight), replay it there."""
        with self._state:
            if self._journal is not None:
                self._journal.append(replay)
                return
            successor = self._successor
        if successor is not None:
            successor._replay(replay)

    def _replay(self, replay: Replay) -> None:
        """Apply a write its predecessor answered. Neo4j not answering (a new item looks for
        its text's neighbours) leaves it to the next catalogue read: it is in the graph."""
        with self._writing() as service:
            try:
                replay(service)
                service._applied(replay)  # answered here too: on to a successor of its own
            except GraphDownError as exc:
                log.warning("a write answered during a reload is in Neo4j but not yet served "
                            "by %s (%s); the next reload or restart reads it",
                            service.recommender.name, exc)  # fmt: skip

    def close(self) -> None:
        """Take no more requests, wait (at most DRAIN_S) for those in flight, then let go of
        Neo4j (the shared parts stay with the app)."""
        with self._state:
            self._closing = True
            self._drained = self._state.wait_for(lambda: self._requests == 0, DRAIN_S)
            if not self._drained:  # they may replay their writes on the successor yet
                log.warning("closing with %d requests still in flight after %.0f s",
                            self._requests, DRAIN_S)  # fmt: skip
            done = self._drained and not self._awaiting_replays
            successor = self._successor
        if done and successor is not None:
            successor._replays_ended()
        self._stop.set()
        if self._loader is not None:
            self._loader.join(timeout=5)
        self.graph.close()

    def _replays_ended(self) -> None:
        """No predecessor replays writes here any more: forget what its catalogue read folded
        in, and so does its successor once this one has closed too."""
        with self._state:
            self._awaiting_replays = False
            self._folded = set()
            successor = self._successor if self._drained else None
        if successor is not None:
            successor._replays_ended()

    def _load_catalogue(self, predecessor: Service | None = None) -> bool:
        try:
            catalogue: Catalogue = self.guard.load(read_catalogue)
            # Search's semantic half queries it; items get their vectors from `kgrec train`
            # and from POST /items.
            self.guard.load(lambda graph: ensure_vector_index(
                graph, "Item", self.parts.encoder.dim, prop="text_embedding"))  # fmt: skip
            # Items first: the catalogue's interactions with them count as seen, and users
            # fold them in.
            self._place_untrained(predecessor)
            users = list(self.recommender.user_row)
            interactions = self.guard.load(lambda graph: read_untrained_interactions(graph, users))
            self.guard.load(self.paths.load)
        except GraphDownError:
            return False
        self.recommender.fold_users(interactions)
        if self._awaiting_replays:
            # Those with an item the read placed: one added since is folded in when replayed.
            known = self.recommender.knows_item
            self._folded = {(i.user, i.item, i.kind, i.ts) for i in interactions
                            if known(i.item)}  # fmt: skip
        self.recommender.load_catalogue(catalogue)
        self.searcher.load(catalogue)
        return True

    def _place_untrained(self, predecessor: Service | None) -> None:
        """Place the items added since the model was trained (through this API, before a
        restart, or by another writer) where POST /items places them, all in one go: their
        neighbours in a few round trips, the item matrix grown once (one at a time, a reload
        over a thousand of them took over 30 s). A `predecessor` serving the same model
        hands over those it placed as they are, so only the others are read."""
        if predecessor is not None and predecessor.recommender.name == self.recommender.name:
            self._adopt_placed(predecessor)
        known = self.recommender.item_ids
        ids = self.guard.load(lambda graph: untrained_item_ids(graph, known))
        items: list[PlacedItem] = []
        found: list[ItemCandidates] = []
        with self._adding:
            for start in range(0, len(ids), PLACE_BATCH):  # a few round trips, not one each
                stored = self.guard.load(
                    partial(read_stored_items, ids=ids[start : start + PLACE_BATCH])
                )
                batch = [PlacedItem.stored(item) for item in stored]
                found += self.guard.load(partial(_candidates, items=batch))
                items += batch
            self._place_all(items, found, dropped={})
        if items:
            log.info("placed %d items the model was not trained on", len(items))

    def _adopt_placed(self, predecessor: Service) -> None:
        """Its placed items, without reading them again: re-reading thousands of text vectors
        on every reload made it slower and the heap larger each time. An item another writer
        changed since its predecessor placed it keeps that placement until a restart or a
        model of another version."""
        with predecessor._adding:
            adopted = self.recommender.adopt_placed(predecessor.recommender)
            placed = predecessor._placed
            self._placed.update({item: placed[item] for item in adopted})
        if adopted:
            log.info("kept %d items placed by %s", len(adopted), predecessor.recommender.name)

    def _keep_loading(self) -> None:
        while not self._stop.wait(self.settings.api_graph_retry_s):
            self.guard.ping()
            if self._load_catalogue():
                log.info("catalogue loaded from Neo4j")
                settle_heap()
                return

    # -- explanations ---------------------------------------------------------------------

    def explains_in_memory(self) -> bool:
        """Whether explanations come from the projection now, with no Neo4j round trip. Should
        it turn stale right after (another writer's load noticed), the request that asked
        queries Neo4j from where it runs, once, within the query timeout."""
        return self.paths.ready() is not None

    def explanations(
        self,
        targets: Sequence[str],
        *,
        user_id: str | None = None,
        liked: Sequence[str] = (),
        entities: Sequence[Entity] = (),
    ) -> tuple[dict[str, list[Explanation]] | None, list[str]]:
        """Explanations per target: their paths from the projection when it is current, else
        from Neo4j (one round trip), or None and a warning when Neo4j cannot be reached. A
        user the service does not know starts no path."""
        if not targets:
            return {}, []
        if user_id and not self.recommender.knows_user(user_id):
            user_id = None
        request = PathRequest(user_id=user_id, liked=liked, per_item=CANDIDATE_PATHS,
                              entities=[entity.id for entity in entities])  # fmt: skip
        if (projection := self.paths.ready()) is not None:
            with COMPUTING:
                candidates = projection.candidates(targets, **request)
                found = explain_candidates(targets, candidates, self._unit_vectors)
            self.metrics.explained.labels("projection").inc()
            if served := next((told for told in found.values() if told), None):
                self.paths.sample(served[0].path)
            return found, []
        try:
            paths = self.guard.call(lambda graph: explanation_paths(graph, targets, **request))
        except GraphDownError as exc:
            self.metrics.unexplained.inc()
            return None, [f"{exc}: recommendations come without explanations"]
        self.metrics.explained.labels("graph").inc()
        return explain(targets, paths, self._unit_vectors), []

    def _unit_vectors(self, keys: Sequence[NodeKey]) -> NDArray[np.float32]:
        """The nodes' embeddings scaled to unit length; zero rows for nodes the model lacks."""
        units: NDArray[np.float32] = l2_normalised(self.recommender.node_vectors(keys))
        return units

    # -- search ---------------------------------------------------------------------------

    def search_candidates(self, text: str) -> tuple[Candidates | None, Vector, list[str]]:
        """The query's text vector and its candidates from the graph's indexes (None and a
        warning when Neo4j cannot be reached)."""
        vector = self.text_vector(text)
        words = query_words(text)
        try:
            candidates = self.guard.call(lambda graph: search_candidates(graph, words, vector))
        except GraphDownError as exc:
            return None, vector, [f"{exc}: ranked by the model alone, without the search indexes"]
        return candidates, vector, []

    # -- writes ---------------------------------------------------------------------------

    def text_vector(self, text: str) -> Vector:
        vector: Vector = self.parts.encoder.encode([text])[0]
        return vector

    @contextmanager
    def _writing(self) -> Iterator[Service]:
        """The service a write goes to: this one or, once a reload has handed over, its
        successor."""
        with self._state:
            successor = self._successor
        if successor is None:
            yield self
            return
        with successor._writing() as service:
            yield service

    def add_item(self, item: NewItem) -> ItemAdded:
        """Extract, write (one transaction), embed inductively and make recommendable."""
        with self._writing() as service, service._adding:
            return service._add_item(item)

    def _add_item(self, item: NewItem) -> ItemAdded:
        links = self._checked_links(item)
        created = not self.recommender.knows_item(item.id)
        # Parts that are no category names are left out (the answer lists the categories kept).
        rows: list[Row] = [row for row in category_rows(item.id, item.categories)
                           if not isinstance(row, CategoryPartSetAside)]  # fmt: skip
        rows += self.parts.extract(ItemText(
            item_id=item.id, title=item.title, description=item.description,
            features=item.features, metadata_brand=item.brand))  # fmt: skip
        rows += [ItemLinkRow(source_id=item.id, target_id=target, type=link)
                 for link, targets in links.items() for target in targets]  # fmt: skip
        brands = [row.name for row in rows if isinstance(row, BrandRow)]
        categories = [row for row in rows if isinstance(row, CategoryRow)]
        text = item_text(item.title, item.description, brands, [c.name for c in categories[-1:]])
        text_vector = self.text_vector(text)
        item_row = ItemRow(id=item.id, title=item.title, description=item.description,
                           price=item.price, text_embedding=text_vector.tolist())  # fmt: skip
        rows.insert(0, item_row)
        entities = [
            Entity(label=type(row).__name__.removesuffix("Row"), id=row.id, name=row.name)
            for row in rows
            if isinstance(row, BrandRow | CategoryRow | AttributeRow)
        ]
        linked = list(_row_links(rows))

        def project(projection: PathProjection) -> None:  # the write's part in the projection
            names = {(entity.label, entity.id): entity.name for entity in entities}
            gone = [(rel_type, target) for _, rel_type, target in written.dropped_links]
            projection.add_item(item.id, item_row.name or item_row.title, linked, names, gone)

        with self.paths.writing():
            written = self.guard.call(lambda graph: write_atomically(graph, rows))
            self.paths.wrote(written.stamp, project)
        placed = PlacedItem(item.id, item.title, text_vector, _by_relation(linked),
                            [c.id for c in categories], item_row.name)  # fmt: skip
        dropped = [Entity(label=ENTITY_LABELS[relation_name(rel_type)], id=target)
                   for _, rel_type, target in written.dropped_links]  # fmt: skip
        inductive = self._take_item(placed, entities, dropped)

        def replay(service: Service) -> None:  # the projection, shared, has it already
            with service._adding:  # placed again only if its catalogue read missed this write
                if service._placed.get(placed.id) != placed.fingerprint():
                    service._take_item(placed, entities, dropped)

        self._applied(replay)
        return ItemAdded(
            item_id=item.id, created=created, embedding="inductive" if inductive else "trained",
            brands=[row.id for row in rows if isinstance(row, BrandRow)],
            categories=[c.id for c in categories],
            attributes=[row.id for row in rows if isinstance(row, AttributeRow)],
        )  # fmt: skip

    def _take_item(
        self, placed: PlacedItem, entities: Sequence[Entity], dropped: Sequence[Entity]
    ) -> bool:
        """An item write's in-memory part: its entities resolvable, the item placed."""
        self.recommender.add_entities(entities)
        return self._place(placed, dropped)

    def _checked_links(self, item: NewItem) -> dict[ItemLinkType, list[str]]:
        """The item's links, each target once; refused (naming what is wrong) when one points
        at the item itself, they are over MAX_LINKS, or a target is no item of the shop (a
        link would create it as an empty stub)."""
        links = {link: list(dict.fromkeys(targets)) for link, targets in item.links.items()}
        targets = {target for targets in links.values() for target in targets}
        if item.id in targets:
            raise _invalid_links("an item cannot link to itself; leave its own id out of links")
        if (count := sum(map(len, links.values()))) > MAX_LINKS:
            raise _invalid_links(f"{count} links, over the {MAX_LINKS} an item may have; send "
                                 "its most related items only")  # fmt: skip
        if unknown := sorted(t for t in targets if not self.recommender.knows_item(t)):
            raise UnknownError(
                f"unknown linked item(s) {_listed(unknown)}: links point at items the shop "
                "has; add those with POST /items first, or leave them out"
            )
        return links

    def _place(self, item: PlacedItem, dropped: Sequence[Entity] = ()) -> bool:
        """`_place_all` of one item, its neighbours asked for within the query timeout."""
        found = self.guard.call(lambda graph: _candidates(graph, [item]))
        [inductive] = self._place_all([item], found, dropped={item.id: dropped})
        return inductive

    def _place_all(
        self,
        items: Sequence[PlacedItem],
        found: Sequence[ItemCandidates],
        *,
        dropped: Mapping[str, Sequence[Entity]],
    ) -> list[bool]:
        """Make items the model was not trained on recommendable: each one's embedding by the
        model from its text and links, moved towards the trained items its text `found`
        (lexical and semantic neighbours: where shoppers who search its words look). A trained
        item keeps its embedding (then False) but takes its new title, categories and
        entities; `dropped`: item id -> the entities it no longer links to."""
        updates = []
        for item, candidates in zip(items, found, strict=True):
            vector = self.recommender.embed_item(item.text_vector, item.links)
            if len(neighbours := self._neighbour_rows(candidates)):
                vector = normalise(vector + self.recommender.items[neighbours].mean(axis=0))
            updates.append(ItemUpdate(item.id, vector, item.title or "", item.categories,
                                      item.name))  # fmt: skip
        inductive = self.recommender.add_items(updates)
        self.searcher.add_items({item.id: item.entities() for item in items}, dropped)
        self._placed.update({item.id: item.fingerprint() for item in items})
        return inductive

    def _neighbour_rows(self, candidates: ItemCandidates) -> NDArray[np.int64]:
        """Rows of the NEIGHBOURS trained items first among an item's candidates, fused."""
        fused = fuse({"lexical": [(i, 1.0) for i, _ in candidates.lexical],
                      "semantic": [(i, 1.0) for i, _ in candidates.semantic]}, WEIGHTS)  # fmt: skip
        trained, row_of = self.recommender.trained_items, self.recommender.item_row
        rows = [row for i in sorted(fused, key=lambda i: -fused[i])
                if (row := row_of.get(i)) is not None and row < trained]  # fmt: skip
        return np.array(rows[:NEIGHBOURS], dtype=np.int64)

    def record_events(self, events: Sequence[Event]) -> list[str]:
        """Write the events (one transaction), then move each user by those that were new (a
        retried event is there already and moves nobody again). Returns the users moved."""
        with self._writing() as service:
            return service._record_events(events)

    def _record_events(self, events: Sequence[Event]) -> list[str]:
        for event in events:
            if not self.recommender.knows_item(event.item_id):
                raise UnknownError(f"unknown item {event.item_id!r}; add it with POST /items first")
        now = int(time.time())
        rows: list[Row] = []
        for event in events:
            ts = event.ts if event.ts is not None else now
            rows.append(InteractionRow(user_id=event.user_id, item_id=event.item_id,
                                       kind=event.kind, ts=ts, rating=event.rating))  # fmt: skip
            if event.review is not None:
                rows.append(ReviewRow(id=review_id(event.user_id, event.item_id, ts),
                                      user_id=event.user_id, item_id=event.item_id,
                                      rating=event.rating, ts=ts, text=event.review))  # fmt: skip
        with self.paths.writing():
            written = self.guard.call(lambda graph: write_atomically(graph, rows))
            new = written.new_interactions
            self.paths.wrote(written.stamp, lambda projection: projection.add_interactions(new))
        for row in new:
            self.recommender.record_event(row.user_id, row.item_id, row.kind, row.rating)
        self._applied(lambda service: service._replay_events(new))
        return sorted({row.user_id for row in new})

    def _replay_events(self, rows: Sequence[InteractionRow]) -> None:
        """New interactions its predecessor recorded (the projection, shared, has them),
        except those this one's catalogue read folded in already."""
        for row in rows:
            key = (row.user_id, row.item_id, row.kind, row.ts)
            if key not in self._folded and self.recommender.knows_item(row.item_id):
                self.recommender.record_event(row.user_id, row.item_id, row.kind, row.rating)


def successor_of(current: Service) -> Service:
    """A service over the model KGREC_MODELS_DIR serves (its SERVING pointer, else the
    newest), started and handed over to by `current` (which the caller closes). ReloadError
    says why not; `current` serves on."""
    directory = current.settings.models_dir
    try:
        fresh = Service(
            current.settings, LoadedModel.load(directory), current.metrics, current.parts
        )
    except Exception as exc:  # whatever is wrong with the files: say it, keep serving
        raise ReloadError(f"could not load a model from {directory}: {exc}") from exc
    try:
        current.hand_over(fresh)
    except Exception as exc:
        fresh.close()
        raise ReloadError(f"the new model {fresh.recommender.name} could not start: {exc}") from exc
    return fresh
