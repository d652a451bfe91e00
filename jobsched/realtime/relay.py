"""The relay: a Redis pub/sub channel of jobsched's own between processes.

Any process publishes JSON messages to `<JOBSCHED_SOCKETIO_CHANNEL>:relay` with a plain
PUBLISH; every web process subscribes with a listener of its own and hands each message to the
handler of its kind (facts.py: job facts for its sink, credentials whose sockets to close).
It goes around python-socketio's client manager on purpose: that manager's hooks for
messages are private, and an upgrade changing them would silently stop every event.

Messages are hints: when Redis is away they are dropped (logged once) and the listener
reconnects on its own; pages re-read the API after reconnecting.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import redis

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0  # between two attempts to subscribe while Redis is away
SOCKET_TIMEOUT_SECONDS = 2.0  # a publish never hangs a writer for longer
HEALTH_CHECK_SECONDS = 30
POLL_SECONDS = 5.0  # the longest the listener blocks between two health checks
FIRST_SUBSCRIBE_WAIT = 1.0  # the first socket waits at most this for the subscription

Handler = Callable[[dict[str, Any]], None]  # raises ValueError for a malformed message


def relay_channel(prefix: str) -> str:
    return f"{prefix}:relay"


def new_origin() -> str:
    """A name for one process's messages, so that it can skip its own."""
    return uuid.uuid4().hex


class RelayPublisher:
    """Sends messages of one process (`origin`) to the relay channel."""

    def __init__(self, url: str, channel: str, origin: str | None = None) -> None:
        self.channel = channel
        self.origin = origin or new_origin()
        self._client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS)

    def send(self, kind: str, body: Mapping[str, Any]) -> None:
        """Publish one message; raises redis.RedisError when Redis is away."""
        message = {"kind": kind, "origin": self.origin, **body}
        self._client.publish(self.channel, json.dumps(message, separators=(",", ":")))


class RelayListener:
    """Subscribes to the relay channel and dispatches other processes' messages by kind.

    `run` loops for the process's lifetime (start it on a worker); `ready` is set while
    subscribed, so the first socket can wait until it will hear what happens after it."""

    def __init__(self, url: str, channel: str, origin: str,
                 handlers: Mapping[str, Handler],
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.channel, self.origin = channel, origin
        self._url, self._handlers, self._sleep = url, handlers, sleep
        self.ready = threading.Event()
        self.client_name = f"jobsched-relay-{origin}"  # names it in Redis's CLIENT LIST

    def run(self) -> None:
        failing = False
        while True:
            try:
                self._listen()
            except redis.RedisError as error:
                if not failing:
                    log.warning("listening for job events in Redis failed (%s); retrying "
                                "every %.0f s", error, RETRY_SECONDS)
                failing = True
            self.ready.clear()
            self._sleep(RETRY_SECONDS)

    def _listen(self) -> None:
        client = redis.Redis.from_url(self._url, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                                      health_check_interval=HEALTH_CHECK_SECONDS,
                                      client_name=self.client_name)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
            pubsub.get_message(timeout=SOCKET_TIMEOUT_SECONDS)  # the subscription's answer
            self.ready.set()
            log.info("listening for job events on Redis channel %s", self.channel)
            while True:
                # A timeout, not listen(): a silently dead connection is found by the
                # health check's PING at the next call instead of blocking forever.
                message = pubsub.get_message(timeout=POLL_SECONDS)
                if message is not None and message.get("type") == "message":
                    self.handle(message["data"])
        finally:
            pubsub.close()
            client.close()

    def handle(self, raw: bytes | str) -> None:
        """Dispatch one raw message (ours, a malformed one or another process's)."""
        try:
            message = json.loads(raw)
            if not isinstance(message, dict):
                raise ValueError("not an object")
            if message.get("origin") == self.origin:
                return  # this process acted on it already
            self._handlers[str(message.get("kind"))](message)
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed relay message: %r", str(raw)[:80])


class StartOnce:
    """Calling it starts `run` on a worker of `spawn`'s, the first time only; returns whether
    this call started it."""

    def __init__(self, spawn: Callable[[Callable[[], None]], Any],
                 run: Callable[[], None]) -> None:
        self._spawn, self._run = spawn, run
        self._lock = threading.Lock()
        self._started = False

    def __call__(self) -> bool:
        with self._lock:
            if self._started:
                return False
            self._started = True
        self._spawn(self._run)
        return True
