"""Search candidates from Neo4j's indexes in one round trip: items whose title or description
hold the query's words (full-text `item_search`, BM25), brands, categories and attributes whose
names do (`entity_search`), and items whose text vector is nearest the query's
(`item_text_embedding`, cosine). Fusing and explaining them is the caller's part.

Query text reaches Lucene as plain lower-case words only (`query_words`), so no user input is
ever read as Lucene syntax (`AND`, `field:`, wildcards, fuzzy `~`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from kg.catalogue import Entity
from kg.connection import Graph
from kg.embeddings import TEXT_INDEX

WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 32  # a query longer than this is cut: Lucene ORs every word
MAX_WORD_CHARS = 40

LEXICAL = """CALL () {
  CALL db.index.fulltext.queryNodes('item_search', $words, {limit: $limit}) YIELD node, score
  RETURN collect([node.id, score]) AS lexical
}
CALL () {
  CALL db.index.fulltext.queryNodes('entity_search', $words, {limit: $entities}) YIELD node
  RETURN collect({label: labels(node)[0], id: node.id, name: node.name}) AS entities
}"""
SEMANTIC = f"""CALL () {{
  CALL db.index.vector.queryNodes('{TEXT_INDEX}', $limit, $vector) YIELD node, score
  RETURN collect([node.id, score]) AS semantic
}}"""


class Candidates(BaseModel):
    lexical: list[tuple[str, float]]  # item id, BM25 score; best first
    entities: list[Entity]  # brands, categories, attributes whose names share a word; best first
    semantic: list[tuple[str, float]]  # item id, cosine of text vectors; best first


def query_words(text: str) -> list[str]:
    """The query's words, lower case, in order, without repeats (at most MAX_WORDS)."""
    words = dict.fromkeys(w.lower() for w in WORD.findall(text) if len(w) <= MAX_WORD_CHARS)
    return list(words)[:MAX_WORDS]


# A query without words (only punctuation, say) asks the vector index alone.
WITH_WORDS = f"{LEXICAL}\n{SEMANTIC}\nRETURN lexical, entities, semantic"
WITHOUT_WORDS = f"{SEMANTIC}\nRETURN [] AS lexical, [] AS entities, semantic"


def search_candidates(
    graph: Graph,
    words: Sequence[str],
    vector: NDArray[np.float32],
    *,
    limit: int = 100,
    entity_limit: int = 50,
) -> Candidates:
    """Up to `limit` items from each index and `entity_limit` entities for the query's words
    and its text vector."""
    parameters = {
        "words": " ".join(words),
        "vector": vector.tolist(),
        "limit": limit,
        "entities": entity_limit,
    }
    [row] = graph.read(WITH_WORDS if words else WITHOUT_WORDS, parameters)
    return Candidates.model_validate(row)
