"""Hybrid search: the query's words and meaning, fused, then (when someone is named) bent
towards them.

Three ranked lists come from the graph's indexes and memory:
- lexical: items whose title or description hold the query's words (BM25, `kg.search`);
- semantic: items whose text vector is nearest the query's (MiniLM, cosine);
- entities: items of every brand, category (subcategories included) and attribute whose whole
  name the query holds ("nail polish" -> the category Nail Polish), those linked to more of the
  query's words first, then by the trained model's score for the query (its text and those
  entities embedded as a virtual item, as `POST /recommendations` does); each counts by the
  share of the query's words its entities name;
and, when the request names a user or liked items, a fourth: the same candidates in the order
the model ranks them for that person. Reciprocal-rank fusion (Cormack et al. 2009) adds
weight / (RRF_K + rank) over the lists, so no list's raw scores need to be comparable.

Every hit says why it was found: the query words in its title, the named entities it links to
(graph paths: entity <- item), or that its text is close in meaning to the query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from api.engine import Recommender, Vector
from api.explain import MAX_EXPLANATIONS
from api.schemas import Explanation
from kg.catalogue import Catalogue, Entity
from kg.paths import GraphPath, PathNode, path_cypher
from kg.search import Candidates, query_words

RRF_K = 60
# Picked on the tuning halves of Beauty's known-item and category-name queries
# (bench/search.py); the named entities' list counts twice, scaled by how much of the query
# they name.
WEIGHTS = {"lexical": 1.0, "semantic": 1.0, "entities": 2.0, "personal": 0.5}
ENTITY_LIST = 200  # items of the named entities that enter the fusion
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it",
    "of", "on", "or", "s", "the", "to", "with",
})  # fmt: skip


def stem(word: str) -> str:
    """A word's singular, enough to match names to queries the same way on both sides
    ("rolls" -> "roll", "brushes" -> "brush", "batteries" -> "battery", "glass" stays)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def content_stems(text: str) -> set[str]:
    return {stem(word) for word in query_words(text) if word not in STOP_WORDS}


@dataclass
class SearchHit:
    item_id: str
    score: float  # the fused score
    name: str | None  # its display name
    words: list[str] = field(default_factory=list)  # query words its title holds
    lexical: bool = False  # its title or description matched the words
    similarity: float | None = None  # cosine of its text to the query's, when that found it


@dataclass(frozen=True)
class Query:
    """What a search ranks by: the text, its stems, and the entities its words name."""

    text: str
    stems: set[str]
    entities: list[Entity]


class Searcher:
    """Ranks the graph's candidates for a query; keeps which items each brand and attribute
    has (categories come from the recommender), updated as items are added."""

    def __init__(self, recommender: Recommender) -> None:
        self.recommender = recommender
        self.entity_items: dict[tuple[str, str], list[str]] = {}

    def load(self, catalogue: Catalogue) -> None:
        self.entity_items = dict(catalogue.entity_items)

    def add_items(
        self, entities: Mapping[str, Iterable[Entity]], dropped: Mapping[str, Iterable[Entity]]
    ) -> None:
        """New or updated items' brands and attributes (item id -> its entities), less those
        they `dropped` (item id -> entities it no longer links to); in a new dict: searches
        may be reading the old."""
        updated = dict(self.entity_items)
        leaving: dict[tuple[str, str], set[str]] = {}
        for item_id, gone in dropped.items():
            for entity in gone:
                leaving.setdefault((entity.label, entity.id), set()).add(item_id)
        for key, gone_items in leaving.items():
            if key in updated:
                updated[key] = [item for item in updated[key] if item not in gone_items]
        joining: dict[tuple[str, str], list[str]] = {}
        for item_id, linked in entities.items():
            for entity in linked:
                if entity.label != "Category":  # the recommender's category rows hold those
                    joining.setdefault((entity.label, entity.id), []).append(item_id)
        for key, items in joining.items():
            held = updated.get(key, [])
            present = set(held)
            updated[key] = [*held, *(item for item in dict.fromkeys(items) if item not in present)]
        self.entity_items = updated

    def parse(self, text: str, candidates: Candidates) -> Query:
        """The query with the candidate entities whose whole name it holds."""
        stems = content_stems(text)
        named = [e for e in candidates.entities
                 if (name := content_stems(e.name or e.id)) and name <= stems]  # fmt: skip
        return Query(text, stems, named)

    def rank(
        self,
        query: Query,
        candidates: Candidates,
        k: int,
        *,
        query_vector: Vector | None,
        personal: Vector | None = None,
        history: Iterable[int] = (),
        exclude: Iterable[int] = (),
        within: NDArray[np.int64] | None = None,
    ) -> list[SearchHit]:
        """The k best hits. `query_vector`: the query in the model's space (orders the named
        entities' items); `personal`: the asker in the model's space (with `history`, their
        items, for the model's item-item term)."""
        recommender = self.recommender
        lists: dict[str, list[tuple[str, float]]] = {
            "lexical": [(item, 1.0) for item, _ in candidates.lexical],
            "semantic": [(item, 1.0) for item, _ in candidates.semantic],
            "entities": self._entity_list(query, query_vector),
        }
        pool = {item for ranked in lists.values() for item, _ in ranked}
        rows = np.array(
            sorted(row for item in pool if (row := recommender.item_row.get(item)) is not None),
            dtype=np.int64,
        )
        if personal is not None and len(rows):
            scored = recommender.top_k(personal, len(rows), within=rows, history=history)
            lists["personal"] = [(item, 1.0) for item, _ in scored]
        fused = fuse(lists, WEIGHTS)
        allowed = self._allowed(pool, exclude, within)
        best = sorted((item for item in fused if item in allowed), key=lambda i: -fused[i])[:k]
        lexical = {item for item, _ in candidates.lexical}
        similarity = dict(candidates.semantic)
        titles = recommender.titles
        return [
            SearchHit(
                item_id=item,
                score=fused[item],
                name=recommender.display_name(item),
                words=title_words(query, titles.get(item)),
                lexical=item in lexical,
                similarity=similarity.get(item),
            )
            for item in best
        ]

    def _entity_list(self, query: Query, vector: Vector | None) -> list[tuple[str, float]]:
        """Items of the named entities, each with the share of the query's words its entities
        name (so "rose" named in "rose argan serum" counts a third of "nail polish" named in
        full): larger shares first, then by the model's score for the query."""
        covered: dict[str, set[str]] = {}
        for entity in query.entities:
            words = content_stems(entity.name or entity.id)
            for item in self._items_of(entity):
                covered.setdefault(item, set()).update(words)
        if not covered:
            return []
        recommender = self.recommender
        rows = np.array([r for i in covered if (r := recommender.item_row.get(i)) is not None],
                        dtype=np.int64)  # fmt: skip
        order = {item: n for n, (item, _) in
                 enumerate(recommender.top_k(vector, len(rows), within=rows))}  # fmt: skip
        ranked = sorted(covered, key=lambda i: (-len(covered[i]), order.get(i, len(order)), i))
        return [(item, len(covered[item]) / len(query.stems)) for item in ranked[:ENTITY_LIST]]

    def _items_of(self, entity: Entity) -> list[str]:
        if entity.label == "Category":
            ids = self.recommender.item_ids
            return [ids[row] for row in self.recommender.category(entity.id)]
        return self.entity_items.get((entity.label, entity.id), [])

    def _allowed(
        self, pool: set[str], exclude: Iterable[int], within: NDArray[np.int64] | None
    ) -> set[str]:
        ids = self.recommender.item_ids
        allowed = pool - {ids[row] for row in exclude}
        if within is not None:
            allowed &= {ids[row] for row in within}
        return allowed


def fuse(
    lists: Mapping[str, Sequence[tuple[str, float]]], weights: Mapping[str, float]
) -> dict[str, float]:
    """Reciprocal-rank fusion: each item's sum of weight x strength / (RRF_K + rank) over the
    lists of (item, strength in 0..1), best first."""
    fused: dict[str, float] = {}
    for name, ranked in lists.items():
        for rank, (item, strength) in enumerate(ranked, start=1):
            fused[item] = fused.get(item, 0.0) + weights[name] * strength / (RRF_K + rank)
    return fused


def title_words(query: Query, title: str | None) -> list[str]:
    """The query's words (as the shopper typed them) that the title holds."""
    if not title:
        return []
    held = content_stems(title) & query.stems
    return [word for word in query_words(query.text) if stem(word) in held]


def hit_explanations(
    hits: Sequence[SearchHit], query: Query, paths: Mapping[str, Sequence[Explanation]]
) -> dict[str, list[Explanation]]:
    """Each hit's reasons, at most MAX_EXPLANATIONS: the query words its title holds (or its
    description, for a lexical hit whose title holds none), then the graph `paths` to it (from
    the named entities, the user, the liked items), else that its text is close in meaning."""
    explained = {}
    for hit in hits:
        reasons: list[Explanation] = []
        if hit.words:
            quoted = ", ".join(f'"{word}"' for word in hit.words)
            reasons.append(_about_item(hit, f"its title has {quoted}", 1.0))
        elif hit.lexical:
            reasons.append(_about_item(hit, "its description has words of your search", 1.0))
        reasons += paths.get(hit.item_id, [])
        if not reasons:
            close = f'it is close in meaning to "{query.text}"'
            reasons.append(_about_item(hit, close, round(hit.similarity or 0.0, 4)))
        explained[hit.item_id] = reasons[:MAX_EXPLANATIONS]
    return explained


def _about_item(hit: SearchHit, reason: str, score: float) -> Explanation:
    """A reason in the item itself: its path is the item node alone."""
    path = GraphPath(nodes=[PathNode(label="Item", id=hit.item_id, name=hit.name)],
                     relationships=[])  # fmt: skip
    name = f'"{hit.name}"' if hit.name else f"Item {hit.item_id}"
    return Explanation(sentence=f"{name} matches your search: {reason}.", score=score,
                       cypher=path_cypher(path), path=path)  # fmt: skip
