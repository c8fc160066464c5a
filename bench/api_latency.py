"""API latency on Beauty: `GET /users/{id}/recommendations?k=10` with and without explanations,
side by side, at concurrency 1, 8 and 32; and how soon a POSTed item is recommendable.

    python bench/api_latency.py [--requests 800]

Loads Beauty into a throwaway Neo4j, trains our model (or reuses the one trained on exactly this
data, .kgrec/bench-models/), starts `kgrec serve` (uvicorn, one process) on a free loopback
port and drives it with an async HTTP client over random users. The client shares the machine
with the server and Neo4j, as a sidecar would. Beside latency it reports the CPU each process
(server, Neo4j when it runs locally, the client) spent per request, which says where the time
goes and what throughput the cores allow. With `--profile FILE`, one more round at
concurrency 8 with explanations, after the measured ones, runs under py-spy: the server's
sampled stacks go to FILE (collapsed, one stack a line, for flame-graph tools) and the functions
that hold the CPU are printed. Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import httpx
import numpy as np
import psutil
import typer
from beauty_setup import beauty_dataset, beauty_graph, trained_model
from rich.console import Console
from rich.table import Table

from gnn.dataset import item_text
from kg import Settings, provision
from kg.provision.local import on_signals

console = Console(width=140)
LEVELS = (1, 8, 32)
KEY = "bench-api-key"
NEW_ITEMS = 5
LINE = re.compile(r":\d+\)$")  # a py-spy frame's line number
# With explanations at concurrency 8: server + Neo4j CPU a request (ms), requests/s, p99 (ms).
TARGETS = {"cpu_ms": 4.0, "rps": 300.0, "p99_ms": 100.0}


def kgrec_env(settings: Settings) -> dict[str, str]:
    """The environment a `kgrec` command needs to use the bench's Neo4j and caches, offline."""
    info = provision.resolve_connection(settings)
    return {**os.environ, "KGREC_NEO4J_MODE": "external", "KGREC_NEO4J_URI": info.uri,
            "KGREC_NEO4J_PASSWORD": info.password, "KGREC_CACHE_DIR": str(settings.cache_dir),
            "HF_HUB_OFFLINE": "1"}  # fmt: skip


def start_server(
    settings: Settings, model_dir: Path, port: int, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """`kgrec serve` on `port`; its stderr to `log`, else kept for the error when it exits
    (`wait_ready`): a long run must log to a file, or the full pipe would stall the server."""
    env = {**kgrec_env(settings), "KGREC_MODELS_DIR": str(model_dir),
           "KGREC_API_KEYS": json.dumps([KEY])}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "kg.cli", "serve", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE if log is None else log.open("wb"),
    )  # fmt: skip


def wait_ready(base: str, server: subprocess.Popen[bytes], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"kgrec serve exited: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise RuntimeError("kgrec serve did not become ready")


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    return {name: sum(process.cpu_times()[:2]) for name, process in processes.items()}


async def drive(
    base: str, users: list[str], concurrency: int, explain: bool,
    processes: dict[str, psutil.Process] | None = None,
) -> dict[str, float]:  # fmt: skip
    """Every user's top 10 once, `concurrency` requests in flight; latency percentiles, rps and
    each of `processes`' CPU ms per request."""
    processes = processes or {}
    cpu_before = cpu_seconds(processes)
    queue = list(reversed(users))
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            while queue:
                user = queue.pop()
                started = time.perf_counter()
                response = await client.get(
                    f"/users/{quote(user, safe='')}/recommendations",
                    params={"k": 10, "explain": str(explain).lower()},
                )
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    cpu_after = cpu_seconds(processes)
    return {
        "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)), "rps": len(ms) / wall,
        **{f"cpu_ms_{name}": (cpu_after[name] - cpu_before[name]) / len(ms) * 1000
           for name in processes},
    }  # fmt: skip


def profiled(base: str, users: list[str], server_pid: int, out: Path) -> None:
    """A round at concurrency 8 with explanations while py-spy samples the server (every
    thread, idle ones left out) into `out`; then the top functions by own and total samples."""
    spy = subprocess.Popen(
        [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(server_pid),
         "--format", "raw", "--rate", "250", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(2)  # py-spy attaches
    asyncio.run(drive(base, users, 8, True))
    spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
    if spy.wait(timeout=60) != 0 or not out.exists():
        message = spy.stderr.read().decode()[-500:] if spy.stderr else ""
        raise RuntimeError(f"py-spy failed (pip install py-spy; it needs ptrace): {message}")
    own: Counter[str] = Counter()  # by line: where the time is spent
    total: Counter[str] = Counter()  # by function, its callees included
    for line in out.read_text().splitlines():
        stack, _, sampled = line.rpartition(" ")
        frames = stack.split(";")
        own[frames[-1]] += int(sampled)
        functions = {LINE.sub(")", frame) for frame in frames}  # a recursive one counts once
        total.update(dict.fromkeys(functions, int(sampled)))
    samples = sum(own.values())
    for title, counts, column in (("own", own, "line (file:line)"),
                                  ("total", total, "function (file)")):  # fmt: skip
        table = Table(title=f"Server CPU ({title} samples of {samples:,})")
        table.add_column("share", justify="right")
        table.add_column(column)
        for frame, count in counts.most_common(25):
            table.add_row(f"{100 * count / samples:.1f}%", frame)
        console.print(table)


def new_item_live_s(base: str, category_path: list[str], brand: str) -> tuple[float, int]:
    """Median seconds from POST /items to a request whose context is the item's own text and
    links returning it; and how many of the new items it returned."""
    took, found = [], 0
    with httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": KEY}) as client:
        for n in range(NEW_ITEMS):
            title = f"Bench {n} ultra hydrating rose water facial mist with aloe"
            description = "A refreshing facial mist with rose water and aloe vera."
            item_id = f"bench-new-{n}-{time.time_ns()}"
            started = time.perf_counter()
            client.post("/items", json={
                "id": item_id, "title": title, "brand": brand, "description": description,
                "categories": category_path,
            }).raise_for_status()  # fmt: skip
            query = item_text(title, description, [brand], category_path[-1:])
            answer = client.post("/recommendations", json={
                "query": query, "attributes": [brand, category_path[-1]], "k": 10,
                "explain": False,
            }).json()  # fmt: skip
            took.append(time.perf_counter() - started)
            found += any(item["item_id"] == item_id for item in answer["items"])
    return float(np.median(took)), found


def main(
    requests: Annotated[int, typer.Option(help="Requests per concurrency level and mode.")] = 800,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    wipe: Annotated[bool, typer.Option(help="Allow clearing an external/Docker database.")] = False,
    profile: Annotated[
        Path | None,
        typer.Option(help="Also profile the server with py-spy; its stacks go to this file."),
    ] = None,
) -> None:
    """Latency and throughput of recommendations with and without explanations."""
    rng = np.random.default_rng(seed)
    with beauty_graph(console, wipe=wipe) as (settings, graph):
        dataset = beauty_dataset(console, graph, settings)
        model_dir, _, _, _ = trained_model(console, dataset)
        users = list(dataset.ids["user"])
        port = provision.free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(settings, model_dir, port)
        # A signal ends Python without `finally`: kill the server then too, never leave it.
        with on_signals(server.kill):
            try:
                with console.status("Starting kgrec serve..."):
                    wait_ready(base, server)
                processes = {"server": psutil.Process(server.pid), "client": psutil.Process()}
                if (neo4j_pid := local_neo4j_pid(settings)) is not None:
                    processes["neo4j"] = psutil.Process(neo4j_pid)
                results: dict[int, dict[str, dict[str, float]]] = {}
                asyncio.run(drive(base, list(rng.choice(users, 200)), 8, True))  # warm-up
                for level in LEVELS:
                    sample = list(rng.choice(users, requests if level > 1 else requests // 4))
                    with console.status(f"Concurrency {level}..."):
                        results[level] = {
                            "no_explain": asyncio.run(drive(base, sample, level, False, processes)),
                            "explain": asyncio.run(drive(base, sample, level, True, processes)),
                        }
                print_table(results)
                if profile is not None:
                    with console.status("Profiling the server at concurrency 8..."):
                        profiled(base, list(rng.choice(users, requests)), server.pid, profile)
                with console.status("New items..."):
                    live_s, found = new_item_live_s(
                        base, ["Beauty", "Skin Care", "Face", "Toners & Astringents"], "Thayers"
                    )
            finally:
                server.terminate()
                server.wait(timeout=30)

    c8 = results[8]["explain"]
    cpu_ms = c8["cpu_ms_server"] + c8.get("cpu_ms_neo4j", 0.0)  # Neo4j's: a local one only
    console.print(
        f"Targets at concurrency 8 with explanations: server + Neo4j CPU {cpu_ms:.2f} ms a "
        f"request (<= {TARGETS['cpu_ms']}), {c8['rps']:.0f} requests/s (>= {TARGETS['rps']:.0f}), "
        f"p99 {c8['p99_ms']:.1f} ms (<= {TARGETS['p99_ms']:.0f}). "
        f"POST /items -> returned by a request for it: median {live_s:.3f} s (<= 1), "
        f"{found} of {NEW_ITEMS} new items returned."
    )
    summary: dict[str, object] = {
        f"c{level}": {
            **{key: round(value, 2) for key, value in modes["explain"].items()},
            **{f"{key}_no_explain": round(value, 2) for key, value in modes["no_explain"].items()},
        }
        for level, modes in results.items()
    }
    summary["new_item_live_s"] = round(live_s, 3)
    print(json.dumps(summary))


def local_neo4j_pid(settings: Settings) -> int | None:
    """The throwaway local server's pid; None for an external or Docker one."""
    if provision.resolve_mode(settings) != "local":
        return None
    return provision.LocalNeo4j(settings).running_pid()


def print_table(results: dict[int, dict[str, dict[str, float]]]) -> None:
    table = Table(title="GET /users/{id}/recommendations?k=10 on Beauty (2 cores, one process)")
    cpu = [key for key in next(iter(results.values()))["explain"] if key.startswith("cpu_ms_")]
    for column in ("concurrency", "explain", "p50 ms", "p95 ms", "p99 ms", "requests/s",
                   "p50 vs no explain", *(f"CPU ms/req {key[7:]}" for key in cpu)):  # fmt: skip
        table.add_column(column, justify="right")
    for level, modes in results.items():
        for mode in ("no_explain", "explain"):
            row = modes[mode]
            ratio = row["p50_ms"] / modes["no_explain"]["p50_ms"]
            table.add_row(str(level), "yes" if mode == "explain" else "no",
                          f"{row['p50_ms']:.1f}", f"{row['p95_ms']:.1f}", f"{row['p99_ms']:.1f}",
                          f"{row['rps']:.0f}", f"{ratio:.2f}x",
                          *(f"{row[key]:.2f}" for key in cpu))  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
