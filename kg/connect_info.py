"""Which Neo4j these settings point at and how to log in (starts nothing). Kept apart from
`kg.provision`, which starts servers and builds on `kg.connection`, so that `Graph.connect`
can use it without an import circle."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kg.errors import ProvisionError
from kg.settings import Settings

Mode = Literal["external", "docker", "local"]


@dataclass(frozen=True)
class ConnectionInfo:
    mode: Mode
    uri: str
    user: str
    password: str


def docker_engine_answers(timeout_s: float = 5.0) -> bool:
    """True when a Docker engine (not merely the client) answers."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def resolve_mode(settings: Settings) -> Mode:
    if settings.neo4j_mode != "auto":
        return settings.neo4j_mode
    if settings.neo4j_uri:
        return "external"
    return "docker" if docker_engine_answers() else "local"


def docker_password(settings: Settings) -> str:
    """The compose server's password: generated once, stored beside the local one (0600)."""
    path = settings.neo4j_home.parent / "docker-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(18) + "\n")
    return path.read_text().strip()


def local_password_file(settings: Settings) -> Path:
    """Where the local server's generated password lives (written by its first start)."""
    return settings.neo4j_home.resolve() / "password"


def local_password(settings: Settings) -> str:
    path = local_password_file(settings)
    if not path.exists():
        raise ProvisionError(
            f"No password file at {path}: the local server was never set up. "
            "Run `kgrec neo4j start`."
        )
    return path.read_text().strip()


def resolve_connection(settings: Settings) -> ConnectionInfo:
    """How to reach the server these settings point at (starts nothing)."""
    mode = resolve_mode(settings)
    if mode == "external":
        if not settings.neo4j_uri or settings.neo4j_password is None:
            raise ProvisionError(
                "KGREC_NEO4J_MODE=external needs KGREC_NEO4J_URI and KGREC_NEO4J_PASSWORD "
                "(and KGREC_NEO4J_USER if not `neo4j`)."
            )
        password = settings.neo4j_password.get_secret_value()
        return ConnectionInfo(mode, settings.neo4j_uri, settings.neo4j_user, password)
    uri = f"bolt://127.0.0.1:{settings.neo4j_bolt_port}"
    if mode == "docker":
        return ConnectionInfo(mode, uri, "neo4j", docker_password(settings))
    return ConnectionInfo(mode, uri, "neo4j", local_password(settings))
