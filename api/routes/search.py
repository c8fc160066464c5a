"""Search: the shop's items for a text query, fused from words and meaning, each with why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.answers import search_answer, seen_json
from api.deps import CallerDep, ServiceDep
from api.errors import CALLER, responses
from api.schemas import Recommendations

router = APIRouter(tags=["search"])


@router.get("/search", response_model=Recommendations, responses=responses(*CALLER, 404, 422))
def search(
    service: ServiceDep,
    caller: CallerDep,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="what the shopper typed")],
    k: Annotated[int, Query(ge=1, le=1000, description="how many items")] = 10,
    user_id: Annotated[
        str | None, Query(min_length=1, max_length=1024, description="rank for this user too")
    ] = None,
    category: Annotated[
        str | None, Query(max_length=1024, description="only items in this category (id or name)")
    ] = None,
    explain: Annotated[bool, Query(description="say why each item was found")] = True,
    exclude_seen: Annotated[bool, Query(description="leave out the user's items")] = True,
) -> Response:
    """Items for a text query: those whose title or description hold its words (full-text,
    BM25), whose text is closest in meaning (MiniLM vectors), and those of the brands,
    categories and attributes it names, fused by reciprocal rank; with a known `user_id`,
    bent towards what the model predicts for them. Each item says why it was found."""
    found = search_answer(service, q, k, user_id=user_id, category=category,
                          exclude_seen=exclude_seen, explain=explain)  # fmt: skip
    return seen_json(found, admin=caller.admin)
