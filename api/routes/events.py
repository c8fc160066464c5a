"""Interactions, written to the graph and folded into the user's vector at once."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import ApiKey, RecommenderDep, ServiceDep
from api.engine import UnknownError
from api.schemas import Events, EventsRecorded

router = APIRouter(tags=["events"])


@router.post("/events", status_code=status.HTTP_201_CREATED, dependencies=[ApiKey])
def record_events(service: ServiceDep, recommender: RecommenderDep, body: Events) -> EventsRecorded:
    """Views, clicks, carts, purchases and ratings (with optional review text), up to 1000 at
    once, all or none: the next recommendation for each user reflects them. Send `ts` to make
    a retry idempotent."""
    for event in body.events:
        if not recommender.knows_item(event.item_id):
            raise UnknownError(f"unknown item {event.item_id!r}; add it with POST /items first")
    users = service.record_events(body.events)
    return EventsRecorded(recorded=len(body.events), users_updated=users)
