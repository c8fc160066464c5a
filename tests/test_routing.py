"""A routing URI (neo4j://, as a cluster or Aura takes): kg's writes and reads through it, and
a read after a write waits for that write wherever it is routed (bookmarks)."""

from __future__ import annotations

from kg import Graph, Settings
from kg.provision import resolve_connection


def test_a_routing_uri_reads_what_was_just_written(graph: Graph, neo4j_settings: Settings) -> None:
    info = resolve_connection(neo4j_settings)
    scheme, address = info.uri.split("://", 1)
    assert scheme == "bolt"  # the test server's direct URI
    routed = Graph(f"neo4j://{address}", info.user, info.password, neo4j_settings.neo4j_database)
    try:
        routed.wait_until_ready(30)
        bookmarks = routed.driver.execute_query_bookmark_manager
        before = bookmarks.get_bookmarks()
        routed.write_transaction(
            lambda tx: tx.run("MERGE (:Brand {id: 'routed', name: 'Routed'})").consume()
        )
        # The write's bookmark is what the next read, on whichever member, waits for.
        after = bookmarks.get_bookmarks()
        assert after and after != before
        rows = routed.read("MATCH (b:Brand {id: 'routed'}) RETURN b.name AS name")
        assert rows == [{"name": "Routed"}]
    finally:
        routed.close()
