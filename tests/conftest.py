"""A real Neo4j for the whole test run, started by kgrec's own provisioning code.

A Docker engine -> testcontainers' Neo4jContainer; else a local server from Maven jars in a
fresh folder under .kgrec/neo4j-test/ on free ports (so test runs side by side never share a
database), removed at the end and when the run is stopped by a signal. KGREC_NEO4J_URI set (in
the environment or `.env`) -> that server, whose database every test wipes: only with
KGREC_TEST_ALLOW_WIPE=1, else the run stops before anything connects.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

# Any accidental model-hub call fails fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from kg import Graph, Settings, provision
from kg.provision.docker import IMAGE
from kg.schema import apply_schema
from kg.settings import get_settings
from kg.write import delete_all

pytest_plugins = ("tests.api_shop",)  # the API tests' shop and client

ALLOW_WIPE = "KGREC_TEST_ALLOW_WIPE"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to wipe a server someone configured, unless told to."""
    base = Settings()
    if provision.resolve_mode(base) != "external" or os.environ.get(ALLOW_WIPE) == "1":
        return
    # Settings read `.env` from the working directory too: say which one set the server.
    if provision.resolve_mode(Settings(_env_file=None)) == "external":
        source, fix = "the environment", "unset KGREC_NEO4J_URI"
    else:
        env_file = Path(".env").resolve()
        source, fix = str(env_file), f"remove KGREC_NEO4J_URI from {env_file}"
    pytest.exit(
        f"Refusing to run the tests: the settings in {source} point them at the Neo4j server "
        f"{base.neo4j_uri or '(no KGREC_NEO4J_URI)'}, and every test deletes all data in its "
        f"database '{base.neo4j_database}'. To wipe it anyway, set {ALLOW_WIPE}=1. For a "
        f"throwaway server of the tests' own instead, {fix} or set KGREC_NEO4J_MODE=local.",
        returncode=pytest.ExitCode.USAGE_ERROR,
    )


@pytest.fixture(scope="session")
def neo4j_settings() -> Iterator[Settings]:
    base = Settings()
    mode = provision.resolve_mode(base)
    if mode == "external":
        yield base
        return
    if mode == "docker":
        from testcontainers.neo4j import Neo4jContainer

        with Neo4jContainer(IMAGE, password="kgrec-test-password") as container:
            yield base.model_copy(
                update={
                    "neo4j_mode": "external",
                    "neo4j_uri": container.get_connection_url(),
                    "neo4j_password": SecretStr("kgrec-test-password"),
                }
            )
        return
    small = base.model_copy(update={"neo4j_heap": "768m", "neo4j_pagecache": "256m"})
    with provision.throwaway_local(small, "neo4j-test") as settings:
        yield settings


@pytest.fixture()
def graph(neo4j_settings: Settings) -> Iterator[Graph]:
    """A connection to an empty database with the kgrec schema applied."""
    with Graph.connect(neo4j_settings, wait_s=30) as connected:
        delete_all(connected)
        apply_schema(connected, neo4j_settings.cypher_dir / "schema.cypher")
        yield connected


@pytest.fixture()
def server_env(
    neo4j_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """`kgrec` commands pointed at the test server, with a fresh extraction cache: set in this
    process (for typer's CliRunner) and returned (for subprocesses)."""
    info = provision.resolve_connection(neo4j_settings)
    env = {
        "KGREC_NEO4J_MODE": "external",
        "KGREC_NEO4J_URI": info.uri,
        "KGREC_NEO4J_PASSWORD": info.password,
        "KGREC_CACHE_DIR": str(tmp_path / "cache"),
        "COLUMNS": "200",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()
