"""Vectors in the graph, each with a cosine vector index: the model's embeddings on User and
Item nodes (`embedding`, for analysts in Neo4j Browser) and the items' text vectors
(`text_embedding`, the semantic half of search):

    CALL db.index.vector.queryNodes('item_embedding', 10, $vector)
    CALL db.index.vector.queryNodes('item_text_embedding', 10, $text_vector)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from kg.connection import Graph

EmbeddedLabel = Literal["Item", "User"]
VectorProperty = Literal["embedding", "text_embedding"]
# Labels, properties and index names are constants here, never caller text (Cypher cannot
# bind them).
INDEX_NAMES: dict[tuple[EmbeddedLabel, VectorProperty], str] = {
    ("Item", "embedding"): "item_embedding",
    ("User", "embedding"): "user_embedding",
    ("Item", "text_embedding"): "item_text_embedding",
}
TEXT_INDEX = INDEX_NAMES["Item", "text_embedding"]


def write_embeddings(
    graph: Graph,
    label: EmbeddedLabel,
    ids: Sequence[str],
    vectors: NDArray[np.float32],
    batch_size: int = 5000,
    *,
    prop: VectorProperty = "embedding",
) -> int:
    """Set `prop` on the nodes with these ids (one transaction per batch; an all-zero vector,
    which has no direction, removes it instead), then make sure the vector index fits the
    dimension. Returns the number of nodes written."""
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids but {len(vectors)} vectors")
    query = (
        f"UNWIND $rows AS row MATCH (n:{label} {{id: row.id}}) "
        f"SET n.{prop} = row.vector RETURN count(n) AS written"
    )
    written = 0
    for start in range(0, len(ids), batch_size):
        rows = [
            {"id": node_id, "vector": vector.tolist() if vector.any() else None}
            for node_id, vector in zip(
                ids[start : start + batch_size], vectors[start : start + batch_size], strict=True
            )
        ]
        result = graph.run(query, {"rows": rows})
        written += int(result[0]["written"])
    if len(vectors):
        ensure_vector_index(graph, label, int(vectors.shape[1]), prop=prop)
    return written


def ensure_vector_index(
    graph: Graph, label: EmbeddedLabel, dimensions: int, *, prop: VectorProperty = "embedding"
) -> None:
    """A cosine vector index on `label.prop` of this dimension; one of another dimension
    (from an older model) is dropped and rebuilt."""
    name = INDEX_NAMES[label, prop]
    existing = graph.read(
        "SHOW INDEXES YIELD name, options WHERE name = $name RETURN options", {"name": name}
    )
    if existing:
        config = existing[0]["options"].get("indexConfig", {})
        if config.get("vector.dimensions") == dimensions:
            return
        graph.run(f"DROP INDEX {name} IF EXISTS")
    graph.run(
        f"CREATE VECTOR INDEX {name} IF NOT EXISTS FOR (n:{label}) ON (n.{prop}) "
        "OPTIONS {indexConfig: {`vector.dimensions`: $dimensions, "
        "`vector.similarity_function`: 'cosine'}}",
        {"dimensions": dimensions},
    )


MODEL_VERSION_QUERY = """
MERGE (m:ModelVersion {id: $version})
SET m.created = datetime($created), m.parent = $parent, m += $figures, m.embedded = datetime()
WITH m
OPTIONAL MATCH (parent:ModelVersion {id: $parent})
FOREACH (_ IN CASE WHEN parent IS NULL THEN [] ELSE [1] END |
  MERGE (m)-[:RETRAINED_FROM]->(parent))
"""


def record_model_version(graph: Graph, card: Mapping[str, Any]) -> None:
    """A `(:ModelVersion)` node for the model whose embeddings were just written: its version,
    creation time, parent (`-[:RETRAINED_FROM]->` when recorded too), when its embeddings came
    into the graph (`embedded`), its test metrics ("ndcg@10" -> `ndcg_at_10`) and the number
    of interactions it learned from; `card` is the model's card.json. For analysts in
    Browser: the registry in the models directory stays what serving follows."""
    metrics = card.get("metrics") or {}
    figures: dict[str, float] = {
        key.replace("@", "_at_"): float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float)
    }
    interactions = (card.get("data") or {}).get("interactions") or {}
    figures["interactions"] = float(sum(interactions.values()))
    graph.run(
        MODEL_VERSION_QUERY,
        {"version": card["version"], "created": card["created"], "parent": card.get("parent"),
         "figures": figures},
    )  # fmt: skip
