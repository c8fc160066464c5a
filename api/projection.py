"""The service's path projection (`kg.projection`) and how it stays true to the graph.

Read with the catalogue, together with the graph's version stamp (`kg.version`); one keeper
serves every service of the app (`api.parts`), so a reload reads it again only when the graph
holds a version the projection does not. The API's
own writes update it at once, each noting the stamp its transaction made: while every version
past the projection's is one of the API's own, the projection is current. A check in the
background every `api_projection_check_s` reads the stamp; a version the API did not make (a
load by another writer, or a new epoch: the database was emptied) makes it stale, and it is
read again off the request path and swapped in whole. Until then explanations come from
Neo4j's query, so a path another writer may have deleted is never served from memory. One in
`api_projection_sample` explained requests also has a served path replayed in Neo4j by the next
check, at most one a check (writes that bypass `kg.write` bump no stamp); a path Neo4j no longer
holds makes the projection stale.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kg.connection import Graph
from kg.errors import GraphError
from kg.paths import GraphPath, path_cypher, path_query
from kg.projection import PathProjection
from kg.settings import Settings
from kg.version import GraphStamp, read_stamp

log = logging.getLogger("kgrec.api")
Update = Callable[[PathProjection], None]  # a write's part in the projection (idempotent)


class ProjectionKeeper:
    def __init__(self, graph: Graph, settings: Settings) -> None:
        self._enabled = settings.api_projection
        self._graph = graph
        self._check_s = settings.api_projection_check_s
        self._sample_every = settings.api_projection_sample
        self._lock = threading.Lock()
        self._projection: PathProjection | None = None
        self._stamp: GraphStamp | None = None  # the versions the projection holds, all of them
        self._own: set[int] = set()  # versions of the API's writes past `_stamp`
        self._in_flight = 0  # the API's writes whose stamp is not noted yet
        self._pending: int | None = None  # a version seen while writes were in flight
        self._stale = False
        self._rebuilding: list[tuple[GraphStamp, Update]] | None = None
        self._reading = threading.Lock()
        self._served = itertools.count(1)
        self._replay: GraphPath | None = None  # a served path, to replay in Neo4j
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self, graph: Graph) -> None:
        """Read the projection (with the catalogue) unless it holds the graph's version
        already (a reload's catalogue read: the services before it kept it current); start
        checking it."""
        if not self._enabled:
            return
        if self._projection is not None:
            stamp = read_stamp(graph)
            with self._lock:
                self._compare(stamp)
        if self.ready() is None:
            self._read(graph)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._keep, daemon=True)
                self._thread.start()

    def ready(self) -> PathProjection | None:
        """The projection when it holds what the graph holds; None: ask Neo4j."""
        projection = self._projection
        return None if projection is None or self._stale else projection

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around one of the API's writes, until `wrote` has noted its stamp: a check in the
        meantime sees its version before the projection does, and waits for it."""
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def wrote(self, stamp: GraphStamp, update: Update) -> None:
        """One of the API's writes, done: its part applied, its version counted as known."""
        with self._lock:
            if self._projection is None:
                return
            update(self._projection)
            if self._rebuilding is not None:  # the read under way may have missed it
                self._rebuilding.append((stamp, update))
            self._note(stamp)

    def sample(self, path: GraphPath) -> None:
        """A served path: every `api_projection_sample`-th one is replayed in Neo4j by the
        next check, so at most one a check however many requests come (the latest sampled)."""
        if self._sample_every and next(self._served) % self._sample_every == 0:
            self._replay = path

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def check(self) -> None:
        """Replay the sampled path, if any, and read the stamp: stale, the projection is read
        again in the background (explanations ask Neo4j meanwhile). The background thread
        calls this every `api_projection_check_s`; tests call it to not wait for that."""
        try:
            if (path := self._replay) is not None:
                self._replay = None
                if not self._graph.read(*path_query(path)):
                    log.warning("a served explanation path is not in Neo4j; reading the "
                                "projection again: %s", path_cypher(path))  # fmt: skip
                    self._stale = True
            stamp = read_stamp(self._graph)
        except GraphError as exc:  # stays as it is; the next check tries again
            log.warning("could not check the path projection against Neo4j: %s", exc)
            return
        with self._lock:
            self._compare(stamp)
            if self._stale:
                self._wake.set()

    # -- under the lock -------------------------------------------------------------------

    def _note(self, stamp: GraphStamp) -> None:
        known = self._stamp
        if known is None or stamp.epoch != known.epoch:
            self._stale = True  # the database was emptied or first stamped: read it all
            self._wake.set()
            return
        if stamp.version > known.version:  # a write replayed after a read that saw it: known
            self._own.add(stamp.version)
        version = known.version
        while version + 1 in self._own:
            version += 1
            self._own.discard(version)
        self._stamp = known._replace(version=version)

    def _compare(self, stamp: GraphStamp) -> None:
        """Stale when the graph holds a version the API did not write; while writes of its own
        are in flight, a version past the known ones may be theirs: one check later, it is
        stale if they have not filled the gap."""
        known = self._stamp
        if known is None or stamp.epoch != known.epoch:
            self._stale = True
        elif stamp.version <= known.version:
            self._pending = None
        elif self._in_flight == 0 or (self._pending is not None and self._pending > known.version):
            self._stale = True
        else:
            self._pending = stamp.version

    def _swap(self, stamp: GraphStamp, projection: PathProjection) -> None:
        self._projection, self._stamp = projection, stamp
        self._own, self._pending, self._stale = set(), None, False

    # -- the background thread ------------------------------------------------------------

    def _read(self, graph: Graph) -> None:
        """Read the projection and swap it in, with the API's writes made meanwhile; one read
        at a time (a reload's and the background thread's), none once another made it current."""
        with self._reading:
            if self.ready() is None:
                self._read_now(graph)

    def _read_now(self, graph: Graph) -> None:
        started = time.perf_counter()
        with self._lock:
            self._rebuilding = []
        try:
            stamp, projection = read_stamp(graph), PathProjection.read(graph)
        except BaseException:
            with self._lock:
                self._rebuilding = None
            raise
        with self._lock:
            writes, self._rebuilding = self._rebuilding or [], None
            self._swap(stamp, projection)
            for written, update in writes:  # made while it read: it may have missed them
                update(projection)
                if written.version > stamp.version:
                    self._note(written)
        log.info("path projection read in %.1f s", time.perf_counter() - started)

    def _keep(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(self._check_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._stale:
                try:
                    self._read(self._graph.with_timeout(None))
                except Exception:  # stale still: explanations ask Neo4j; tried again
                    log.exception("could not read the path projection again")
            elif time.monotonic() - last >= self._check_s:
                last = time.monotonic()
                self.check()
