"""The graph's version stamp: one `(:GraphVersion {id: 'graph', epoch, version})` node that
`kg.write` bumps as the last statement of each transaction that creates or deletes anything,
so a reader holding a copy of the graph (the API's path projection) can tell cheaply whether
anything wrote since its read.

`epoch` is a random id set when the node is created: emptying the database removes the node,
and the versions that start again from 1 are never mistaken for the old ones. The stamp is
bumped last in its transaction, so the node's lock is held only until the commit: writers in
parallel queue for it at their end and cannot deadlock on it. Writes that bypass `kg.write`
(a Cypher file, Neo4j Browser) do not bump it; the API's sampled replay of served paths is
what notices those.
"""

from __future__ import annotations

from typing import NamedTuple

from kg.connection import Graph, Transaction

VERSION_LABEL = "GraphVersion"
BUMP = (
    f"MERGE (v:{VERSION_LABEL} {{id: 'graph'}}) "
    "ON CREATE SET v.epoch = randomUUID(), v.version = 0 "
    "SET v.version = v.version + 1 RETURN v.epoch AS epoch, v.version AS version"
)
READ = f"OPTIONAL MATCH (v:{VERSION_LABEL} {{id: 'graph'}}) RETURN v.epoch, v.version"


class GraphStamp(NamedTuple):
    epoch: str | None  # None: nothing was written through kg.write since the database was empty
    version: int


def bump(tx: Transaction) -> GraphStamp:
    """Count this transaction's write (run it last in the transaction); the stamp it made."""
    record = tx.run(BUMP).single(strict=True)
    return GraphStamp(record["epoch"], record["version"])


def read_stamp(graph: Graph) -> GraphStamp:
    [[epoch, version]] = graph.read_values(READ)
    return GraphStamp(epoch, version or 0)
