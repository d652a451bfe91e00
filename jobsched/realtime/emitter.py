"""Events from a process without the web server (`flask run-scheduler`, `flask prune-jobs`):
its facts go through the relay channel in Redis to the web processes, which emit them."""
from __future__ import annotations

import logging

from flask import Flask

from ..scheduler.chores import start_thread
from ..scheduler.events import Event
from .facts import FactPublisher
from .relay import RelayPublisher, relay_channel

log = logging.getLogger(__name__)


class ExternalSink:
    """A FactPublisher to the relay channel in REDIS_URL, or nothing."""

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
    relay = RelayPublisher(url, relay_channel(app.config["JOBSCHED_SOCKETIO_CHANNEL"]))
    return ExternalSink(FactPublisher(relay.send, spawn=start_thread))
