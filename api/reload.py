"""Switching the API to another model without downtime. `POST /admin/reload` and the watcher of
the registry's SERVING pointer (`gnn.registry`) both call `reload`, one reload at a time."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from types import TracebackType

from fastapi import FastAPI

from api.memory import settle_heap
from api.service import ReloadError, Service, successor_of
from gnn.artifacts import serving_version

log = logging.getLogger("kgrec.api")
RELOADING = threading.Lock()  # one reload at a time: each holds a whole model in memory
RETRY_S = 60.0  # how long the watcher leaves a version that failed to load before trying again


class ReloadBusyError(ReloadError):
    """Another reload is in progress."""


def reload(app: FastAPI) -> tuple[Service, Service]:
    """Swap the app's service for one over the model KGREC_MODELS_DIR serves (its SERVING
    pointer, else the newest); returns (new, old). The old one is closed on a thread of its
    own once its requests are done. ReloadBusyError, or ReloadError saying why (the old one
    serves on)."""
    if not RELOADING.acquire(blocking=False):
        raise ReloadBusyError("another reload is in progress; wait for its answer")
    try:
        current: Service = app.state.service
        try:
            fresh = successor_of(current)
        except ReloadError as exc:
            raise ReloadError(f"{exc}; still serving {current.recommender.name}") from exc
        app.state.service = fresh
    finally:
        RELOADING.release()
    # On a thread of its own: the old service waits for its requests (the caller's among them).
    threading.Thread(target=_retire, args=(current,), name="kgrec-retire").start()
    return fresh, current


def _retire(service: Service) -> None:
    service.close()
    settle_heap()  # lets the old model's cycles go


class ModelWatcher:
    """While entered, reads the SERVING pointer every `period_s` seconds (0: never) and
    reloads when it names another version than the one serving: a promotion or rollback
    reaches the running API without a call."""

    def __init__(self, app: FastAPI, models_dir: Path, period_s: float) -> None:
        self.app = app
        self.models_dir = models_dir
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kgrec-model-watch", daemon=True)
        self._failed: tuple[str, float] | None = None  # the version that failed, and when
        self._reported: str | None = None  # the last problem logged, not repeated each period

    def __enter__(self) -> ModelWatcher:
        if self.period_s > 0:
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()  # a reload under way finishes first

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.check()

    def check(self) -> None:
        """Reload if the pointer names another version (unless that one failed lately)."""
        try:
            wanted = serving_version(self.models_dir)
        except (OSError, ValueError) as exc:
            self._report(f"cannot read the serving pointer: {exc}")
            return
        serving = self.app.state.service.recommender.name
        if wanted is None or wanted == serving:
            return
        failed_lately = (
            self._failed is not None
            and self._failed[0] == wanted
            and (time.monotonic() - self._failed[1] < RETRY_S)
        )
        if failed_lately:
            return
        try:
            fresh, old = reload(self.app)
        except ReloadBusyError:
            return  # POST /admin/reload is at it: the next period looks again
        except ReloadError as exc:
            self._failed = (wanted, time.monotonic())
            self._report(f"SERVING names {wanted}, which could not be served: {exc}")
            return
        self._failed = self._reported = None
        log.info("switched to model %s (from %s): SERVING names it", fresh.recommender.name,
                 old.recommender.name)  # fmt: skip

    def _report(self, problem: str) -> None:
        if problem != self._reported:
            log.error("%s", problem)
            self._reported = problem
