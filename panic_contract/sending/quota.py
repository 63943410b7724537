"""The run's shared quota: its request budget, its pacing and its halt, for every process of one run.

With a `path`, the state lives in that file and every change happens under `flock` of a lock file
beside it, so pytest-xdist workers draw on one budget and one rate limit, and one worker's outage
stops the others. A change replaces the state file whole (a temporary file, then `os.replace`), so
a process killed at any point leaves the old state or the new one, never a torn one; the lock is on
a file that is never replaced, so it holds across the replace. A missing or unreadable state file
reads as a fresh run. Without a `path`, the state lives in memory (one process: the recorder).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from panic_contract.faults import HALTS, Halt

Sleep = Callable[[float], None]


class BudgetSpent(Exception):  # noqa: N818 - a limit reached, not an error
    """The run's request budget is spent; nothing more is sent."""


class Quota:
    """The request budget, the pacing and the halt of one run, shared by all of its processes."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        rate_limit: float = 0.0,
        budget: int | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.path = path
        self.interval = 1.0 / rate_limit if rate_limit else 0.0
        self.budget = budget
        self._sleep = sleep
        self._memory: dict[str, Any] = fresh_state()
        self._lock = threading.Lock()

    @property
    def lock_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        if self.path is None or self.lock_path is None:
            with self._lock:
                yield self._memory
            return
        with self.lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the lock file closes, or the process dies
            state = read_state(self.path)
            before = dict(state)
            yield state
            if state != before:
                _replace(self.path, json.dumps(state))

    def take(self) -> None:
        """Count one request about to be sent, after waiting for its turn under the rate limit.

        Raises the run's halt once there is one, and BudgetSpent once the budget is.
        """
        with self._state() as state:
            if (halt := _halt_in(state)) is not None:
                raise halt
            if self.budget is not None and state["sent"] >= self.budget:
                raise BudgetSpent(f"stopped at the request budget of {self.budget} (--request-budget)")
            now = time.time()
            if self.interval and state["last"] is not None:
                wait = state["last"] + self.interval - now
                if wait > 0:
                    self._sleep(wait)  # holding the lock: the other processes wait their turn behind us
                    now += wait
            state["sent"] += 1
            state["last"] = now

    def halt(self, halt: Halt) -> Halt:
        """Stop every process of the run from sending; the first halt wins, and is the one returned."""
        with self._state() as state:
            state["halt"] = state["halt"] or [halt.kind, halt.reason]
            return _halt_in(state) or halt

    @property
    def sent(self) -> int:
        with self._state() as state:
            return int(state["sent"])

    def halted(self) -> Halt | None:
        with self._state() as state:
            return _halt_in(state)


def _halt_in(state: dict[str, Any]) -> Halt | None:
    if not state["halt"]:
        return None
    kind, reason = state["halt"]
    return HALTS[kind](reason)


def fresh_state() -> dict[str, Any]:
    return {"sent": 0, "last": None, "halt": None}


def read_state(path: Path) -> dict[str, Any]:
    """The quota state in `path`; a fresh one when the file is missing, empty, or not a JSON object."""
    try:
        loaded = json.loads(path.read_bytes())
    except (OSError, ValueError):
        loaded = None
    return {**fresh_state(), **loaded} if isinstance(loaded, dict) else fresh_state()


def _replace(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path` in one step.

    No fsync: what this guards against is a killed process, not a lost disk; the state lives for one run.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
