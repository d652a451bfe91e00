"""Stopping a node: the grace period, the hand-back of what still runs, the final wait.

The node owns the attempts and the store; this owns the waiting. `run` is re-entrant: a
second signal may call stop() again while the first drain waits.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .attempts import Attempt, RunningAttempts

JOIN_BUDGET_SECONDS = 2.0  # how long a stop waits for workers to return after a hand-back


def join_all(handles: list[Any], budget: float = JOIN_BUDGET_SECONDS) -> None:
    """Join spawned workers, all of them within `budget` seconds together."""
    deadline = time.monotonic() + budget
    for handle in handles:
        if handle is not None:
            _join(handle, max(0.0, deadline - time.monotonic()))


def _join(handle: Any, timeout: float) -> None:
    """Join a spawned worker for at most `timeout`; skip handles whose join has no timeout."""
    try:
        handle.join(timeout)
    except (AttributeError, TypeError):  # e.g. eventlet's join(): it could block forever
        pass


class Drain:
    """The stop protocol of one node: wait, hand back, wait for the last writes, close."""

    def __init__(self, running: RunningAttempts, grace_seconds: float,
                 wake: Callable[[], Any]) -> None:
        self._running = running
        self._grace_seconds = grace_seconds
        self._lock = threading.RLock()  # re-entrant: a 2nd signal may nest a stop()
        self._woken, self._hurry, self.finished = wake(), wake(), wake()

    def request(self, graceful: bool) -> None:
        """A stop was asked for (safe in a signal handler); not graceful: skip the grace."""
        if not graceful:
            self._hurry.set()
        self._woken.set()

    def wake(self) -> None:
        """An attempt released its slot: re-check whether the wait is over."""
        self._woken.set()

    def run(self, hand_back: Callable[[Attempt], None],
            close: Callable[[list[Any]], None]) -> None:
        """Wait up to grace for attempts, hand back the rest, then `close(their handles)`."""
        with self._lock:
            self._wait_until(lambda: self._idle() or self._hurry.is_set(), self._grace_seconds)
            if self.finished.is_set():
                return  # a nested stop (second signal) already finished the job
            remaining = self._running.active()
            for attempt in remaining:
                hand_back(attempt)
            # Attempts that ended just before the hand-back may still be writing how they
            # ended; the process must not exit under them (the job would stay running until
            # its lease expired, then run again).
            self._wait_until(self._idle, JOIN_BUDGET_SECONDS)
            close([a.handle for a in remaining])
            self.finished.set()

    def _idle(self) -> bool:
        """No slot held: every attempt ended and its final write is done (not just begun)."""
        return len(self._running) == 0

    def _wait_until(self, done: Callable[[], bool], seconds: float) -> None:
        """Wait up to `seconds` for `done()`; settles and stop requests wake the check."""
        deadline = time.monotonic() + seconds
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._woken.clear()
            if not done():  # re-check after clear: a release in between is not missed
                self._woken.wait(remaining)
