"""Operators: swap to the newest model without downtime."""

from __future__ import annotations

import threading

from fastapi import APIRouter, HTTPException, Request, status

from api.errors import CALLER, ErrorBody, responses
from api.service import ReloadError, Service, settle_heap, successor_of

# Admin rights are required where the app includes this router (api/main.py).
router = APIRouter(prefix="/admin", tags=["admin"], responses=responses(*CALLER, 422))


RELOADING = threading.Lock()  # one reload at a time: each holds a whole model in memory


@router.post(
    "/reload",
    responses={409: {"model": ErrorBody, "description": "the newest model could not be loaded "
                     "or started (the old one serves on), or another reload is in progress"}},
)  # fmt: skip
def reload_model(request: Request) -> dict[str, str]:
    """Load the newest model under KGREC_MODELS_DIR and switch to it without downtime. Reads
    go on meanwhile; writes wait while the new model reads the catalogue, so that it knows
    every item, user and event added until then (as a restart would). Requests in flight
    finish on the old model, which is closed once they are done. 409, saying why, when the
    model cannot be loaded or started: the old one serves on."""
    if not RELOADING.acquire(blocking=False):
        raise HTTPException(
            status.HTTP_409_CONFLICT, "another reload is in progress; wait for its answer"
        )
    try:
        current: Service = request.app.state.service
        try:
            fresh = successor_of(current)
        except ReloadError as exc:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"{exc}; still serving {current.recommender.name}"
            ) from exc
        request.app.state.service = fresh
    finally:
        RELOADING.release()
    # On a thread of its own: the old service waits for its requests, this one among them.
    threading.Thread(target=_retire, args=(current,), name="kgrec-retire").start()
    return {"model": fresh.recommender.name, "previous": current.recommender.name}


def _retire(service: Service) -> None:
    service.close()
    settle_heap()  # lets the old model's cycles go
