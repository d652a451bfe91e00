"""Facts between processes: every process that changes jobs tells every web process.

A scheduler (or `flask prune-jobs`, or a web process serving the API) publishes its facts —
"job 7 of owner 3 changed" — as FACTS messages on the relay channel (relay.py). Every web
process's listener hands other processes' facts to its own SocketIOSink, the one place that
coalesces, paces and emits (to its own sockets only) what browsers hear. So each browser is
paced by the one process it talks to: nothing is shared across processes, no process waits
on another, and processes without a web server never read a job for events.

CLOSE messages name credentials whose sockets every web process closes (a revoked token, a
login that ended).

Facts are hints (pages re-read the API after reconnecting): when Redis is away they are
dropped, and nothing else stops.
"""
from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from typing import Any

from ..scheduler.events import Event, JobChanged, JobDeleted
from .relay import StartOnce

log = logging.getLogger(__name__)

FACTS = "facts"  # the kinds of relay message
CLOSE = "close"
MAX_FACTS_PER_MESSAGE = 500
PAUSE = 0.02  # seconds between two messages of one process (adds at most this to an event)
_KINDS: dict[str, type[JobChanged] | type[JobDeleted]] = {"c": JobChanged, "d": JobDeleted}


def encode(events: list[Event]) -> dict[str, Any]:
    """The body of a FACTS message."""
    return {"facts": [["d" if isinstance(e, JobDeleted) else "c", e.job_id, e.owner_id]
                      for e in events]}


def decode(message: Any) -> list[Event]:
    """The facts of one FACTS message; ValueError when it is not one of ours."""
    try:
        return [_KINDS[kind](int(job_id), int(owner_id))
                for kind, job_id, owner_id in message["facts"]]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a facts message: {str(message)[:80]!r}") from error


def decode_close(message: Any) -> list[str]:
    """The credential keys of a CLOSE message; ValueError when malformed."""
    keys = message.get("keys") if isinstance(message, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"not a close message: {str(message)[:80]!r}")
    return keys


def facts_handler(deliver: Callable[[Event], None]) -> Callable[[Any], None]:
    """A relay handler giving each fact of a FACTS message to `deliver`."""
    def handle(message: Any) -> None:
        for event in decode(message):
            deliver(event)
    return handle


def close_handler(close: Callable[[list[str]], None]) -> Callable[[Any], None]:
    """A relay handler closing the sockets a CLOSE message names."""
    return lambda message: close(decode_close(message))


class FactPublisher:
    """An EventSink that sends facts to the relay from a worker of its own: `publish` only
    queues, and the worker sends whatever gathered meanwhile as one message. `send` is a
    RelayPublisher's."""

    def __init__(self, send: Callable[[str, dict[str, Any]], None],
                 spawn: Callable[[Callable[[], None]], Any], pause: float = PAUSE,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._send_message = send
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
            self._send_message(FACTS, encode(events))
        except Exception as error:  # any Redis or socket error: the facts are hints
            if not self._failing:
                log.warning("sending job events through Redis failed (%s); browsers hear "
                            "of these jobs when they reload", error)
            self._failing = True
        else:
            if self._failing:
                log.info("sending job events through Redis works again")
            self._failing = False
