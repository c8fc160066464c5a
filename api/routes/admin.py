"""Operators: swap to the newest model without downtime."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import ApiKey, ServiceDep
from api.service import Service, settle_heap
from gnn.infer import LoadedModel

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[ApiKey])


@router.post("/reload")
def reload_model(request: Request, service: ServiceDep) -> dict[str, str]:
    """Load the newest model under KGREC_MODELS_DIR and switch to it; requests in flight finish
    on the old one. Events recorded since the old model was trained are in the graph and so in
    the new catalogue; new items added since must be trained in (or re-added)."""
    model = LoadedModel.load(service.settings.models_dir)
    fresh = Service(service.settings, model, service.metrics)
    fresh.start()
    request.app.state.service = fresh
    service.close()
    settle_heap()
    return {"model": fresh.recommender.name, "previous": service.recommender.name}
