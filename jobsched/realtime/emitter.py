"""Events from a process without the web server (`flask run-scheduler`) go through Redis."""
from __future__ import annotations

import logging

from flask import Flask
from flask_socketio import SocketIO

from ..scheduler.events import Event
from ..scheduler.node import start_thread
from .coalescer import FLUSH_INTERVAL, STATS_INTERVAL
from .pace import paces
from .sink import SocketIOSink

log = logging.getLogger(__name__)


class ExternalSink:
    """A SocketIOSink on a write-only SocketIO(message_queue=REDIS_URL), or nothing."""

    def __init__(self, sink: SocketIOSink | None) -> None:
        self.sink = sink

    def publish(self, event: Event) -> None:
        if self.sink is not None:
            self.sink.publish(event)

    def close(self) -> None:
        """Send what is still waiting before the process exits."""
        if self.sink is not None:
            self.sink.flush(self.sink.coalescer.take(float("inf")))


def external_sink(app: Flask) -> ExternalSink:
    url = app.config.get("REDIS_URL")
    if not url:
        log.warning("REDIS_URL is not set: browsers will not hear about this scheduler's jobs "
                    "until they reload")
        return ExternalSink(None)
    # Write-only: needs no app and emits through Redis. Threading, because this process runs
    # without eventlet's monkey patching (merely having eventlet installed would pick it).
    channel = app.config["JOBSCHED_SOCKETIO_CHANNEL"]
    emitter = SocketIO(message_queue=url, channel=channel, async_mode="threading")
    # Turns shared with the web processes, so a client gets ~4 batches a second in all.
    shared = paces(url, FLUSH_INTERVAL, STATS_INTERVAL, prefix=channel)
    return ExternalSink(SocketIOSink(app, emitter, spawn=start_thread, paces=shared))
