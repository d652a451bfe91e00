"""Test helpers: a fake clock, an in-place spawn, a recording sink, waiting on a condition (no
fixed sleeps), and serving an app over real HTTP."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest
from flask import Flask

from jobsched.scheduler.events import Event

__all__ = ["LIVE", "T0", "Done", "FakeClock", "RecordingSink", "run_in_place", "served",
           "wait_until"]

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Logged(Protocol):
    def output(self) -> str: ...


# A test stashes the live server it used under this key; a failure then shows what it logged
# (tests/conftest.py's report hook).
LIVE = pytest.StashKey[Logged]()


class FakeClock:
    """A clock that moves only when told to; thread-safe, so workers may read it."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move time forward and return the new now."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to a given time."""
        with self._lock:
            self._now = when


class Done:
    """Handle of work that already ran."""

    def join(self, timeout: float | None = None) -> None:
        return None


def run_in_place(fn: Callable[..., object], *args: object) -> Done:
    """A spawn that runs the work right away on the caller's thread: ticks become
    deterministic, one tick runs a job to its end."""
    fn(*args)
    return Done()


class RecordingSink:
    """An event sink that keeps every event, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, event: Event) -> None:
        self.events.append(event)


def wait_until(
    predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.01,
    message: str = "",
) -> None:
    """Poll `predicate` until it is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        time.sleep(interval)


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """Serve `app` over real HTTP from a threaded server (a thread per request, so requests
    truly overlap); yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
