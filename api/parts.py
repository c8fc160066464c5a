"""What every service of one app shares across reloads: the text encoder, the entity extractors
and the path projection. None depends on the model that serves, and each costs as much as a
model to hold (MiniLM, spaCy's pipeline) or to read (the projection: half a minute on Beauty),
so a reload that built them again took that long and, every few reloads, grew the process by a
copy that the allocator kept. Built once in the app's lifespan, closed after its last service."""

from __future__ import annotations

import threading
from types import TracebackType

from api.projection import ProjectionKeeper
from gnn.text import TextEncoder
from ingest.extract.base import ItemText
from ingest.extract.stage import ExtractionStage, build_extractors
from kg.connection import Graph
from kg.provision import resolve_connection
from kg.records import Row
from kg.settings import Settings


def api_graph(settings: Settings) -> Graph:
    """A connection to Neo4j as the API uses it: every call bounded by the API's timeout."""
    info = resolve_connection(settings)
    timeout = settings.api_graph_timeout_s
    return Graph(info.uri, info.user, info.password, settings.neo4j_database,
                 max_retry_time_s=timeout, connection_timeout_s=timeout,
                 query_timeout_s=timeout)  # fmt: skip


class SharedParts:
    def __init__(self, settings: Settings) -> None:
        self.encoder = TextEncoder(settings)
        try:
            self._extractors = build_extractors(settings)
            # Its own connection: the projection's checks outlive the services that read it.
            self._graph = api_graph(settings)
        except BaseException:
            self.encoder.close()
            raise
        self.paths = ProjectionKeeper(self._graph, settings)  # explanations' paths, in memory
        self._extracting = threading.Lock()  # spaCy is not thread-safe

    def extract(self, item: ItemText) -> list[Row]:
        """The graph rows of an item's entities, as ingestion extracts them."""
        with self._extracting:
            stage = ExtractionStage(self._extractors)
            stage.add_item(item)
            return [row for group in stage.rows() for row in group]

    def close(self) -> None:
        self.paths.close()
        self.encoder.close()
        self._graph.close()

    def __enter__(self) -> SharedParts:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
