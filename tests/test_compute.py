"""Where a read's work runs: on the event loop when it needs nothing but memory."""

from __future__ import annotations

import asyncio
import threading

from api.compute import in_memory_or_threadpool


def test_in_memory_work_runs_on_the_loop_and_the_rest_in_the_threadpool() -> None:
    async def threads() -> tuple[int, int, int]:
        here = await in_memory_or_threadpool(threading.get_ident, in_memory=True)
        there = await in_memory_or_threadpool(threading.get_ident, in_memory=False)
        return threading.get_ident(), here, there

    loop, in_memory, waiting = asyncio.run(threads())
    assert in_memory == loop
    assert waiting != loop
