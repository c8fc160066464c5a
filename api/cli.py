"""`kgrec serve`: the HTTP API with uvicorn."""

from __future__ import annotations

from typing import Annotated, Any

import torch
import typer
import uvicorn
from threadpoolctl import threadpool_limits

from kg.settings import Settings, get_settings

SERVE_HELP = (
    "Serve recommendations over HTTP: loads the model KGREC_MODELS_DIR serves (the version its "
    "SERVING pointer names, see `kgrec models`; else the newest; train one with `kgrec train`), "
    "follows promotions and rollbacks while it runs, and talks to the Neo4j that "
    "`kgrec neo4j start` runs (or KGREC_NEO4J_URI). Write endpoints need an X-API-Key from "
    "KGREC_API_KEYS. OpenAPI docs at http://HOST:PORT/docs."
)
serve_app = typer.Typer(name="serve", help=SERVE_HELP, no_args_is_help=False)


@serve_app.callback(invoke_without_command=True)
def main(
    host: Annotated[str | None, typer.Option(help="Interface (default KGREC_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default KGREC_API_PORT).")] = None,
) -> None:
    """`kgrec serve` (help: SERVE_HELP)."""
    from gnn.artifacts import resolve_model_dir

    settings = get_settings()
    try:
        resolve_model_dir(settings.models_dir)
    except (FileNotFoundError, ValueError) as exc:  # no model; a pointer edited by hand
        typer.secho(f"{exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    from api.memory import tune_malloc

    tune_malloc()  # before any thread allocates
    # One request, one core: BLAS threads per request only fight each other and Neo4j.
    threadpool_limits(1)
    torch.set_num_threads(1)
    config = server_config(settings, host=host or settings.api_host, port=port or settings.api_port)
    uvicorn.Server(config).run()


def server_config(
    settings: Settings, app: Any = "api.main:create_app", **options: Any
) -> uvicorn.Config:
    """How kgrec serves `app` (an import string of the app factory, or an app) with uvicorn,
    `options` on top. An idle connection is kept `api_keep_alive_s`: longer than clients and
    load balancers keep theirs (httpx 5 s, uvicorn's own default 5 s), so that the client is
    the one to close it; with equal times a request sent as the server closes is lost."""
    defaults = {"factory": isinstance(app, str), "host": settings.api_host,
                "port": settings.api_port, "log_level": "info", "access_log": False,
                "timeout_keep_alive": settings.api_keep_alive_s}  # fmt: skip
    return uvicorn.Config(app, **{**defaults, **options})
