"""Rate limits: a token bucket per API key, and per client address for requests without a valid
key (pure ASGI, so a refused request costs no routing and no body read). In-process: each API
process keeps its own buckets, so N replicas allow N times the rate."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import identify
from kg.settings import Settings

UNCOUNTED = ("/health/", "/metrics")  # probes and scrapers poll these; they stay open


class TokenBuckets:
    """`burst` tokens per caller, refilled at `rate` a second; each request takes one. A bucket
    idle long enough to be full again is dropped (a new one is the same), so memory holds only
    the callers of the last `burst / rate` seconds, however many come and go."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.refill_s = burst / rate
        self.clock = clock
        # caller -> (tokens, when last seen), the least recently seen first
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        """0 when the caller may go on (a token is taken), else the seconds until a token."""
        now = self.clock()
        with self._lock:
            tokens, seen = self.buckets.pop(caller, (self.burst, now))
            tokens = min(self.burst, tokens + (now - seen) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self.buckets[caller] = (tokens - 1 if wait == 0 else tokens, now)
            # The caller just seen is last and fresh, so this stops at it at the latest.
            while now - next(iter(self.buckets.values()))[1] >= self.refill_s:
                self.buckets.popitem(last=False)
        return wait


class RateLimit:
    """429, with Retry-After and a body naming the limit, for a caller past its bucket."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.buckets = TokenBuckets(settings.api_rate_per_s, settings.api_rate_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNCOUNTED):
            await self.app(scope, receive, send)
            return
        caller = identify(self.settings, Headers(scope=scope).get("x-api-key"))
        if caller is not None and caller.key is not None:
            bucket, who, hint = caller.key, "your API key", ""
        else:  # an invalid key counts against its address too: guessing keys is throttled
            host = scope["client"][0] if scope.get("client") else "an unknown address"
            bucket, who = f"address {host}", f"requests without a valid API key from {host}"
            hint = "; an API key has a limit of its own"
        wait = self.buckets.take(bucket)
        if not wait:
            await self.app(scope, receive, send)
            return
        detail = (
            f"too many requests: {who} may make {self.settings.api_rate_per_s:g} a second, in "
            f"bursts of {self.settings.api_rate_burst}; retry after {wait:.1f} s, or ask the "
            f"operator to raise KGREC_API_RATE_PER_S and KGREC_API_RATE_BURST{hint}"
        )
        response = JSONResponse(
            {"detail": detail}, status_code=429, headers={"Retry-After": str(math.ceil(wait))}
        )
        await response(scope, receive, send)
