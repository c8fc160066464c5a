"""One request's in-memory ranking or path search at a time, in the whole process.

Python runs one thread at a time anyway (the GIL), but numpy lets go of the GIL around many of
the hundreds of small array calls a ranking and its path search make. With eight request threads
ready, each of those calls became a hand-over between threads that cost more CPU than the call
itself (the bench's explained requests: 3.2 ms of server CPU each one at a time, 5.2 ms eight at
a time). Under `COMPUTING` the threads take turns once per section instead. Nothing run under it
may wait on I/O (Neo4j, the network): that would hold up every request."""

from __future__ import annotations

import threading

COMPUTING = threading.Lock()
