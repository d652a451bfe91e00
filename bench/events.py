"""Watching the real-time side: Socket.IO messages in Redis, and a Socket.IO client.

`RedisTap` counts what is published on the run's Redis (the Socket.IO message queue: proof
that a benchmark ran with events on, as in production). `SocketWatcher` is a real python-socketio
client that records when each `job_updates` event arrived and what it said.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
import socketio


class RedisTap:
    """Counts messages published on a Redis server, on a daemon thread."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self.count = 0
        # Every channel: the Socket.IO channel's name is a setting (the private Redis carries
        # nothing else).
        self._pubsub.psubscribe(**{"*": self._handle})
        self._thread = self._pubsub.run_in_thread(sleep_time=0.2, daemon=True,
                                                  exception_handler=self._stop_on_error)

    def _handle(self, message: dict[str, Any]) -> None:
        self.count += 1  # one thread writes; readers only need an eventual value

    def _stop_on_error(self, error: BaseException, pubsub: Any, thread: Any) -> None:
        thread.stop()  # the server went away: the count so far stands

    def close(self) -> None:
        """Stop listening and close the connections."""
        self._thread.stop()
        self._thread.join(2)
        self._pubsub.close()
        self._client.close()


@dataclass(frozen=True, slots=True)
class Seen:
    """One job as one `job_updates` event showed it, and when that event arrived."""

    at: float  # time.time() of arrival
    job_id: int
    status: str


class SocketWatcher:
    """A Socket.IO client authenticated with an API token, recording `job_updates`."""

    def __init__(self, base_url: str, token: str) -> None:
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._client = socketio.Client(reconnection=False)
        self._client.on("job_updates", self._on_updates)
        self._client.connect(base_url, auth={"token": token}, transports=["websocket"],
                             wait_timeout=10)

    def _on_updates(self, data: dict[str, Any]) -> None:
        now = time.time()
        with self._lock:
            self.seen.extend(Seen(now, job["id"], job["status"]) for job in data["jobs"])

    def first_seen(self, job_id: int, statuses: frozenset[str], after: float = 0.0
                   ) -> float | None:
        """When an event first showed the job in one of `statuses` (None: never)."""
        with self._lock:
            times = [s.at for s in self.seen
                     if s.job_id == job_id and s.status in statuses and s.at >= after]
        return min(times) if times else None

    def close(self) -> None:
        """Disconnect the client."""
        self._client.disconnect()
