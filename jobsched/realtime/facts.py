"""Facts between processes: every process that changes jobs tells every web process.

A scheduler (or `flask prune-jobs`, or a web process serving the API) emits its facts —
"job 7 of owner 3 changed" — through Socket.IO's Redis message queue, as the event
FACTS_EVENT to the room RELAY_ROOM, which no socket ever joins. Every web process's client
manager (`RelayManager`) takes those messages out of the queue and hands the facts to its own
SocketIOSink, the one place that coalesces, paces and emits (to its own sockets only) what
browsers hear. So each browser is paced by the one process it talks to: nothing is shared
across processes, no process waits on another, and processes without a web server never
read a job for events.

Facts are hints (pages re-read the API after reconnecting): when Redis is away they are
dropped, and nothing else stops.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import socketio

from ..scheduler.events import Event, JobChanged, JobDeleted

log = logging.getLogger(__name__)

FACTS_EVENT = "jobsched:facts"
# "Close the sockets opened with these credentials" (a revoked token, a login that ended):
# every web process closes its own, on the same path as the facts.
CLOSE_EVENT = "jobsched:close"
RELAY_ROOM = "jobsched:relay"  # joined by no socket: the facts are for the web processes
MAX_FACTS_PER_MESSAGE = 500
PAUSE = 0.02  # seconds between two messages of one process (adds at most this to an event)
_KINDS: dict[str, type[JobChanged] | type[JobDeleted]] = {"c": JobChanged, "d": JobDeleted}


def encode(origin: str, events: list[Event]) -> dict[str, Any]:
    facts = [["d" if isinstance(e, JobDeleted) else "c", e.job_id, e.owner_id] for e in events]
    return {"origin": origin, "facts": facts}


def decode(message: Any) -> tuple[str, list[Event]]:
    """The origin and the facts of one message; ValueError when it is not one of ours."""
    try:
        return str(message["origin"]), [
            _KINDS[kind](int(job_id), int(owner_id))
            for kind, job_id, owner_id in message["facts"]
        ]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a facts message: {str(message)[:80]!r}") from error


class StartOnce:
    """Calling it starts `run` on a worker of `spawn`'s, the first time only."""

    def __init__(self, spawn: Callable[[Callable[[], None]], Any],
                 run: Callable[[], None]) -> None:
        self._spawn, self._run = spawn, run
        self._lock = threading.Lock()
        self._started = False

    def __call__(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                self._spawn(self._run)


class FactPublisher:
    """An EventSink that emits facts to the relay room from a worker of its own: `publish`
    only queues, and the worker sends whatever gathered meanwhile as one message. `emit` is
    a Socket.IO server's (or a write-only SocketIO's) emit, going through the queue."""

    def __init__(self, emit: Callable[..., Any], origin: str,
                 spawn: Callable[[Callable[[], None]], Any], pause: float = PAUSE,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._emit, self.origin = emit, origin
        self._pause, self._sleep = pause, sleep
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._start = StartOnce(spawn, self._run)
        self._failing = False  # log an outage once, not once per message

    def publish(self, event: Event) -> None:
        self._queue.put(event)
        self._start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            self._send([first, *self._drain(MAX_FACTS_PER_MESSAGE - 1)])
            # At most one message per pause: a busy scheduler's facts gather meanwhile (a
            # message costs far more than a fact), a lone fact still goes at once.
            self._sleep(self._pause)

    def close(self) -> None:
        """Send what is still queued (a process about to exit)."""
        while events := self._drain(MAX_FACTS_PER_MESSAGE):
            self._send(events)

    def _drain(self, most: int) -> list[Event]:
        events: list[Event] = []
        while len(events) < most:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return events

    def _send(self, events: list[Event]) -> None:
        try:
            self._emit(FACTS_EVENT, encode(self.origin, events), to=RELAY_ROOM)
        except Exception as error:  # any Redis or socket error: the facts are hints
            if not self._failing:
                log.warning("sending job events through Redis failed (%s); browsers hear "
                            "of these jobs when they reload", error)
            self._failing = True
        else:
            if self._failing:
                log.info("sending job events through Redis works again")
            self._failing = False


def decode_close(message: Any) -> tuple[str, list[str]]:
    """The origin and the credential keys of a close message; ValueError when malformed."""
    try:
        keys = message["keys"]
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise TypeError("keys must be a list of strings")
        return str(message["origin"]), keys
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a close message: {str(message)[:80]!r}") from error


class RelayManager(socketio.RedisManager):
    """A web process's Socket.IO client manager: Redis's, except that facts emitted to the
    relay room are handed to this process's sink, and close messages to its `close` (those
    it published itself excepted: it acted on them directly)."""

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel=channel)
        self.origin = new_origin()
        self.deliver: Callable[[Event], None] | None = None
        self.close: Callable[[list[str]], None] | None = None

    def announce_close(self, keys: list[str]) -> None:
        """Ask every other web process to close its sockets opened under `keys`."""
        self.server.emit(CLOSE_EVENT, {"origin": self.origin, "keys": keys}, to=RELAY_ROOM)

    def _handle_emit(self, message: dict[str, Any]) -> Any:
        event = message.get("event")
        if event not in (FACTS_EVENT, CLOSE_EVENT):
            return super()._handle_emit(message)
        data = message.get("data")
        if isinstance(data, list) and len(data) == 1:  # the emit's arguments
            data = data[0]
        try:
            if event == CLOSE_EVENT:
                self._close(*decode_close(data))
            else:
                self._deliver(*decode(data))
        except ValueError:
            log.warning("ignored a malformed %s message", event)
        return None

    def _deliver(self, origin: str, events: list[Event]) -> None:
        if origin != self.origin and self.deliver is not None:
            for event in events:
                self.deliver(event)

    def _close(self, origin: str, keys: list[str]) -> None:
        if origin != self.origin and self.close is not None:
            self.close(keys)


def new_origin() -> str:
    """A name for one process's messages, so that it can skip its own."""
    return uuid.uuid4().hex
