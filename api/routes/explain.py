"""Why would this user like this item: the graph paths between them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.compute import in_memory_or_threadpool
from api.deps import CallerDep, RecommenderDep, ServiceDep, require_known_user
from api.engine import UnknownError
from api.errors import CALLER, responses
from api.explain import as_seen
from api.schemas import ExplainResponse

router = APIRouter(tags=["explanations"])


@router.get("/explain", responses=responses(*CALLER, 404, 422))
async def explain(
    service: ServiceDep,
    recommender: RecommenderDep,
    caller: CallerDep,
    user_id: Annotated[str, Query(min_length=1, max_length=1024)],
    item_id: Annotated[str, Query(min_length=1, max_length=1024)],
) -> ExplainResponse:
    """Up to 3 paths of at most 3 hops from the user to the item, best first. A user the
    graph does not know has none, as a known user with no path (404 where reads need a key)."""

    def respond() -> ExplainResponse:
        require_known_user(service, user_id)
        if not recommender.knows_item(item_id):
            raise UnknownError(f"unknown item {item_id!r}")
        found, warnings = service.explanations([item_id], user_id=user_id)
        return ExplainResponse(
            user_id=user_id, item_id=item_id,
            explanations=None if found is None else as_seen(found[item_id], admin=caller.admin),
            warnings=warnings,
        )  # fmt: skip

    return await in_memory_or_threadpool(respond, in_memory=service.explains_in_memory())
