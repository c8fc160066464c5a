"""What the recommendation and search routes answer: ranked items, titled, explained."""

from __future__ import annotations

from collections.abc import Sequence

from api.schemas import Recommendation, Recommendations, Strategy
from api.search import hit_explanations
from api.service import Service
from kg.catalogue import Entity

POPULAR_NOTE = "nothing is known about this user yet: these are the most popular items"


def answer(
    service: Service,
    scored: Sequence[tuple[str, float]],
    *,
    user_id: str | None,
    strategy: Strategy,
    explain: bool,
    liked: Sequence[str] = (),
    entities: Sequence[Entity] = (),
) -> Recommendations:
    warnings = [POPULAR_NOTE] if strategy == "popular" else []
    explanations = None
    if explain:
        explanations, problems = service.explanations(
            [item for item, _ in scored],
            user_id=user_id if user_id and service.recommender.knows_user(user_id) else None,
            liked=liked, entities=entities,
        )  # fmt: skip
        warnings += problems
    titles = service.recommender.titles
    return Recommendations(
        user_id=user_id,
        strategy=strategy,
        model=service.recommender.name,
        items=[
            Recommendation(
                item_id=item,
                title=titles.get(item),
                score=round(score, 6),
                explanations=explanations.get(item, []) if explanations is not None else None,
            )
            for item, score in scored
        ],
        warnings=warnings,
    )


def search_answer(
    service: Service,
    text: str,
    k: int,
    *,
    user_id: str | None = None,
    liked: Sequence[str] = (),
    entities: Sequence[Entity] = (),
    category: str | None = None,
    exclude_seen: bool = True,
    explain: bool = True,
) -> Recommendations:
    """The k best items for a query: the graph's indexes fused (`api.search`), bent towards
    the user, the liked items and the entities when given. Without Neo4j: the query's vector
    alone, as a context request ranks."""
    recommender = service.recommender
    within = recommender.category(category) if category else None
    personal = recommender.context_vector(None, liked, entities, user_id)  # unknown liked: 404
    liked_rows = {recommender.item_row[item] for item in liked}
    seen = recommender.seen_rows(user_id)
    exclude = liked_rows | seen if exclude_seen else liked_rows
    candidates, text_vector, warnings = service.search_candidates(text)
    if candidates is None:
        vector = recommender.context_vector(text_vector, liked, entities, user_id)
        # The query leads even where the blend gives the vectors no weight ("EASE alone").
        scored = recommender.top_k(vector, k, exclude=exclude, history=liked_rows | seen,
                                   within=within, vector_weight=1.0)  # fmt: skip
        response = answer(service, scored, user_id=user_id, strategy="search", explain=False)
        response.warnings += warnings
        return response
    query = service.searcher.parse(text, candidates)
    query_vector = recommender.context_vector(text_vector, (), [*query.entities, *entities], None)
    hits = service.searcher.rank(
        query, candidates, k, query_vector=query_vector, personal=personal,
        history=liked_rows | seen, exclude=exclude, within=within,
    )  # fmt: skip
    explanations = None
    if explain:
        known_user = user_id if user_id and recommender.knows_user(user_id) else None
        paths, problems = service.explanations(
            [hit.item_id for hit in hits], user_id=known_user, liked=liked,
            entities=[*query.entities, *entities],
        )  # fmt: skip
        warnings += problems
        explanations = hit_explanations(hits, query, paths or {})
    return Recommendations(
        user_id=user_id,
        strategy="search",
        model=recommender.name,
        items=[
            Recommendation(
                item_id=hit.item_id,
                title=hit.title,
                score=round(hit.score, 6),
                explanations=explanations.get(hit.item_id) if explanations is not None else None,
            )
            for hit in hits
        ],
        warnings=warnings,
    )
