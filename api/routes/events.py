"""Interactions, written to the graph and folded into the user's vector at once."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import ApiKey, ServiceDep
from api.errors import BODY, CALLER, responses
from api.schemas import Events, EventsRecorded

router = APIRouter(tags=["events"])


@router.post(
    "/events", status_code=status.HTTP_201_CREATED, dependencies=[ApiKey],
    responses=responses(*CALLER, *BODY, 404, 503),
)  # fmt: skip
def record_events(service: ServiceDep, body: Events) -> EventsRecorded:
    """Views, clicks, carts, purchases and ratings (with optional review text), up to 1000 at
    once, all or none: the next recommendation for each user reflects them. Send `ts` to make
    a retry idempotent: an event already recorded (same user, item, kind and ts) is not
    counted again. `users_updated`: the users whose events were new."""
    users = service.record_events(body.events)
    return EventsRecorded(recorded=len(body.events), users_updated=users)
