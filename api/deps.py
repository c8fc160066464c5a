"""Request dependencies: the service built in the lifespan, and the API-key check. They are
`async` because they never block: FastAPI runs sync dependencies in its threadpool, a thread
hand-off each, per request."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from api.engine import Recommender
from api.service import Service


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_recommender(service: ServiceDep) -> Recommender:
    return service.recommender


RecommenderDep = Annotated[Recommender, Depends(get_recommender)]


async def require_api_key(
    service: ServiceDep, x_api_key: Annotated[str | None, Header()] = None
) -> None:
    """Write and admin endpoints: the `X-API-Key` header must hold one of KGREC_API_KEYS."""
    keys = service.settings.api_keys
    if not keys:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this server has no API keys configured, so writes are disabled; "
            "set KGREC_API_KEYS='[\"<a long random key>\"]' and restart",
        )
    if x_api_key is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "send your API key in X-API-Key")
    # Compare against every key in constant time, so timing reveals nothing.
    if not any(
        secrets.compare_digest(x_api_key.encode(), key.get_secret_value().encode()) for key in keys
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the X-API-Key is not a valid key")


ApiKey = Depends(require_api_key)
