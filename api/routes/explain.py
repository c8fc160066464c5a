"""Why would this user like this item: the graph paths between them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import RecommenderDep, ServiceDep
from api.engine import UnknownError
from api.schemas import ExplainResponse

router = APIRouter(tags=["explanations"])


@router.get("/explain")
def explain(
    service: ServiceDep,
    recommender: RecommenderDep,
    user_id: Annotated[str, Query(min_length=1, max_length=1024)],
    item_id: Annotated[str, Query(min_length=1, max_length=1024)],
) -> ExplainResponse:
    """Up to 3 paths of at most 3 hops from the user to the item, best first."""
    if not recommender.knows_user(user_id):
        raise UnknownError(f"unknown user {user_id!r}")
    if not recommender.knows_item(item_id):
        raise UnknownError(f"unknown item {item_id!r}")
    found, warnings = service.explanations([item_id], user_id=user_id)
    return ExplainResponse(
        user_id=user_id, item_id=item_id,
        explanations=None if found is None else found[item_id], warnings=warnings,
    )  # fmt: skip
