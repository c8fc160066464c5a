"""Operators: swap to the serving model without downtime; the users there are to pick from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from api.deps import RecommenderDep
from api.errors import CALLER, ErrorBody, responses
from api.reload import reload
from api.schemas import KnownUser
from api.service import ReloadError

# Admin rights are required where the app includes this router (api/main.py).
router = APIRouter(prefix="/admin", tags=["admin"], responses=responses(*CALLER, 422))


@router.post(
    "/reload",
    responses={409: {"model": ErrorBody, "description": "the serving model could not be loaded "
                     "or started (the old one serves on), or another reload is in progress"}},
)  # fmt: skip
def reload_model(request: Request) -> dict[str, str]:
    """Load the model KGREC_MODELS_DIR serves (the version its SERVING pointer names, which
    `kgrec models promote|rollback` set; else the newest) and switch to it without downtime.
    Reads go on meanwhile; writes wait while the new model reads the catalogue, so that it
    knows every item, user and event added until then (as a restart would). Requests in flight
    finish on the old model, which is closed once they are done. 409, saying why, when the
    model cannot be loaded or started: the old one serves on."""
    try:
        fresh, previous = reload(request.app)
    except ReloadError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return {"model": fresh.recommender.name, "previous": previous.recommender.name}


@router.get("/users")
def users(
    recommender: RecommenderDep,
    k: Annotated[int, Query(ge=1, le=10_000, description="how many users")] = 100,
) -> list[KnownUser]:
    """The k users with the most items (ties: by id), for picking one, as /ui does. Admins
    only: nobody else is told which user ids exist."""
    ranked = sorted(recommender.seen.items(), key=lambda user: (-len(user[1]), user[0]))
    return [KnownUser(id=user, items=len(rows)) for user, rows in ranked[:k]]
