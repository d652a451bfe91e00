"""Pacing batches across processes, so a browser hears ~4 `job_updates` a second in all.

Each process coalesces its own facts (coalescer.py), but several processes may emit to the
same rooms: the web process announces the jobs users submit, every `flask run-scheduler`
the jobs it runs. Through Redis they take turns: a process sends a batch only while it holds
a short-lived key, and when it is done the key stays for one interval, so batches from every
process are at least that far apart. Without Redis there is one process and nothing to share.

Redis trouble never stops events: the pace then fails open (each process paces itself).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

UPDATES_KEY = "realtime:updates-turn"  # prefixed by the deployment's channel
STATS_KEY = "realtime:stats-turn"
MAX_WAIT = 2.0  # a turn is waited for this long at most; then the batch goes anyway
_FAILED = object()


class Pace(Protocol):
    def wait_turn(self) -> None:
        """Block until this process may send (bounded)."""

    def try_turn(self) -> bool:
        """Take the turn if it is free right now; False if another process has it."""

    def done(self) -> None:
        """The batch is out: the next one, from any process, waits a full interval."""


class OwnPace:
    """One process alone: the coalescer's own interval is the whole story."""

    def wait_turn(self) -> None:
        return None

    def try_turn(self) -> bool:
        return True

    def done(self) -> None:
        return None


# Time a batch may spend between its send and the browser beyond a direct emit (the Redis
# hop and the web process's relay, with a loaded machine's jitter).
RELAY_MARGIN_MS = 60


class SharedPace:
    """Turns shared through a Redis key that lives `interval` seconds."""

    def __init__(self, client: Any, key: str, interval: float,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._redis, self._key = client, key
        self._ms = max(1, int(interval * 1000))
        self._sleep, self._clock = sleep, clock
        self._failing = False

    def wait_turn(self) -> None:
        """Take the turn as soon as it is free, waiting MAX_WAIT seconds at most."""
        give_up = self._clock() + MAX_WAIT
        while (now := self._clock()) < give_up:
            left_ms = self._take()
            if left_ms is None:
                return
            self._sleep(min(max(left_ms, 5) / 1000, give_up - now))

    def try_turn(self) -> bool:
        """Take the turn only if it is free now."""
        return self._take() is None

    def done(self) -> None:
        """Hold the turn one more interval from now, for every process, plus the relay
        margin: a scheduler's batch still travels through Redis and a web process to the
        browser, so the next batch (maybe the web's own, sent directly) must not catch up."""
        self._call(lambda: self._redis.set(self._key, b"1", px=self._ms + RELAY_MARGIN_MS))

    def _take(self) -> int | None:
        """None when the turn is ours (or Redis cannot say); else ms until it may be free."""
        # SET NX answers True when it set the key and None when the key was there.
        taken = self._call(lambda: self._redis.set(self._key, b"1", px=self._ms, nx=True))
        if taken is _FAILED or taken:
            return None
        left = self._call(lambda: self._redis.pttl(self._key))
        return None if left is _FAILED else int(left)

    def _call(self, operation: Callable[[], Any]) -> Any:
        """Run a Redis command; on failure log once per outage and answer _FAILED."""
        try:
            result = operation()
        except Exception as error:  # any Redis or socket error: events must still flow
            if not self._failing:
                log.warning("pacing through Redis failed (%s); pacing this process alone",
                            error)
            self._failing = True
            return _FAILED
        if self._failing:
            log.info("pacing through Redis works again")
        self._failing = False
        return result


def paces(
    url: str | None, interval: float, stats_interval: float,
    sleep: Callable[[float], None] = time.sleep, prefix: str = "jobsched",
) -> tuple[Pace, Pace]:
    """The paces for `job_updates` and for `stats`: shared when events go through Redis."""
    if not url:
        return OwnPace(), OwnPace()
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    return (SharedPace(client, f"{prefix}:{UPDATES_KEY}", interval, sleep),
            SharedPace(client, f"{prefix}:{STATS_KEY}", stats_interval, sleep))
