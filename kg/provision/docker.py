"""Neo4j in Docker: `docker compose` for the demo (tests use testcontainers, see tests/)."""

from __future__ import annotations

import os
import subprocess

from kg.errors import ProvisionError
from kg.settings import PROJECT_ROOT

IMAGE = "neo4j:5.26-community"


def compose(*args: str, password: str, bolt_port: int, http_port: int) -> str:
    """Run `docker compose <args>` for the project's compose file; return its output."""
    env = {
        **os.environ,
        "KGREC_NEO4J_PASSWORD": password,
        "KGREC_NEO4J_BOLT_PORT": str(bolt_port),
        "KGREC_NEO4J_HTTP_PORT": str(http_port),
    }
    result = subprocess.run(
        ["docker", "compose", "-f", str(PROJECT_ROOT / "docker-compose.yml"), *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise ProvisionError(
            f"`docker compose {' '.join(args)}` failed:\n{result.stderr.strip()}\n"
            "Check `docker compose logs neo4j`, or unset Docker (KGREC_NEO4J_MODE=local) to run "
            "Neo4j from Maven jars instead."
        )
    return result.stdout
