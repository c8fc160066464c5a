"""Search candidates from Neo4j's indexes in one round trip: items whose title or description
hold the query's words (full-text `item_search`, BM25), brands, categories and attributes whose
names do (`entity_search`), and items whose text vector is nearest the query's
(`item_text_embedding`, cosine); or the items alone for many queries at once (a new item's
neighbours). Fusing and explaining them is the caller's part.

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


def query_words(text: str) -> list[str]:
    """The query's words, lower case, in order, without repeats (at most MAX_WORDS)."""
    words = dict.fromkeys(w.lower() for w in WORD.findall(text) if len(w) <= MAX_WORD_CHARS)
    return list(words)[:MAX_WORDS]


class ItemCandidates(BaseModel):
    lexical: list[tuple[str, float]]  # item id, BM25 score; best first
    semantic: list[tuple[str, float]]  # item id, cosine of text vectors; best first


class Candidates(ItemCandidates):
    entities: list[Entity]  # brands, categories, attributes whose names share a word; best first


def _lexical(words: str) -> str:
    """Items whose title or description hold `words` (a Cypher expression), best first."""
    return (f"CALL db.index.fulltext.queryNodes('item_search', {words}, {{limit: $limit}}) "
            "YIELD node, score\n  RETURN collect([node.id, score]) AS lexical")  # fmt: skip


def _semantic(vector: str) -> str:
    """Items whose text vector is nearest `vector` (a Cypher expression), best first."""
    return (f"CALL db.index.vector.queryNodes('{TEXT_INDEX}', $limit, {vector}) "
            "YIELD node, score\n  RETURN collect([node.id, score]) AS semantic")  # fmt: skip


def _subquery(scope: str, body: str) -> str:
    return f"CALL ({scope}) {{\n  {body}\n}}"


# Brands, categories and attributes whose names hold the query's words.
ENTITIES = ("CALL db.index.fulltext.queryNodes('entity_search', $words, {limit: $entities}) "
            "YIELD node\n  RETURN collect({label: labels(node)[0], id: node.id, name: node.name})"
            " AS entities")  # fmt: skip
# A query without words (only punctuation, say) asks the vector index alone: Lucene refuses an
# empty query.
WITH_WORDS = "\n".join([_subquery("", _lexical("$words")), _subquery("", ENTITIES),
                        _subquery("", _semantic("$vector")),
                        "RETURN lexical, entities, semantic"])  # fmt: skip
WITHOUT_WORDS = "\n".join([_subquery("", _semantic("$vector")),
                           "RETURN [] AS lexical, [] AS entities, semantic"])  # fmt: skip
# The items of many queries ({words, vector} each) in one round trip: a row each, in order.
ITEMS_OF_EACH = "\n".join([
    "UNWIND range(0, size($queries) - 1) AS n",
    "WITH n, $queries[n] AS query",
    _subquery("query", f"WITH query WHERE query.words <> ''\n  {_lexical('query.words')}"),
    _subquery("query", _semantic("query.vector")),
    "RETURN lexical, semantic ORDER BY n",
])  # fmt: skip


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


def item_candidates(
    graph: Graph, queries: Sequence[tuple[Sequence[str], NDArray[np.float32]]], *, limit: int
) -> list[ItemCandidates]:
    """For each query (its words and text vector), up to `limit` items from each index, as
    `search_candidates` finds them: one round trip for all."""
    if not queries:
        return []
    parameters = {
        "queries": [
            {"words": " ".join(words), "vector": vector.tolist()} for words, vector in queries
        ],
        "limit": limit,
    }
    return [ItemCandidates.model_validate(row) for row in graph.read(ITEMS_OF_EACH, parameters)]
