"""Facts the core publishes after a store commits; the real-time layer subscribes.

The core knows nothing of Socket.IO: it calls `sink.publish(JobChanged(...))`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class JobChanged:
    """A job was created or changed (status, progress or fields)."""

    job_id: int
    owner_id: int


@dataclass(frozen=True, slots=True)
class JobDeleted:
    job_id: int
    owner_id: int


Event = JobChanged | JobDeleted


class EventSink(Protocol):
    def publish(self, event: Event) -> None:
        """Called after the commit that made the fact true. Must not block or raise."""


class NullSink:
    """Publishes nowhere (tools that change jobs with no audience)."""

    def publish(self, event: Event) -> None:
        return None


class FanOutSink:
    """Publishes to several sinks; one failing sink does not stop the others."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = list(sinks)

    def publish(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink.publish(event)
            except Exception:  # an audience's failure never reaches the scheduler
                pass
