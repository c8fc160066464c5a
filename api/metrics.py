"""Prometheus metrics: requests and latency by route, Neo4j reachability, answers that came
without explanations. Each app has its own registry (tests build many apps)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kgrec_http_requests", "HTTP requests answered", ("method", "route", "status"),
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "kgrec_http_request_seconds", "Time to answer", ("method", "route"),
            buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.neo4j_up = Gauge("kgrec_neo4j_up", "1 if Neo4j answered", registry=self.registry)
        self.unexplained = Counter(
            "kgrec_unexplained_responses", "Answers without explanations (Neo4j unreachable)",
            registry=self.registry,
        )  # fmt: skip
        self.explained = Counter(
            "kgrec_explained_responses", "Explained answers by where their paths came from",
            ("source",), registry=self.registry,
        )  # fmt: skip
        self.items = Gauge("kgrec_items", "Recommendable items", registry=self.registry)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracked_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        finally:
            # The route template, not the path: /users/{user_id}/... is one series.
            route = scope.get("route")
            name = route.path if isinstance(route, Route) else "unmatched"
            self.metrics.requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.latency.labels(scope["method"], name).observe(
                time.perf_counter() - started
            )
