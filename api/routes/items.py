"""Similar items, and adding or updating an item."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import ApiKey, RecommenderDep, ServiceDep
from api.errors import BODY, CALLER, responses
from api.schemas import ItemAdded, NewItem, Recommendation

router = APIRouter(prefix="/items", tags=["items"])


@router.get("/{item_id:path}/similar", responses=responses(*CALLER, 404, 422))  # ids may hold "/"
async def similar_items(
    recommender: RecommenderDep,
    item_id: Annotated[str, Path(min_length=1, max_length=1024)],
    k: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> list[Recommendation]:
    """The k items nearest to this one in the model's embedding space."""
    # All in memory: run on the event loop (api.compute).
    return [
        Recommendation(
            item_id=item,
            name=recommender.display_name(item),
            title=recommender.titles.get(item),
            score=round(score, 6),
            explanations=None,
        )
        for item, score in recommender.similar(item_id, k)
    ]


@router.post(
    "", status_code=status.HTTP_201_CREATED, dependencies=[ApiKey],
    responses=responses(*CALLER, *BODY, 404, 503),
)  # fmt: skip
def add_item(service: ServiceDep, item: NewItem) -> ItemAdded:
    """Add or update an item: entities are extracted from its text, everything is written to
    Neo4j in one transaction, and a new item is embedded by the trained GNN from its text and
    links (no retraining) and is recommendable in the next request.

    Posting an item again replaces it: its brand, categories and extracted attributes become
    those of the new request. `links` name items the shop has (a 404 names any it has not),
    never the item itself, at most 200 in all."""
    return service.add_item(item)
