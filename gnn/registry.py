"""The model registry: which saved version serves, and the record of every decision about one.

Files in the models directory, next to the model directories (`gnn.artifacts`):

- `SERVING`: `{"version": ..., "since": ...}`, the version the API serves. Written to a temp file
  in the same directory, fsynced and renamed over the old one, so a reader sees the old
  pointer or the new one, never a mix, and a crash in between leaves the old one.
- `registry.jsonl`: one line per promotion, rollback and rejection (time, action, version,
  previous version, reason), appended; `rollback` replays it to know what served before.
- `.lock`: `flock`ed around every change, so that two writers never interleave.
"""

from __future__ import annotations

import difflib
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from gnn.artifacts import CARD, CONFIG, SERVING, serving_version, verify_model

LOG, LOCK = "registry.jsonl", ".lock"
Action = Literal["promote", "rollback", "reject"]


class RegistryError(ValueError):
    """A registry request that cannot be done; the message says how to fix it."""


@dataclass(frozen=True)
class Decision:
    """One line of `registry.jsonl`."""

    time: str
    action: Action
    version: str
    previous: str | None  # what served before (None: no pointer yet)
    reason: str


class Registry:
    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir

    def versions(self) -> list[str]:
        """Every complete model directory, oldest first (names sort by time)."""
        if not self.models_dir.is_dir():
            return []
        return sorted(
            path.name for path in self.models_dir.iterdir()
            if not path.name.startswith(".") and (path / CONFIG).is_file()
        )  # fmt: skip

    def path(self, version: str) -> Path:
        """The directory of `version`; RegistryError naming the closest versions if unknown."""
        known = self.versions()
        if version in known:
            return self.models_dir / version
        if not known:
            raise RegistryError(f"no model in {self.models_dir}; train one with `kgrec train`")
        closest = difflib.get_close_matches(version, known, n=3, cutoff=0.3) or known[-3:]
        raise RegistryError(
            f"no model {version!r} in {self.models_dir}; the closest: {', '.join(closest)} "
            "(`kgrec models list` shows all)"
        )

    def card(self, version: str) -> dict[str, Any] | None:
        """The card of `version` as saved (None: saved before cards)."""
        card_path = self.path(version) / CARD
        if not card_path.is_file():
            return None
        try:
            card: dict[str, Any] = json.loads(card_path.read_text())
        except ValueError as exc:
            raise RegistryError(
                f"{card_path} is unreadable ({exc}): the model is damaged; serve another "
                "(`kgrec models promote VERSION`) or train a new one (`kgrec train`)"
            ) from None
        return card

    def serving(self) -> str | None:
        """The version the pointer names; None without a pointer (the newest serves then)."""
        return serving_version(self.models_dir)

    def history(self) -> list[Decision]:
        """Every decision, oldest first. A line cut short by a crash is skipped."""
        try:
            lines = (self.models_dir / LOG).read_text().splitlines()
        except FileNotFoundError:
            return []
        decisions = []
        for line in lines:
            try:
                decisions.append(Decision(**json.loads(line)))
            except (ValueError, TypeError):
                continue
        return decisions

    def promote(self, version: str, reason: str) -> Decision | None:
        """Serve `version` (its files checked against its card first); None when it already
        serves."""
        path = self.path(version)
        verify_model(path)
        with self._locked():
            try:
                previous = self.serving()
            except ValueError:  # an unreadable pointer: this promotion replaces it
                previous = None
            if previous == version:
                return None
            return self._serve(version, previous, "promote", reason)

    def reject(self, version: str, reason: str) -> Decision:
        """Record that `version` must not serve, and why; the pointer stays."""
        self.path(version)
        with self._locked():
            if self.serving() == version:
                raise RegistryError(
                    f"{version} is serving; promote another (`kgrec models promote VERSION`) or "
                    "roll back (`kgrec models rollback`) before rejecting it"
                )
            return self._record("reject", version, None, reason)

    def rollback(self, reason: str = "rolled back by hand") -> Decision:
        """Serve again the version that served before the current one."""
        with self._locked():
            current = self.serving()
            if current is None:
                raise RegistryError(
                    f"no version serves through the registry in {self.models_dir} (no "
                    f"{SERVING} pointer), so there is nothing to roll back; serve one with "
                    "`kgrec models promote VERSION`"
                )
            stack = _before_last(served_stack(self.history()), current)
            if not stack:
                raise RegistryError(
                    f"no version served before {current} in {self.models_dir / LOG}; serve "
                    "another by name with `kgrec models promote VERSION` (`kgrec models list` "
                    "shows them)"
                )
            target = stack[-1]
            verify_model(self.path(target))
            return self._serve(target, current, "rollback", reason)

    def _serve(self, version: str, previous: str | None, action: Action, reason: str) -> Decision:
        # Pointer first, then the log: a crash in between leaves a pointer the log lacks,
        # which `served_stack` tolerates (a log entry without its pointer would not be).
        self._write_pointer(version)
        return self._record(action, version, previous, reason)

    def _write_pointer(self, version: str) -> None:
        # Temp files of a writer killed mid-write (the lock is held: no writer is live).
        for stray in self.models_dir.glob(f".{SERVING}.*.tmp"):
            stray.unlink(missing_ok=True)
        temp = self.models_dir / f".{SERVING}.{os.getpid()}.tmp"
        with temp.open("w") as file:
            json.dump({"version": version, "since": _now()}, file)
            file.flush()
            os.fsync(file.fileno())
        temp.replace(self.models_dir / SERVING)  # atomic (os.replace)
        _fsync_dir(self.models_dir)  # the rename itself survives a power cut

    def _record(self, action: Action, version: str, previous: str | None, reason: str) -> Decision:
        decision = Decision(_now(), action, version, previous, reason)
        log = self.models_dir / LOG
        with log.open("a+b") as file:
            # A line cut short by a crash is ended first, so this one is not glued to it.
            end = file.seek(0, os.SEEK_END)
            file.seek(max(end - 1, 0))
            torn = end > 0 and file.read(1) != b"\n"
            line = json.dumps(asdict(decision)) + "\n"
            file.write((b"\n" if torn else b"") + line.encode())  # "a": always at the end
            file.flush()
            os.fsync(file.fileno())
        return decision

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with (self.models_dir / LOCK).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def served_stack(history: list[Decision]) -> list[str]:
    """The versions served in turn, the current last: a promotion pushes, a rollback goes
    back to below the version it replaced."""
    stack: list[str] = []
    for decision in history:
        if decision.action == "reject":
            continue
        if decision.action == "rollback":
            stack = _before_last(stack, decision.previous)
        elif decision.previous is not None and (not stack or stack[-1] != decision.previous):
            stack.append(decision.previous)  # served without a log line (older setup, crash)
        if not stack or stack[-1] != decision.version:
            stack.append(decision.version)
    return stack


def status(version: str, serving: str | None, history: list[Decision]) -> str:
    """serving, rejected (its latest decision), promoted before, or candidate (never served)."""
    if version == serving:
        return "serving"
    mine = [decision.action for decision in history if decision.version == version]
    if mine and mine[-1] == "reject":
        return "rejected"
    return "promoted before" if mine else "candidate"


def _before_last(stack: list[str], version: str | None) -> list[str]:
    """`stack` below the last `version` in it (all of it when `version` is not in it)."""
    for index in range(len(stack) - 1, -1, -1):
        if stack[index] == version:
            return stack[:index]
    return stack


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
