"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ServiceDep
from api.metrics import Metrics
from api.schemas import Readiness

router = APIRouter(tags=["health"])


@router.get("/health/live")
def live() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get(
    "/health/ready", response_model=Readiness,
    responses={503: {"model": Readiness, "description": "not ready: Neo4j is unreachable or "
                                                        "the catalogue is not loaded yet"}},
)  # fmt: skip
def ready(service: ServiceDep) -> JSONResponse:
    """Ready when Neo4j answers and the catalogue is loaded; 503 otherwise (recommendations
    are still served from the model, without explanations)."""
    recommender = service.recommender
    neo4j = service.guard.ping()
    state = Readiness(
        ready=neo4j and recommender.catalogue_loaded, neo4j=neo4j,
        catalogue_loaded=recommender.catalogue_loaded, model=recommender.name,
        items=len(recommender.item_ids), users=len(recommender.user_row),
    )  # fmt: skip
    code = status.HTTP_200_OK if state.ready else status.HTTP_503_SERVICE_UNAVAILABLE
    return JSONResponse(state.model_dump(), status_code=code)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, service: ServiceDep) -> Response:
    registry: Metrics = request.app.state.metrics
    registry.neo4j_up.set(1 if service.guard.up else 0)
    registry.items.set(len(service.recommender.item_ids))
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
