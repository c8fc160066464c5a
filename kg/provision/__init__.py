"""Where Neo4j comes from: an external server, Docker, or a local server built from jars.

Order (KGREC_NEO4J_MODE=auto): KGREC_NEO4J_URI set -> that server; else a Docker engine
answers -> `docker compose` (tests: testcontainers); else a local server from Maven jars.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kg.connect_info import ConnectionInfo, Mode, docker_password, resolve_connection, resolve_mode
from kg.connection import Graph
from kg.errors import GraphUnavailableError, ProvisionError
from kg.provision.docker import compose
from kg.provision.local import LocalNeo4j, PortInUseError
from kg.settings import Settings

__all__ = [
    "ConnectionInfo",
    "LocalNeo4j",
    "PortInUseError",
    "ProvisionError",
    "ServerStatus",
    "free_port",
    "resolve_connection",
    "resolve_mode",
    "scratch_server",
    "start",
    "status",
    "stop",
    "throwaway_local",
]


@dataclass(frozen=True)
class ServerStatus:
    mode: Mode
    running: bool
    uri: str
    browser_url: str | None
    user: str
    password_hint: str
    detail: str
    # kgrec's Browser guide and style, served by a local server only (kg.provision.browser).
    guide_url: str | None = None
    style_url: str | None = None


def start(settings: Settings) -> tuple[ServerStatus, bool]:
    """Bring the server up (or find it running). Returns its status and whether we started it."""
    mode = resolve_mode(settings)
    started = False
    if mode == "docker":
        compose(
            "up", "-d", "--wait", "neo4j",
            password=docker_password(settings),
            bolt_port=settings.neo4j_bolt_port, http_port=settings.neo4j_http_port,
        )  # fmt: skip
        started = True
    elif mode == "local":
        started = LocalNeo4j(settings).start()
    return status(settings), started


def stop(settings: Settings) -> bool:
    """Stop the server kgrec runs; an external server is never touched."""
    mode = resolve_mode(settings)
    if mode == "docker":
        compose(
            "stop", "neo4j",
            password=docker_password(settings),
            bolt_port=settings.neo4j_bolt_port, http_port=settings.neo4j_http_port,
        )  # fmt: skip
        return True
    if mode == "local":
        return LocalNeo4j(settings).stop()
    return False


def status(settings: Settings) -> ServerStatus:
    mode = resolve_mode(settings)
    if mode == "local":
        local = LocalNeo4j(settings).status()
        return ServerStatus(
            mode=mode,
            running=local.running,
            uri=local.bolt_uri,
            browser_url=local.browser_url,
            user="neo4j",
            password_hint=f"in {local.password_file}",
            detail=(
                f"Neo4j Community {local.version} from Maven jars, home {local.home}"
                + (f", pid {local.pid}" if local.pid else "")
                + ("" if local.installed else " (jars not downloaded yet)")
            ),
            guide_url=local.guide_url,
            style_url=local.style_url,
        )
    try:
        info = resolve_connection(settings)
        with Graph(info.uri, info.user, info.password, settings.neo4j_database) as graph:
            graph.wait_until_ready(2.0)
        running = True
    except (GraphUnavailableError, ProvisionError):
        running = False
    if mode == "docker":
        return ServerStatus(
            mode, running, f"bolt://127.0.0.1:{settings.neo4j_bolt_port}",
            f"http://127.0.0.1:{settings.neo4j_http_port}/browser/", "neo4j",
            f"in {settings.neo4j_home.parent / 'docker-password'}",
            "Docker container from docker-compose.yml (image neo4j:5.26-community)",
        )  # fmt: skip
    return ServerStatus(
        mode, running, settings.neo4j_uri or "", None, settings.neo4j_user,
        "KGREC_NEO4J_PASSWORD", "external server from KGREC_NEO4J_URI; kgrec starts nothing",
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_local(settings: Settings, folder: str) -> Iterator[Settings]:
    """A local Neo4j of its own, in a fresh directory under `.kgrec/<folder>/` on free ports,
    stopped and removed afterwards: for test runs and benchmarks, which must never touch the
    demo's graph nor each other's. Yields the settings that reach it. The server dies with
    this process, on SIGTERM, SIGINT and SIGHUP too; one left by a SIGKILLed run is removed
    here, before anything starts."""
    LocalNeo4j.remove_orphans(settings)
    runs = settings.neo4j_home.parent / folder
    runs.mkdir(parents=True, exist_ok=True)
    own = settings.model_copy(
        update={
            "neo4j_mode": "local",
            "neo4j_home": Path(tempfile.mkdtemp(prefix="run-", dir=runs)),
            "neo4j_bolt_port": free_port(),
            "neo4j_http_port": free_port(),
        }
    )
    server = LocalNeo4j(own)
    with server.owned():
        server.start()
        yield own


@contextmanager
def scratch_server(settings: Settings, folder: str, *, wipe: bool) -> Iterator[Settings]:
    """A server whose database a benchmark may clear: a throwaway local one, or (with `wipe`)
    the external or Docker server the settings point at."""
    if resolve_mode(settings) == "local":
        with throwaway_local(settings, folder) as own:
            yield own
    elif wipe:
        yield settings
    else:
        raise ProvisionError(
            f"this clears the database at {resolve_connection(settings).uri}; pass --wipe to allow"
        )
