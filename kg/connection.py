"""The Neo4j driver's lifecycle: connect (waiting while a server starts), run, retry, close."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import neo4j
from neo4j import GraphDatabase, ManagedTransaction, RoutingControl
from neo4j.exceptions import AuthError, ServiceUnavailable, SessionExpired

from kg.settings import Settings, get_settings

T = TypeVar("T")


class GraphUnavailableError(RuntimeError):
    """Neo4j could not be reached; the message says how to bring it up."""


class Graph:
    """A connected Neo4j database. Transactions retry on transient errors (deadlocks,
    leader switches, a server that is still starting) for up to `max_retry_time_s`."""

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str = "neo4j",
        max_retry_time_s: float = 30.0,
        connection_timeout_s: float = 30.0,
    ) -> None:
        self.uri = uri
        self.database = database
        self.driver = GraphDatabase.driver(
            uri,
            auth=(user, password),
            max_transaction_retry_time=max_retry_time_s,
            connection_timeout=connection_timeout_s,
            connection_acquisition_timeout=max(max_retry_time_s, connection_timeout_s, 1.0),
            notifications_min_severity="OFF",
        )

    @classmethod
    def connect(cls, settings: Settings | None = None, wait_s: float = 10.0) -> Graph:
        """Connect to the server that provisioning resolves for these settings (nothing is
        started here: `kgrec neo4j start` does that)."""
        from kg.provision import resolve_connection  # provisioning builds on this module

        settings = settings or get_settings()
        info = resolve_connection(settings)
        graph = cls(
            info.uri, info.user, info.password, settings.neo4j_database, settings.max_retry_time_s
        )
        try:
            graph.wait_until_ready(wait_s)
        except GraphUnavailableError:
            graph.close()
            raise
        return graph

    def wait_until_ready(self, timeout_s: float) -> None:
        """Block until the server answers a query, or raise with what to do next."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.driver.verify_connectivity()
                return
            except AuthError as exc:
                raise GraphUnavailableError(
                    f"Neo4j at {self.uri} refused the credentials ({exc.message}). "
                    "Check KGREC_NEO4J_USER / KGREC_NEO4J_PASSWORD, or for the local server "
                    "the password file shown by `kgrec neo4j status`."
                ) from exc
            except (ServiceUnavailable, SessionExpired, OSError) as exc:
                if time.monotonic() >= deadline:
                    raise GraphUnavailableError(
                        f"Neo4j does not answer at {self.uri}: {exc}. "
                        "Start it with `kgrec neo4j start` (or set KGREC_NEO4J_URI to a running "
                        "server), then check `kgrec neo4j status`."
                    ) from exc
                time.sleep(0.5)

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

    def _execute(
        self, query: str, parameters: Mapping[str, Any] | None, write: bool
    ) -> list[neo4j.Record]:
        records, _, _ = self.driver.execute_query(
            query,
            parameters_=dict(parameters or {}),
            database_=self.database,
            routing_=RoutingControl.WRITE if write else RoutingControl.READ,
        )
        return records

    def write_transaction(self, work: Callable[[ManagedTransaction], T]) -> T:
        """Run `work` in one write transaction, retried as a whole on transient errors."""
        with self.driver.session(database=self.database) as session:
            return session.execute_write(work)

    def session(self) -> neo4j.Session:
        return self.driver.session(database=self.database)

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
