"""The server process's heap: glibc's malloc tuned for a long-running server that swaps whole
models and copies large arrays on writes, and the collector kept off the request path."""

from __future__ import annotations

import ctypes
import gc
from contextlib import suppress

# glibc's mallopt parameters, and what `kgrec serve` sets them to.
M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8
MALLOC_ARENAS = 2
# Blocks from this size on get pages of their own, handed back when freed. glibc's default
# starts at 128 KiB but rises to the size of each such block freed (up to 32 MiB), after which
# the copies a write makes of the projection's and the model's arrays (megabytes each) come
# from the shared heap, and the holes they leave there kept the server's RSS hundreds of MB
# above what it holds. A fixed value stops that rise.
MMAP_THRESHOLD = 256 * 1024


def tune_malloc() -> None:
    """Before the server's threads start: cap glibc's malloc arenas at MALLOC_ARENAS (its
    default: 8 per core; each request thread otherwise allocates in an arena of its own, and
    pages freed across many arenas go back to the system piecemeal, if at all), and fix the
    size from which a block is mapped on its own at MMAP_THRESHOLD. Elsewhere than glibc,
    nothing."""
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def settle_heap() -> None:
    """Collect once, then exempt everything alive (imports, model, catalogue: some 600k
    objects) from the collector's full passes, which otherwise stall every request in flight
    for a few hundred ms at a time. Unfreezing first lets a replaced model's cycles go."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _release_freed_pages()


def _release_freed_pages() -> None:
    """Hand the C heap's free pages back to the system (glibc's malloc_trim; elsewhere
    nothing): a replaced model's arrays are freed, but without this their pages stay with the
    process and its RSS climbs with every reload."""
    with suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)
