"""The FastAPI app: `create_app()`; `kgrec serve` runs it with uvicorn."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import AdminKey, ReadAccess
from api.engine import UnknownError
from api.errors import unreadable_body, validation_body
from api.limits import BodySizeLimit
from api.memory import settle_heap
from api.metrics import Metrics, MetricsMiddleware
from api.parts import SharedParts
from api.ratelimit import RateLimit
from api.reload import ModelWatcher
from api.routes import admin, events, explain, health, items, recommendations, search, ui
from api.service import GraphDownError, Service
from gnn.infer import LoadedModel
from kg.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with SharedParts(settings) as parts:  # closed after the last service
            # Held by app.state only (no local here): a reload replaces it, and a service this
            # generator kept alive would keep every successor alive through `_successor`.
            app.state.service = Service(
                settings, LoadedModel.load(settings.models_dir), metrics, parts
            )
            app.state.service.start()
            settle_heap()
            # Follows `kgrec models promote|rollback`; stopped before the last service closes.
            with ModelWatcher(app, settings.models_dir, settings.api_model_watch_s):
                yield
            app.state.service.close()
        gc.unfreeze()  # let shutdown collect it all; native extensions report what it cannot

    app = FastAPI(
        title="kgrec",
        summary="Knowledge-graph recommendations that explain themselves",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    # Every endpoint but health checks needs read rights (writes and admin check for more).
    for router in (recommendations.router, search.router, items.router, events.router,
                   explain.router):  # fmt: skip
        app.include_router(router, dependencies=[ReadAccess])
    app.include_router(admin.router, dependencies=[AdminKey])
    app.include_router(health.router)
    # The page and its files hold no data: its requests carry the key (read rights checked).
    app.include_router(ui.router)
    app.mount("/ui/static", ui.static_files())
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    if settings.api_rate_per_s:  # off (0) by default: then it costs nothing at all
        app.add_middleware(RateLimit, settings=settings)
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
        # kg's writes are idempotent, so sending a write again is safe either way.
        outcome = (
            "a write may still land; sending it again is safe (events: send their ts)"
            if exc.may_have_written
            else "nothing was written"
        )
        return JSONResponse(
            {"detail": f"{exc}; {outcome}. Retry when GET /health/ready says ready."},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            validation_body(exc.errors()).model_dump(),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        reason = unreadable_body(exc.__cause__) if exc.status_code == 400 else None
        if reason is not None:
            exc = HTTPException(exc.status_code, reason)
        return await http_exception_handler(request, exc)

    return app
