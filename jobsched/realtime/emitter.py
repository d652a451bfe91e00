"""Events from a process without the web server (`flask run-scheduler`, `flask prune-jobs`):
its facts go through the Redis message queue to the web processes, which emit them."""
from __future__ import annotations

import logging

from flask import Flask
from flask_socketio import SocketIO

from ..scheduler.chores import start_thread
from ..scheduler.events import Event
from .facts import FactPublisher, new_origin

log = logging.getLogger(__name__)


class ExternalSink:
    """A FactPublisher on a write-only SocketIO(message_queue=REDIS_URL), or nothing."""

    def __init__(self, publisher: FactPublisher | None) -> None:
        self.publisher = publisher

    def publish(self, event: Event) -> None:
        if self.publisher is not None:
            self.publisher.publish(event)

    def close(self) -> None:
        """Send what is still waiting before the process exits."""
        if self.publisher is not None:
            self.publisher.close()


def external_sink(app: Flask) -> ExternalSink:
    url = app.config.get("REDIS_URL")
    if not url:
        log.warning("REDIS_URL is not set: browsers will not hear about this scheduler's jobs "
                    "until they reload")
        return ExternalSink(None)
    # Write-only: needs no app and emits through Redis. Threading, because this process runs
    # without eventlet's monkey patching (merely having eventlet installed would pick it).
    emitter = SocketIO(message_queue=url, channel=app.config["JOBSCHED_SOCKETIO_CHANNEL"],
                       async_mode="threading")
    return ExternalSink(FactPublisher(emitter.emit, new_origin(), spawn=start_thread))
