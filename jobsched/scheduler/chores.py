"""How the scheduler starts work elsewhere (`Spawn`, `start_thread`) and its periodic
housekeeping: work offered on every tick, done at most once per interval on a worker of
its own, so that it never delays claims. The storage layer's chores build on these."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

Spawn = Callable[..., Any]
Chore = Callable[[datetime], Any]  # periodic housekeeping besides rescue and reconcile


def start_thread(fn: Callable[..., Any], *args: Any) -> threading.Thread:
    """Default spawn: a daemon thread (embedded web mode passes its own, green-friendly one)."""
    thread = threading.Thread(target=fn, args=args, daemon=True, name="jobsched-worker")
    thread.start()
    return thread


class Periodic:
    """Subclasses say what the work is (`work`) and how a failure is reported (`failed`,
    called inside the exception handler); `label` and `worker` name it in log lines."""

    label, worker = "housekeeping", "housekeeping"

    def __init__(self, *, interval: timedelta, spawn: Spawn = start_thread) -> None:
        self.interval, self._spawn = interval, spawn
        self._next_due: datetime | None = None
        self._busy = threading.Event()  # a worker is running

    def __call__(self, now: datetime) -> None:
        """Called on every scheduler tick; starts the work when due and none runs."""
        if self._next_due is not None and now < self._next_due:
            return
        if self._busy.is_set():
            return
        self._next_due = now + self.interval
        self._busy.set()
        try:
            self._spawn(self._run)
        except Exception:
            self._busy.clear()
            log.warning("%s: could not start the %s worker", self.label, self.worker,
                        exc_info=True)

    def _run(self) -> None:
        try:
            self.work()
        except Exception:
            self.failed()
        finally:
            self._busy.clear()

    def work(self) -> None:
        raise NotImplementedError

    def failed(self) -> None:
        log.warning("%s: %s failed; next try in %s", self.label, self.worker, self.interval,
                    exc_info=True)


def every(*chores: Chore | None) -> Chore | None:
    """One chore that offers each of `chores` (those not None) in turn on every tick."""
    present = [chore for chore in chores if chore is not None]
    if len(present) <= 1:
        return present[0] if present else None

    def offer_each(now: datetime) -> None:
        for chore in present:
            chore(now)

    return offer_each
