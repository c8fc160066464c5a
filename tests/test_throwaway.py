"""Throwaway Neo4j servers die with the process that owns them, however it is stopped, and the
test suite never wipes a server that someone configured."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg import Settings, provision
from kg.provision.local import LocalNeo4j, pid_alive
from kg.settings import PROJECT_ROOT

LOCAL_ONLY = pytest.mark.skipif(
    provision.resolve_mode(Settings()) != "local", reason="exercises the no-Docker local server"
)

# Opens a throwaway server, prints "<java pid> <home>", and waits to be stopped.
OWNER = """
import sys, time
from pathlib import Path
from kg import Settings, provision
from kg.provision.local import LocalNeo4j

base = Settings(neo4j_home=Path(sys.argv[1]), neo4j_heap="512m", neo4j_pagecache="64m")
with provision.throwaway_local(base, "runs") as own:
    print(LocalNeo4j(own).running_pid(), own.neo4j_home, flush=True)
    time.sleep(600)
"""


def clean_env() -> dict[str, str]:
    """This environment without any KGREC_ setting (no external server, no wipe allowed)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("KGREC_")}


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not pid_alive(pid)


@pytest.fixture()
def owners(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """The owner processes a test starts: whatever happens, neither they nor their servers
    outlive the test."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for owner in started:
        owner.kill()
        owner.wait()
    LocalNeo4j.remove_orphans(Settings(neo4j_home=tmp_path / "neo4j"))


def start_owner(
    tmp_path: Path, owners: list[subprocess.Popen[str]]
) -> tuple[subprocess.Popen[str], int, Path]:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path / "neo4j")],
        stdout=subprocess.PIPE, text=True, env=clean_env(), cwd=tmp_path,
    )  # fmt: skip
    owners.append(owner)
    assert owner.stdout is not None
    line = owner.stdout.readline()  # the owner gives up by itself if Neo4j does not start
    assert line, f"the owner exited with {owner.wait()} before its server was up"
    pid, home = line.split()
    assert pid_alive(int(pid)) and Path(home).is_dir()
    return owner, int(pid), Path(home)


@LOCAL_ONLY
@pytest.mark.slow
def test_no_server_outlives_its_owner(tmp_path: Path, owners: list[subprocess.Popen[str]]) -> None:
    killed, orphan, orphan_home = start_owner(tmp_path, owners)
    killed.kill()  # SIGKILL: no handler runs, Java goes on
    killed.wait()
    assert pid_alive(orphan)

    # The next throwaway server removes the orphan before it starts.
    owner, java, home = start_owner(tmp_path, owners)
    assert not pid_alive(orphan) and not orphan_home.exists()

    owner.send_signal(signal.SIGTERM)
    assert owner.wait(timeout=30) == -signal.SIGTERM  # it still dies of the signal
    assert gone_within(java, 5) and not home.exists()


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_suite_refuses_to_wipe_a_configured_server(tmp_path: Path, where: str) -> None:
    with socket.socket() as server:  # stands for the external Neo4j: it must see no connection
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        uri = f"bolt://127.0.0.1:{server.getsockname()[1]}"
        settings = {"KGREC_NEO4J_URI": uri, "KGREC_NEO4J_PASSWORD": "secret"}
        env = clean_env()
        if where == "environment":
            env.update(settings)
        else:  # Settings read `.env` from the working directory
            (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             str(PROJECT_ROOT / "tests" / "test_schema.py")],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
        )  # fmt: skip
        with pytest.raises(BlockingIOError):
            server.accept()
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    source = "the environment" if where == "environment" else str((tmp_path / ".env").resolve())
    assert f"Refusing to run the tests: the settings in {source} point them at" in result.stderr
    for hint in (uri, "KGREC_TEST_ALLOW_WIPE=1", "KGREC_NEO4J_MODE=local"):
        assert hint in result.stderr
