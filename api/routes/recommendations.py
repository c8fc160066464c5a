"""Recommendations for a known user, and for anyone from what their request says."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.answers import answer, search_answer, seen_json
from api.compute import in_memory_or_threadpool
from api.deps import CallerDep, RecommenderDep, ServiceDep, require_known_user
from api.errors import BODY, CALLER, responses
from api.schemas import ContextRequest, Recommendations

router = APIRouter(tags=["recommendations"])


@router.get(
    "/users/{user_id:path}/recommendations",
    response_model=Recommendations,
    responses=responses(*CALLER, 404, 422),
)  # ids may hold "/"
async def recommend_for_user(
    service: ServiceDep,
    recommender: RecommenderDep,
    caller: CallerDep,
    user_id: Annotated[str, Path(min_length=1, max_length=1024)],
    k: Annotated[int, Query(ge=1, le=1000, description="how many items")] = 10,
    explain: Annotated[bool, Query(description="attach graph-path explanations")] = True,
    exclude_seen: Annotated[bool, Query(description="leave out items they interacted with")] = True,
    category: Annotated[
        str | None, Query(max_length=1024, description="only items in this category (id or name)")
    ] = None,
) -> Response:
    """The k best items for a user the graph knows, from their trained embedding moved by
    every event since training; each with up to 3 graph paths that explain it. A user it does
    not know: the most popular items, as for a known user with no history (404 where reads
    need a key)."""

    def respond() -> Response:
        require_known_user(service, user_id)
        vector = recommender.user_vector(user_id)
        seen = recommender.seen_rows(user_id)
        scored = recommender.top_k(
            vector, k, exclude=seen if exclude_seen else (), history=seen,
            within=recommender.category(category) if category else None,
        )  # fmt: skip
        body = answer(
            service, scored, user_id=user_id,
            strategy="personalised" if vector is not None else "popular", explain=explain,
        )  # fmt: skip
        return seen_json(body, admin=caller.admin)

    in_memory = not explain or service.explains_in_memory()
    return await in_memory_or_threadpool(respond, in_memory=in_memory)


@router.post(
    "/recommendations", response_model=Recommendations, responses=responses(*CALLER, *BODY, 404)
)
def recommend_from_context(
    service: ServiceDep, recommender: RecommenderDep, caller: CallerDep, request: ContextRequest
) -> Response:
    """For anyone, unknown users included: a free-text `query`, `liked_items`, `attributes`
    (brands, categories, attributes by name or id) and/or a `user_id`. A query is searched
    as `GET /search` does, the rest bending its ranking; without one they are combined into
    one vector by the trained model. With none of them: the most popular items."""
    entities = recommender.resolve_entities(request.attributes)
    if request.query:
        found = search_answer(
            service, request.query, request.k, user_id=request.user_id,
            liked=request.liked_items, entities=entities, category=request.category,
            exclude_seen=request.exclude_seen, explain=request.explain,
        )  # fmt: skip
        return seen_json(found, admin=caller.admin)
    text = recommender.entity_text(entities) if entities else None
    vector = recommender.context_vector(
        service.text_vector(text) if text else None, request.liked_items, entities,
        request.user_id,
    )  # fmt: skip
    liked = {recommender.item_row[item] for item in request.liked_items}
    seen = recommender.seen_rows(request.user_id)
    scored = recommender.top_k(
        vector, request.k, exclude=liked | seen if request.exclude_seen else liked,
        history=liked | seen,
        within=recommender.category(request.category) if request.category else None,
    )  # fmt: skip
    body = answer(
        service, scored, user_id=request.user_id,
        strategy="context" if vector is not None else "popular", explain=request.explain,
        liked=request.liked_items, entities=entities,
    )  # fmt: skip
    return seen_json(body, admin=caller.admin)
