"""What the recommendation and search routes answer: ranked items, titled, explained."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fastapi import Response

from api.explain import answer_as_seen
from api.schemas import Explanation, Recommendation, Recommendations, Strategy
from api.search import hit_explanations
from api.service import Service
from kg.catalogue import Entity

POPULAR_NOTE = "nothing is known about this user yet: these are the most popular items"


def seen_json(body: Recommendations, *, admin: bool) -> Response:
    """The answer as the caller may see it (`answer_as_seen`), as JSON made where the route
    runs. FastAPI sends a Response as it is; a model returned by a sync route would be
    validated again first, in one more hop to a worker thread, which cost every read about as
    much CPU as ranking it. The routes name `Recommendations` as their response model, for the
    OpenAPI."""
    seen = answer_as_seen(body, admin=admin)
    return Response(seen.model_dump_json(), media_type="application/json")


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
            [item for item, _ in scored], user_id=user_id, liked=liked, entities=entities
        )
        warnings += problems
    return ranked_items(service, scored, user_id, strategy, explanations, warnings)


def ranked_items(
    service: Service,
    scored: Sequence[tuple[str, float]],
    user_id: str | None,
    strategy: Strategy,
    explanations: Mapping[str, list[Explanation]] | None,
    warnings: list[str],
) -> Recommendations:
    """The response: each (item, score) with its name, title and explanations (None: not asked
    for, or Neo4j unreachable)."""
    recommender = service.recommender
    return Recommendations(
        user_id=user_id,
        strategy=strategy,
        model=recommender.name,
        items=[
            Recommendation(
                item_id=item,
                name=recommender.display_name(item),
                title=recommender.titles.get(item),
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
        return ranked_items(service, scored, user_id, "search", None, warnings)
    query = service.searcher.parse(text, candidates)
    query_vector = recommender.context_vector(text_vector, (), [*query.entities, *entities], None)
    hits = service.searcher.rank(
        query, candidates, k, query_vector=query_vector, personal=personal,
        history=liked_rows | seen, exclude=exclude, within=within,
    )  # fmt: skip
    explanations = None
    if explain:
        paths, problems = service.explanations(
            [hit.item_id for hit in hits], user_id=user_id, liked=liked,
            entities=[*query.entities, *entities],
        )  # fmt: skip
        warnings += problems
        explanations = hit_explanations(hits, query, paths or {})
    scored = [(hit.item_id, hit.score) for hit in hits]
    return ranked_items(service, scored, user_id, "search", explanations, warnings)
