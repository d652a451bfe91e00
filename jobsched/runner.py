"""Running a scheduler: inside the web process (embedded) or as `flask run-scheduler`.

Glue only: it builds a `SchedulerNode` over a `SqlJobStore`, connects the change feed
(PostgreSQL LISTEN/NOTIFY, or on SQLite the app's own event sink) and starts the loop.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from .extensions import db
from .jobs.listener import JobListener
from .jobs.retention import retention_chore
from .jobs.store import SqlJobStore
from .metrics.metered import MeteredStore
from .metrics.process import process_metrics
from .runtime import add_audience, event_sink, task_registry
from .scheduler.events import Event, EventSink, FanOutSink, JobDeleted
from .scheduler.node import Offload, SchedulerNode, start_thread

log = logging.getLogger(__name__)

Spawn = Callable[..., Any]


class NodeSignal:
    """In-process change feed (SQLite has no LISTEN/NOTIFY): app facts wake the node."""

    def __init__(self) -> None:
        self.node: SchedulerNode | None = None  # attached once the node exists

    def publish(self, event: Event) -> None:
        if self.node is None:
            return
        if isinstance(event, JobDeleted):
            self.node.on_deleted([event.job_id])
        else:
            self.node.notify([event.job_id])


class SinkView:
    """The app's audiences except some: a node should not be told about its own writes."""

    def __init__(self, fanout: FanOutSink, *excluded: EventSink) -> None:
        self.fanout, self.excluded = fanout, excluded

    def publish(self, event: Event) -> None:
        for sink in list(self.fanout.sinks):
            if sink not in self.excluded:
                try:
                    sink.publish(event)
                except Exception:
                    log.exception("event sink failed")


class SchedulerService:
    """A node, its change feed and its loop, started and stopped together."""

    def __init__(self, node: SchedulerNode, listener: JobListener | None, spawn: Spawn) -> None:
        self.node, self.listener, self._spawn = node, listener, spawn
        self._loop: Any = None

    def start(self) -> None:
        """Register the node (NodeConflict if refused), then run its loop and its feed."""
        self.node.start()
        if self.listener is not None:
            self.listener.start(self._spawn)
        self._loop = self._spawn(self.node.run_forever)

    def run(self) -> None:
        """Register, start the feed, and run the loop on this thread until it stops."""
        self.node.start()
        if self.listener is not None:
            self.listener.start(self._spawn)
        try:
            self.node.run_forever()
        finally:
            self._stop_listener()

    def request_stop(self, graceful: bool = True) -> None:
        self.node.request_stop(graceful)

    def stop(self, graceful: bool = True) -> None:
        """Drain the node (grace period, then hand back) and close the feed."""
        self.node.stop(graceful)
        self._stop_listener()

    def _stop_listener(self) -> None:
        if self.listener is not None:
            self.listener.stop()


def build_service(
    app: Flask, sink: EventSink, *, name: str | None = None, concurrency: int | None = None,
    spawn: Spawn = start_thread, offload: Offload | None = None,
) -> SchedulerService:
    """A scheduler for this app's database with the app's settings."""
    config = app.config
    with app.app_context():
        engine = db.engine
    limit = config["JOBSCHED_MAX_CONCURRENT_JOBS"]
    # The store records this process's scheduler metrics (metrics/metered.py).
    store = MeteredStore(SqlJobStore(engine), process_metrics())
    node = SchedulerNode(
        store, task_registry(app), sink, name=name,
        concurrency=concurrency or limit, limit=limit,
        lease_seconds=config["JOBSCHED_LEASE_SECONDS"],
        grace_seconds=config["JOBSCHED_SHUTDOWN_GRACE_SECONDS"],
        reconcile_seconds=config["JOBSCHED_RECONCILE_SECONDS"],
        spawn=spawn, offload=offload,
        housekeeping=retention_chore(engine, config.get("JOBSCHED_RETENTION_DAYS"), sink,
                                     spawn=spawn),
    )
    listener = None
    if engine.dialect.name == "postgresql":
        listener = JobListener(str(config["SQLALCHEMY_DATABASE_URI"]), node.notify, node.reconcile)
    return SchedulerService(node, listener, spawn)


def start_embedded_scheduler(
    app: Flask, spawn: Spawn = start_thread, offload: Offload | None = None
) -> SchedulerService | None:
    """Run a scheduler inside the web process unless JOBSCHED_EMBEDDED_SCHEDULER=0."""
    if not app.config["JOBSCHED_EMBEDDED_SCHEDULER"]:
        return None
    signal = NodeSignal()
    sink = SinkView(event_sink(app), signal)
    service = build_service(app, sink, spawn=spawn, offload=offload)
    if service.listener is None:  # SQLite: the web's own changes are the only ones
        signal.node = service.node
        add_audience(app, signal)
    service.start()
    log.info("embedded scheduler %s started", service.node.name)
    return service


def install_stop_signals(service: SchedulerService) -> None:
    """First SIGTERM/SIGINT drains (grace period); a second one hands back at once."""
    import signal

    received = threading.Event()

    def handle(signum: int, frame: Any) -> None:  # noqa: ARG001
        graceful = not received.is_set()
        received.set()
        log.info("signal %s: %s", signum, "draining" if graceful else "stopping now")
        service.request_stop(graceful)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
