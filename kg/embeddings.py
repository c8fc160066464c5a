"""Model embeddings back into the graph: an `embedding` property on User and Item nodes and a
cosine vector index per label, so analysts can query neighbours in Neo4j Browser:

    CALL db.index.vector.queryNodes('item_embedding', 10, $vector)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from kg.connection import Graph

EmbeddedLabel = Literal["Item", "User"]
# Labels and index names are constants here, never caller text (Cypher cannot bind them).
INDEX_NAMES: dict[EmbeddedLabel, str] = {"Item": "item_embedding", "User": "user_embedding"}
_SET_EMBEDDINGS: dict[EmbeddedLabel, str] = {
    label: f"UNWIND $rows AS row MATCH (n:{label} {{id: row.id}}) "
    "SET n.embedding = row.embedding RETURN count(n) AS written"
    for label in INDEX_NAMES
}


def write_embeddings(
    graph: Graph,
    label: EmbeddedLabel,
    ids: Sequence[str],
    vectors: NDArray[np.float32],
    batch_size: int = 5000,
) -> int:
    """Set `embedding` on the nodes with these ids (one transaction per batch), then make sure
    the vector index fits the dimension. Returns the number of nodes written."""
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids but {len(vectors)} vectors")
    written = 0
    for start in range(0, len(ids), batch_size):
        rows = [
            {"id": node_id, "embedding": vector.tolist()}
            for node_id, vector in zip(
                ids[start : start + batch_size], vectors[start : start + batch_size], strict=True
            )
        ]
        result = graph.run(_SET_EMBEDDINGS[label], {"rows": rows})
        written += int(result[0]["written"])
    if len(vectors):
        ensure_vector_index(graph, label, int(vectors.shape[1]))
    return written


def ensure_vector_index(graph: Graph, label: EmbeddedLabel, dimensions: int) -> None:
    """A cosine vector index on `label.embedding` of this dimension; one of another dimension
    (from an older model) is dropped and rebuilt."""
    name = INDEX_NAMES[label]
    existing = graph.read(
        "SHOW INDEXES YIELD name, options WHERE name = $name RETURN options", {"name": name}
    )
    if existing:
        config = existing[0]["options"].get("indexConfig", {})
        if config.get("vector.dimensions") == dimensions:
            return
        graph.run(f"DROP INDEX {name} IF EXISTS")
    graph.run(
        f"CREATE VECTOR INDEX {name} IF NOT EXISTS FOR (n:{label}) ON (n.embedding) "
        "OPTIONS {indexConfig: {`vector.dimensions`: $dimensions, "
        "`vector.similarity_function`: 'cosine'}}",
        {"dimensions": dimensions},
    )
