"""The Neo4j driver's lifecycle: connect (waiting while a server starts), run, retry, close.

The only module that calls the driver: its exceptions become `kg.errors`' here, and with a
query timeout every call is bounded on both sides (the server ends the transaction; the
client stops waiting, which a stopped or hung server cannot do for it)."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, wait
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self, TypeAlias, TypeVar, cast

import neo4j
from neo4j import GraphDatabase, ManagedTransaction, Query, RoutingControl, unit_of_work
from neo4j.exceptions import (
    AuthError,
    ConnectionAcquisitionTimeoutError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from kg.connect_info import resolve_connection
from kg.errors import GraphError, GraphQueryError, GraphTimeoutError, GraphUnavailableError
from kg.settings import Settings, get_settings

__all__ = ["Graph", "GraphUnavailableError", "Transaction"]

T = TypeVar("T")
# What a `write_transaction` work function receives: run queries with `tx.run(...)`.
Transaction: TypeAlias = ManagedTransaction

# The server is asked to end a transaction this much before the caller stops waiting (at the
# query timeout), so that a server that still answers ends it itself (and the connection stays
# usable), while the caller never waits past the timeout it set.
SERVER_HEADSTART_S = 0.05
# Neo4j plans (and compiles) a query text on its first run and keeps the plan; on a cold server
# that takes up to seconds (0.7-1.6 s for the explanation queries on a busy 2-core machine), so
# a call that timed out running a text for the first time is run once more with this much more.
PLANNING_S = 5.0
# A pooled connection idle this long gets one round trip (within the acquisition timeout) before
# it is used, so one the server or network dropped without a word is replaced, not queried and
# waited on. (After a restart, the first broken connection makes the driver drop all idle ones.)
LIVENESS_CHECK_S = 1.0


def _server_timeout(timeout_s: float | None) -> float | None:
    """The transaction timeout to send for a caller that waits `timeout_s` (None: no limit)."""
    return None if timeout_s is None else max(timeout_s - SERVER_HEADSTART_S, timeout_s / 2)


def _connection_lost(exc: BaseException) -> bool:
    """Whether the server refused or dropped a connection, as one that stopped or restarts
    does (a hung one keeps its connections)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


# Start nodes a query of `Graph.read_collected_paged` reads at a time.
START_NODES_A_PAGE = 20_000


class _Noting:
    """A driver transaction that notes the text of each query run on it."""

    def __init__(self, tx: Transaction, texts: list[str]) -> None:
        self._tx = tx
        self._texts = texts

    def run(
        self, query: str, parameters: dict[str, Any] | None = None, **kwparameters: Any
    ) -> neo4j.Result:
        self._texts.append(query)
        return self._tx.run(query, parameters, **kwparameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)


class Graph:
    """A connected Neo4j database. Transactions retry on transient errors (deadlocks,
    leader switches, a server that is still starting) for up to `max_retry_time_s`.

    With `query_timeout_s`, no call waits longer than that: the server ends a transaction that
    runs past it (less `SERVER_HEADSTART_S`), and the caller stops waiting even on a server that
    stopped answering, getting `GraphTimeoutError`. Only a call that runs a query text for the first
    time here may take `PLANNING_S` longer (see `_planning`).
    A write that timed out may still land later; kg's writes are idempotent, so running it
    again is safe. None: no limit, for batch work."""

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str = "neo4j",
        max_retry_time_s: float = 30.0,
        connection_timeout_s: float = 30.0,
        query_timeout_s: float | None = None,
    ) -> None:
        self.uri = uri
        self.database = database
        self.query_timeout_s = query_timeout_s
        # Query texts the server has run for this graph since it last stopped (so has plans for);
        # shared with `with_timeout` copies.
        self._planned: set[str] = set()
        acquisition_s = max(max_retry_time_s, connection_timeout_s, 1.0)
        retry_delay_s = 1.0  # the driver's default
        if query_timeout_s is not None:
            # Nothing waits longer than the caller does, and a retry (after a broken pooled
            # connection, say) is of use only if it fits in that time. Retries stop halfway,
            # so that the caller gets their error (unreachable, say) rather than a timeout.
            max_retry_time_s = min(max_retry_time_s, query_timeout_s / 2)
            connection_timeout_s = min(connection_timeout_s, query_timeout_s)
            acquisition_s = min(acquisition_s, query_timeout_s)
            retry_delay_s = min(retry_delay_s, query_timeout_s / 10)
        self.driver = GraphDatabase.driver(
            uri,
            auth=(user, password),
            max_transaction_retry_time=max_retry_time_s,
            initial_retry_delay=retry_delay_s,
            connection_timeout=connection_timeout_s,
            connection_acquisition_timeout=acquisition_s,
            liveness_check_timeout=LIVENESS_CHECK_S,
            notifications_min_severity="OFF",
        )

    @classmethod
    def connect(
        cls,
        settings: Settings | None = None,
        wait_s: float = 10.0,
        query_timeout_s: float | None = None,
    ) -> Graph:
        """Connect to the server these settings point at (nothing is started here:
        `kgrec neo4j start` does that)."""
        settings = settings or get_settings()
        info = resolve_connection(settings)
        graph = cls(
            info.uri, info.user, info.password, settings.neo4j_database,
            settings.max_retry_time_s, query_timeout_s=query_timeout_s,
        )  # fmt: skip
        try:
            graph.wait_until_ready(wait_s)
        except GraphUnavailableError:
            graph.close()
            raise
        return graph

    def with_timeout(self, query_timeout_s: float | None) -> Graph:
        """This graph with another query timeout, on the same driver (close this one, not the
        copy): for a long read, such as a whole catalogue, on a graph made for short ones."""
        other = copy.copy(self)
        other.query_timeout_s = query_timeout_s
        return other

    def wait_until_ready(self, timeout_s: float) -> None:
        """Block until the server answers, or raise GraphUnavailableError saying what to do."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.driver.verify_connectivity()
                return
            except AuthError as exc:  # waiting won't help
                raise self._error(exc) from exc
            except (Neo4jError, DriverError, OSError) as exc:
                if time.monotonic() >= deadline:
                    raise self._unavailable(exc) from exc
                time.sleep(0.5)

    def ping(self) -> None:
        """Ask the server now; raise GraphUnavailableError or GraphTimeoutError unless it
        answers within the query timeout."""
        self._call(self.driver.verify_connectivity, self.query_timeout_s)

    def run(
        self, query: str, parameters: Mapping[str, Any] | None = None, *, write: bool = True
    ) -> list[dict[str, Any]]:
        """Run one parameterised query in its own retried transaction; return the rows."""
        return [record.data() for record in self._execute(query, parameters, write)]

    def read(self, query: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.run(query, parameters, write=False)

    def read_values(
        self, query: str, parameters: Mapping[str, Any] | None = None
    ) -> list[list[Any]]:
        """Rows as plain value lists, skipping `read`'s per-value conversion: for hot paths
        whose queries return only lists, maps and scalars."""
        return [record.values() for record in self._execute(query, parameters, write=False)]

    def read_collected(self, query: str, parameters: Mapping[str, Any] | None = None) -> list[Any]:
        """The list a query `collect`s into its one record. For large reads: the driver pays a
        socket read or two per record, and while the API serves, each waits for the GIL behind
        the request threads, so one record is far faster than many (Beauty's catalogue under
        load: 5.8 s as rows, 0.9 s collected)."""
        [[rows]] = self.read_values(query, parameters)
        return list(rows)

    def read_collected_paged(
        self, query: str, start_label: str, page: int = START_NODES_A_PAGE
    ) -> list[Any]:
        """`read_collected` for a query that groups rows by a start node of `start_label`, read
        `page` start nodes at a time in id order: the query keeps its start nodes to ids in
        ($after, $upto]. One record of every edge's row outgrows a transaction's memory
        (70% of the heap by default) with the shop: a 16x-Beauty shop's 3.2M interactions
        overflowed a 1 GB heap."""
        page_end = (f"MATCH (s:{start_label}) WHERE s.id > $after "
                    "WITH s.id AS id ORDER BY id LIMIT $page RETURN max(id)")  # fmt: skip
        rows: list[Any] = []
        after = ""
        while (
            upto := self.read_values(page_end, {"after": after, "page": page})[0][0]
        ) is not None:
            rows += self.read_collected(query, {"after": after, "upto": upto})
            after = upto
        return rows

    def _execute(
        self, query: str, parameters: Mapping[str, Any] | None, write: bool
    ) -> list[neo4j.Record]:
        def attempt(timeout_s: float | None) -> list[neo4j.Record]:
            def execute() -> list[neo4j.Record]:
                records, _, _ = self.driver.execute_query(
                    Query(query, timeout=_server_timeout(timeout_s)),
                    parameters_=dict(parameters or {}),
                    database_=self.database,
                    routing_=RoutingControl.WRITE if write else RoutingControl.READ,
                )
                return records

            return self._call(execute, timeout_s)

        return self._planning(attempt, [query])

    def write_transaction(self, work: Callable[[Transaction], T]) -> T:
        """Run `work` in one write transaction, retried as a whole on transient errors."""
        ran: list[str] = []

        def attempt(timeout_s: float | None) -> T:
            def noted(tx: Transaction) -> T:
                return work(cast(Transaction, _Noting(tx, ran)))

            timed = unit_of_work(timeout=_server_timeout(timeout_s))(noted)

            def execute() -> T:
                with self._session() as session:
                    return session.execute_write(timed)

            return self._call(execute, timeout_s)

        return self._planning(attempt, ran)

    def _planning(self, attempt: Callable[[float | None], T], ran: list[str]) -> T:
        """`attempt(the query timeout)`; if it timed out running a query text (in `ran`) for
        the first time here, once more with `PLANNING_S` more, as Neo4j was likely planning it
        (a timed-out write may have landed: kg's writes are idempotent, so that is safe)."""
        try:
            result = attempt(self.query_timeout_s)
        except GraphTimeoutError:
            if self.query_timeout_s is None or self._planned.issuperset(ran):
                raise
            self._planned.update(ran)
            result = attempt(self.query_timeout_s + PLANNING_S)
        self._planned.update(ran)
        return result

    @contextmanager
    def session(self) -> Iterator[neo4j.Session]:
        """A driver session for kg's own batch work (auto-commit queries such as
        `CALL ... IN TRANSACTIONS`); no query timeout, errors become kg's."""
        try:
            with self._session() as session:
                yield session
        except (Neo4jError, DriverError, OSError) as exc:
            raise self._error(exc) from exc

    def _session(self) -> neo4j.Session:
        """A session that shares its bookmarks with `execute_query`'s: on a cluster, a read
        routed to a follower after a write here waits until that follower holds the write."""
        return self.driver.session(
            database=self.database, bookmark_manager=self.driver.execute_query_bookmark_manager
        )

    def _call(self, work: Callable[[], T], timeout_s: float | None) -> T:
        """`work()` (driver calls) within `timeout_s` (None: no limit), raising kg's errors
        only."""
        try:
            if timeout_s is None:
                return work()
            return self._within(work, timeout_s)
        except (Neo4jError, DriverError, OSError) as exc:
            if _connection_lost(exc):
                self._planned.clear()  # the server stopped: when back, it has planned nothing
            raise self._error(exc) from exc

    def _within(self, work: Callable[[], T], timeout_s: float) -> T:
        """`work()` in a thread of its own, waited for at most `timeout_s`. The
        driver has no read timeout, so a call on a stopped server would wait until it resumes:
        that thread is left to it (it ends when the server answers or the connection breaks)."""
        outcome: Future[T] = Future()

        def run() -> None:
            try:
                outcome.set_result(work())
            except BaseException as exc:  # handed to the caller, whatever it is
                outcome.set_exception(exc)

        threading.Thread(target=run, name="kgrec-neo4j-call", daemon=True).start()
        if not wait([outcome], timeout=timeout_s).done:
            raise GraphTimeoutError(
                f"Neo4j at {self.uri} did not answer within {timeout_s:g} s: it is overloaded, "
                "stopped or unreachable (`kgrec neo4j status` tells which)."
            )
        return outcome.result()

    def _error(self, exc: Exception) -> GraphError:
        """The kg error for a driver (or socket) exception, with what to do about it."""
        if isinstance(exc, AuthError):
            return GraphUnavailableError(
                f"Neo4j at {self.uri} refused the credentials ({exc}). "
                "Check KGREC_NEO4J_USER / KGREC_NEO4J_PASSWORD, or for the local server "
                "the password file shown by `kgrec neo4j status`."
            )
        if isinstance(exc, ConnectionAcquisitionTimeoutError) or (
            isinstance(exc, Neo4jError) and "TransactionTimedOut" in exc.code
        ):
            return GraphTimeoutError(
                f"Neo4j at {self.uri} did not answer in time ({exc}): it is overloaded, or the "
                "query too slow for the timeout."
            )
        if isinstance(exc, Neo4jError) and (exc.code or "").endswith("OutOfMemoryError"):
            # Transient to the driver (it retried), but the same query needs as much again.
            return GraphQueryError(
                f"Neo4j at {self.uri} ran out of transaction memory for a query ({exc.message}). "
                "Give the server more heap (KGREC_NEO4J_HEAP for `kgrec neo4j start`) or raise "
                "its db.memory.transaction.total.max / db.memory.transaction.max."
            )
        if isinstance(exc, ServiceUnavailable | SessionExpired | TransientError | OSError):
            return self._unavailable(exc)
        return GraphQueryError(f"Neo4j at {self.uri} refused a query: {exc}")

    def _unavailable(self, exc: Exception) -> GraphUnavailableError:
        return GraphUnavailableError(
            f"Neo4j does not answer at {self.uri}: {exc}. "
            "Start it with `kgrec neo4j start` (or set KGREC_NEO4J_URI to a running "
            "server), then check `kgrec neo4j status`."
        )

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
