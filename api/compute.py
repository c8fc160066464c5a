"""Where a read's in-memory work runs: on the event loop when it needs nothing but memory, and
one request's ranking or path search at a time in the whole process.

Python runs one thread at a time anyway (the GIL). A sync route's hand-off to a worker thread
and back, and the threads' turns at the GIL, cost an explained read at concurrency 8 about a
fifth of its CPU (bench: 3.4 ms of server CPU a request in worker threads, 2.8 ms on the loop).
So a read that ranks and explains from memory runs on the loop (`in_memory_or_threadpool`); one
that may wait on Neo4j goes to the threadpool, where waiting blocks no one.

numpy lets go of the GIL around many of the hundreds of small array calls a ranking and its path
search make; with eight request threads ready, each of those calls became a hand-over between
threads that cost more CPU than the call itself. Under `COMPUTING` the threads (and the loop)
take turns once per section instead. Nothing run under it may wait on I/O (Neo4j, the network):
that would hold up every request."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")

COMPUTING = threading.Lock()


async def in_memory_or_threadpool(work: Callable[[], T], *, in_memory: bool) -> T:
    """`work` run here on the event loop when it needs nothing but memory, else in the
    threadpool."""
    if in_memory:
        return work()
    return await run_in_threadpool(work)
