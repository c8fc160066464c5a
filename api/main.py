"""The FastAPI app: `create_app()`; `kgrec serve` runs it with uvicorn."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from api.engine import UnknownError
from api.limits import BodySizeLimit
from api.metrics import Metrics, MetricsMiddleware
from api.routes import admin, events, explain, health, items, recommendations, search
from api.service import GraphDownError, Service, settle_heap
from gnn.infer import LoadedModel
from kg.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Service(settings, LoadedModel.load(settings.models_dir), metrics)
        service.start()
        app.state.service = service
        settle_heap()
        yield
        app.state.service.close()
        gc.unfreeze()  # let shutdown collect it all; native extensions report what it cannot

    app = FastAPI(
        title="kgrec",
        summary="Knowledge-graph recommendations that explain themselves",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    for router in (recommendations.router, search.router, items.router, events.router,
                   explain.router, health.router, admin.router):  # fmt: skip
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST"], allow_headers=["X-API-Key", "Content-Type"],
        )  # fmt: skip
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.exception_handler(UnknownError)
    async def unknown(_: Request, exc: UnknownError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(GraphDownError)
    async def graph_down(_: Request, exc: GraphDownError) -> JSONResponse:
        return JSONResponse(
            {"detail": f"{exc}; nothing was written. Retry when GET /health/ready says ready."},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's detail list, plus one line that names each bad field.
        problems = [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        ]
        return JSONResponse(
            {"detail": jsonable_encoder(exc.errors()), "message": "; ".join(problems)},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    return app
