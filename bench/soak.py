"""Soak: the API and Neo4j as a user runs them, fuzzed, then minutes of mixed traffic with Neo4j
frozen and restarted under it.

    python bench/soak.py [--minutes 10] [--rps 40]

Beauty in a throwaway Neo4j, its model (trained or reused, as bench/api_latency.py), and
`kgrec serve` on a free loopback port, driven from this process:
1. schemathesis over the server's own OpenAPI (tests/reliability/fuzz.py), without a key, with a
   wrong one and with a valid one;
2. mixed traffic at a steady rate: recommendations with explanations, similar items, search,
   events (some retried with the same ts), new items, and a model reload every minute; a third
   of the way in Neo4j is frozen (SIGSTOP) for 15 s, two thirds in it is stopped and started.
An error is a 5xx other than a 503 that says what became of the write (nothing written, or
safe to send again), or a request the server did not answer; a 4xx is the client's fault and
counted apart. Tables: p50/p99 and RSS per minute, p50/p99 per route, answers by status. RSS
is shown twice: over all samples, and over those with one model loaded (not from a reload's
call to 15 s after its answer, while it holds the old model and the new): the JSON's
`rss_mb_start`/`rss_mb_end` are the latter, of the first and last minute, so growth means
growth, and `rss_mb_peak` is the highest sample of all. Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NamedTuple
from urllib.parse import quote

import httpx
import numpy as np
import psutil
import typer
from api_latency import KEY, local_neo4j_pid, start_server, wait_ready
from beauty_setup import beauty_dataset, beauty_graph, trained_model
from rich.console import Console
from rich.table import Table

from kg import Settings, provision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fuzzer lives with the tests
from tests.reliability.fuzz import fuzz

console = Console(width=140)
FREEZE_S = 15.0
RETIRE_S = 15.0  # after a reload's answer, time for the old service to drain and let go
SERVER_LOG = Path("bench/results/soak-server.log")  # the server's log: warnings, any traceback
QUERIES = ["shampoo", "red lipstick", "nail polish", "moisturizer for dry skin", "hair dryer",
           "eye shadow palette", "sunscreen spf 50", "argan oil", "perfume for women",
           "makeup brush set"]  # fmt: skip
ROUTES = {"recommend": 0.40, "similar": 0.15, "search": 0.15, "events": 0.20, "items": 0.10}


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the soak began, when the request was sent
    route: str
    status: int | None  # None: no answer
    ms: float
    explained: bool  # a read whose answer carries explanations
    handled: bool  # a 503 that says nothing was written, or that sending it again is safe


class Memory(NamedTuple):
    mb: float  # the server's RSS
    reloading: bool  # sampled while a reload held a second model


@dataclass
class Chaos:
    freeze: tuple[float, float] = (0.0, 0.0)  # soak seconds
    answered_again: list[float] | None = None  # soak seconds Neo4j answered after freeze/restart
    # Until when (soak seconds) a reload holds two models: from its call to RETIRE_S after its
    # answer, while the old service finishes its requests and lets go.
    reload_until: float = 0.0


def main(
    minutes: Annotated[float, typer.Option(help="Length of the mixed-traffic soak.")] = 10.0,
    rps: Annotated[float, typer.Option(help="Requests per second, all routes together.")] = 40.0,
    workers: Annotated[int, typer.Option(help="Concurrent client connections.")] = 8,
    examples: Annotated[int, typer.Option(help="Fuzz examples per operation, mode and key.")] = 20,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Fuzz, then soak the API with Neo4j frozen and restarted under it."""
    rng = np.random.default_rng(seed)
    with beauty_graph(console) as (settings, graph):
        dataset = beauty_dataset(console, graph, settings)
        model_dir, _, _, _ = trained_model(console, dataset)
        users, items = list(dataset.ids["user"]), list(dataset.ids["item"][: dataset.n_items])
        port = provision.free_port()
        base = f"http://127.0.0.1:{port}"
        SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
        server = start_server(settings, model_dir, port, log=SERVER_LOG)
        try:
            with console.status("Starting kgrec serve..."):
                wait_ready(base, server)
            fuzzing = httpx.Client(base_url=base, timeout=30)
            with console.status("Fuzzing the OpenAPI..."), fuzzing as client:
                report = fuzz(client, client.get("/openapi.json").json(),
                              [None, "not-a-key", KEY], examples)  # fmt: skip
            for finding in report.findings[:20]:
                console.print(f"fuzz: {finding.operation} -> {finding.status}: {finding.what}")
            neo4j = psutil.Process(local_neo4j_pid(settings) or 0)
            rss: dict[int, list[Memory]] = defaultdict(list)
            chaos = Chaos()
            with console.status(f"Soaking for {minutes:g} minutes..."):
                samples = asyncio.run(soak(base, settings, neo4j, psutil.Process(server.pid),
                                           users, items, minutes * 60, rps, workers, rng,
                                           rss, chaos))  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
    summary = summarise(samples, rss, chaos, report.cases, report.server_errors)
    console.print(f"The server's log: {SERVER_LOG}")
    print(json.dumps(summary))


async def soak(
    base: str, settings: Settings, neo4j: psutil.Process, server: psutil.Process,
    users: list[str], items: list[str], seconds: float, rps: float, workers: int,
    rng: np.random.Generator, rss: dict[int, list[Memory]], chaos: Chaos,
) -> list[Sample]:  # fmt: skip
    samples: list[Sample] = []
    began = time.monotonic()
    interval = workers / rps  # each worker's pace
    routes, weights = list(ROUTES), np.array(list(ROUTES.values()))
    limits = httpx.Limits(max_connections=workers + 2)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def worker(n: int) -> None:
            local = np.random.default_rng([n, int(rng.integers(1 << 30))])
            while (now := time.monotonic() - began) < seconds:
                route = str(local.choice(routes, p=weights / weights.sum()))
                samples.append(await call(client, route, now, local, users, items))
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - began - now)))

        async def reloads() -> None:
            while time.monotonic() - began < seconds - 60:
                await asyncio.sleep(60)
                now = time.monotonic() - began
                chaos.reload_until = float("inf")
                samples.append(await timed(client, "reload", now, "POST", "/admin/reload",
                                           headers={"X-API-Key": KEY}))  # fmt: skip
                took = time.monotonic() - began - now
                chaos.reload_until = now + took + RETIRE_S
                console.print(f"reload at {now:.0f} s took {took:.1f} s")

        async def memory() -> None:
            while (now := time.monotonic() - began) < seconds:
                mb = server.memory_info().rss / 2**20
                rss[int(now // 60)].append(Memory(mb, reloading=now < chaos.reload_until))
                await asyncio.sleep(10)

        async def break_neo4j() -> None:
            answered: list[float] = []
            await asyncio.sleep(seconds / 3)
            start = time.monotonic() - began
            neo4j.send_signal(signal.SIGSTOP)
            await asyncio.sleep(FREEZE_S)
            neo4j.send_signal(signal.SIGCONT)
            chaos.freeze = (start, time.monotonic() - began)
            answered.append(time.monotonic() - began)
            await asyncio.sleep(seconds / 3 - FREEZE_S)
            local = provision.LocalNeo4j(settings)
            await asyncio.to_thread(local.stop)
            await asyncio.to_thread(local.start)  # returns once Neo4j answers
            answered.append(time.monotonic() - began)
            chaos.answered_again = answered

        await asyncio.gather(*(worker(n) for n in range(workers)), reloads(), memory(),
                             break_neo4j())  # fmt: skip
    return samples


async def call(
    client: httpx.AsyncClient, route: str, now: float, rng: np.random.Generator,
    users: list[str], items: list[str],
) -> Sample:  # fmt: skip
    key = {"X-API-Key": KEY}
    user, item = str(rng.choice(users)), str(rng.choice(items))
    if route == "recommend":
        return await timed(client, route, now, "GET", f"/users/{quote(user, safe='')}"
                           "/recommendations?k=10")  # fmt: skip
    if route == "similar":
        return await timed(client, route, now, "GET", f"/items/{quote(item, safe='')}/similar")
    if route == "search":
        return await timed(client, route, now, "GET", "/search",
                           params={"q": str(rng.choice(QUERIES)), "user_id": user})  # fmt: skip
    if route == "events":
        ts = 1_700_000_000 + int(rng.integers(0, 50))  # some repeat: retries must be idempotent
        event = {"user_id": user, "item_id": item, "kind": "view", "ts": ts}
        return await timed(client, route, now, "POST", "/events", headers=key,
                           json={"events": [event]})  # fmt: skip
    n = int(rng.integers(1 << 40))
    links = {"ALSO_BOUGHT": [str(i) for i in rng.choice(items, 2)]}
    body = {"id": f"soak-{n}", "title": f"{rng.choice(QUERIES)} soak edition {n}",
            "brand": "SoakCo", "categories": ["Beauty", "Soak"], "links": links}  # fmt: skip
    return await timed(client, route, now, "POST", "/items", headers=key, json=body)


async def timed(
    client: httpx.AsyncClient, route: str, now: float, method: str, path: str, **kwargs: Any
) -> Sample:
    t = time.perf_counter()
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.TransportError:
        return Sample(now, route, None, (time.perf_counter() - t) * 1000, False, False)
    ms = (time.perf_counter() - t) * 1000
    body = response.json() if response.headers.get("content-type") == "application/json" else {}
    explained = isinstance(body, dict) and any(
        row.get("explanations") for row in body.get("items", []) if isinstance(row, dict)
    )
    detail = str(body.get("detail")) if isinstance(body, dict) else ""
    handled = response.status_code == 503 and ("nothing was written" in detail
                                               or "sending it again is safe" in detail)  # fmt: skip
    return Sample(now, route, response.status_code, ms, explained, handled)


def is_error(sample: Sample) -> bool:
    return sample.status is None or (sample.status >= 500 and not sample.handled)


def percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50), float(p99)


def summarise(
    samples: list[Sample], rss: dict[int, list[Memory]], chaos: Chaos, cases: int,
    server_errors: int,
) -> dict[str, Any]:  # fmt: skip
    by_minute: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_minute[int(sample.t // 60)].append(sample)
    # Memory with one model loaded: leaks and growth show there, not the second model a
    # reload holds by design until the old service has let go.
    steady = {minute: float(np.mean(one)) for minute, memory in sorted(rss.items())
              if (one := [m.mb for m in memory if not m.reloading])}  # fmt: skip
    minutes = Table(title="Per minute (all routes)")
    for column in ("minute", "requests", "p50 ms", "p99 ms", "errors", "4xx", "RSS MB",
                   "RSS MB, one model"):  # fmt: skip
        minutes.add_column(column, justify="right")
    for minute, rows in sorted(by_minute.items()):
        p50, p99 = percentiles([s.ms for s in rows])
        minutes.add_row(str(minute), str(len(rows)), f"{p50:.1f}", f"{p99:.1f}",
                        str(sum(map(is_error, rows))),
                        str(sum(s.status is not None and 400 <= s.status < 500 for s in rows)),
                        f"{np.mean([m.mb for m in rss.get(minute, [])] or [0]):.0f}",
                        f"{steady[minute]:.0f}" if minute in steady else "-")  # fmt: skip
    console.print(minutes)
    routes = Table(title="Per route")
    for column in ("route", "requests", "p50 ms", "p99 ms", "errors", "answers by status"):
        routes.add_column(column, justify="right")
    by_route: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_route[sample.route].append(sample)
    for route, rows in sorted(by_route.items()):
        p50, p99 = percentiles([s.ms for s in rows])
        statuses = Counter("none" if s.status is None else str(s.status) for s in rows)
        routes.add_row(route, str(len(rows)), f"{p50:.1f}", f"{p99:.1f}",
                       str(sum(map(is_error, rows))),
                       ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))  # fmt: skip
    console.print(routes)
    start, end = chaos.freeze
    during = [s.ms for s in samples if start <= s.t <= end]
    recovery = [recovery_s(samples, t) for t in chaos.answered_again or []]
    first, last = min(by_minute), max(by_minute)
    memory = list(steady.values())
    summary = {
        "schemathesis_cases": cases,
        "server_errors": server_errors,
        "soak_requests": len(samples),
        "soak_errors": sum(map(is_error, samples)),
        "soak_p99_ms_first_min": round(percentiles([s.ms for s in by_minute[first]])[1], 1),
        "soak_p99_ms_last_min": round(percentiles([s.ms for s in by_minute[last]])[1], 1),
        "rss_mb_start": round(float(memory[0]), 1) if memory else None,
        "rss_mb_end": round(float(memory[-1]), 1) if memory else None,
        "rss_mb_peak": round(max((m.mb for ms in rss.values() for m in ms), default=0.0), 1),
        "neo4j_recovery_s": round(max(recovery), 2) if recovery else None,
        "max_wait_during_freeze_ms": round(max(during), 1) if during else None,
    }
    console.print(f"Freeze {start:.0f}-{end:.0f} s: {len(during)} requests sent, the longest "
                  f"waited {summary['max_wait_during_freeze_ms']} ms; explanations back "
                  f"{', '.join(f'{r:.1f} s' for r in recovery)} after Neo4j answered again "
                  "(freeze, restart).")  # fmt: skip
    return summary


def recovery_s(samples: list[Sample], answered: float) -> float:
    """Seconds from Neo4j answering again to the first explained recommendation sent after."""
    after = [s.t for s in samples if s.t >= answered and s.explained]
    return min(after) - answered if after else float("inf")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    typer.run(main)
