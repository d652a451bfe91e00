"""`WorkerThreads`: reused daemon threads for attempts, instead of a new thread each.

Starting a thread per attempt costs more than a no-op task itself. A worker that finishes
an attempt waits for the next one; a spawn with no idle worker starts a new thread (never
queues behind a busy one: an attempt handed back on shutdown may still be running while
others start), and a worker idle for `idle_seconds` exits.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

IDLE_SECONDS = 60.0

Task = tuple[Callable[..., Any], tuple[Any, ...], "WorkDone"]


class WorkDone:
    """The handle spawn returns: join(timeout) waits for that one call to return."""

    def __init__(self) -> None:
        self._done = threading.Event()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def is_alive(self) -> bool:
        return not self._done.is_set()

    def _set(self) -> None:
        self._done.set()


class WorkerThreads:
    """A `spawn(fn, *args)` that runs each call on an idle worker thread, or a new one."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS, name: str = "jobsched-worker") -> None:
        self._idle_seconds, self._name = idle_seconds, name
        self._tasks: queue.SimpleQueue[Task] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a task that no spawn has counted on yet

    def spawn(self, fn: Callable[..., Any], *args: Any) -> WorkDone:
        """Run fn(*args) on a worker; the handle's join waits for it."""
        done = WorkDone()
        with self._lock:
            self._tasks.put((fn, args, done))
            if self._idle > 0:
                self._idle -= 1  # that worker's next get() takes this task
                return done
        threading.Thread(target=self._work, daemon=True, name=self._name).start()
        return done

    def _work(self) -> None:
        task = self._tasks.get()  # the task this thread was started for (or an earlier one)
        while task is not None:
            fn, args, done = task
            try:
                fn(*args)
            except Exception:  # a thread of its own would have died with this trace
                log.exception("worker %s failed", getattr(fn, "__qualname__", fn))
            finally:
                done._set()
            with self._lock:
                self._idle += 1
            task = self._next()

    def _next(self) -> Task | None:
        """The next task; None when idle too long and no spawn has counted on this worker."""
        while True:
            try:
                return self._tasks.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:
                        self._idle -= 1
                        return None
                # A spawn counted on an idle worker just now: its task is on its way.
