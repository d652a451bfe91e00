"""Running a scheduler: inside the web process (embedded) or as `flask run-scheduler`.

Glue only: it builds a `SchedulerNode` over a `SqlJobStore`, connects the change feed
(PostgreSQL LISTEN/NOTIFY, or on SQLite the app's own event sink) and starts the loop.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import Engine, create_engine

from .database import scheduler_engine_options
from .extensions import db
from .metrics.metered import MeteredStore
from .metrics.process import process_metrics
from .runtime import add_audience, event_sink, task_registry
from .scheduler.chores import every, start_thread
from .scheduler.events import Event, EventSink, FanOutSink, JobDeleted
from .scheduler.firing import ScheduleFiring
from .scheduler.node import SchedulerNode
from .scheduler.nodeconfig import NodeRuntime, NodeSettings, Offload, default_node_name
from .scheduler.policy import queue_policy
from .scheduler.workers import WorkerThreads
from .storage.counts import CountsCompaction
from .storage.listener import JobListener
from .storage.retention import retention_chore
from .storage.schedules import SqlScheduleStore
from .storage.store import SqlJobStore

log = logging.getLogger(__name__)

Spawn = Callable[..., Any]
LISTEN_WAIT_SECONDS = 5.0  # start-up waits this long for the feed's LISTEN, then loads anyway


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


class ResyncAfterListen:
    """The feed's `on_reconnect`: resync the node's heap, except before its first load.

    The service starts the feed before the node, so the node's first load (which reads
    everything committed before it) comes after the first LISTEN (which notifies everything
    committed after it): resyncing for that LISTEN would load the heap a second time. A
    LISTEN made once the load has begun (a slow first connection, any reconnect) resyncs.
    """

    def __init__(self, node: SchedulerNode) -> None:
        self.node = node
        self.listening = threading.Event()  # set once the first LISTEN has been answered

    def __call__(self) -> None:
        if self.node.started:
            self.node.reconcile()
        self.listening.set()


class TellNode:
    """Facts of jobs the node's own schedules made: its queue learns of them at once (on
    SQLite nothing else would tell it; on PostgreSQL the NOTIFY follows as well)."""

    def __init__(self, node: SchedulerNode) -> None:
        self.node = node

    def publish(self, event: Event) -> None:
        if not isinstance(event, JobDeleted):
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
    """A node, its change feed, its loop and its schedules' firing, started and stopped
    together."""

    def __init__(self, node: SchedulerNode, listener: JobListener | None, spawn: Spawn,
                 engine: Engine | None = None, listening: threading.Event | None = None,
                 firing: ScheduleFiring | None = None) -> None:
        self.node, self.listener, self._spawn = node, listener, spawn
        self.firing = firing
        self._engine = engine  # the service's own engine, closed with it (None: the app's)
        # Set by the feed once it listens (ResyncAfterListen); None: do not wait for it.
        self._listening = listening
        self._loop: Any = None

    def start(self) -> None:
        """Start the feed, register the node (NodeConflict if refused), then run its loop."""
        self._start_feed_then_node()
        self._loop = self._spawn(self.node.run_forever)

    def run(self) -> None:
        """Start the feed, register, and run the loop on this thread until it stops."""
        self._start_feed_then_node()
        try:
            self.node.run_forever()
        finally:
            self._stop_firing()
            self._stop_listener()
            self._close_engine()

    def request_stop(self, graceful: bool = True) -> None:
        self.node.request_stop(graceful)

    def stop(self, graceful: bool = True) -> None:
        """Drain the node (grace period, then hand back) and close the feed."""
        self._stop_firing()
        self.node.stop(graceful)
        self._stop_listener()
        self._close_engine()

    def _start_feed_then_node(self) -> None:
        """Listen first, so the node's first load is its only one (ResyncAfterListen)."""
        if self.listener is not None:
            self.listener.start(self._spawn)
            if self._listening is not None and not self._listening.wait(LISTEN_WAIT_SECONDS):
                log.warning("scheduler %s: change feed not listening yet; loading the queue "
                            "now, and again once it listens", self.node.name)
        try:
            self.node.start()
        except Exception:
            self._stop_listener()
            raise
        if self.firing is not None:  # only a registered node fires schedules
            self._spawn(self.firing.run)

    def _stop_firing(self) -> None:
        if self.firing is not None:
            self.firing.stop()

    def _stop_listener(self) -> None:
        if self.listener is not None:
            self.listener.stop()

    def _close_engine(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def build_service(
    app: Flask, sink: EventSink, *, name: str | None = None, concurrency: int | None = None,
    spawn: Spawn = start_thread, offload: Offload | None = None, own_engine: bool = False,
    os_lock: Callable[[], Any] = threading.Lock,
) -> SchedulerService:
    """A scheduler for this app's database with the app's settings.

    `own_engine` (a process that only schedules: `flask run-scheduler`) gives the store an
    engine sized for the node (jobsched/database.py scheduler_engine_options) instead of the
    app's, which the web shares. With the default thread spawn, attempts run on reused
    worker threads.
    """
    config = app.config
    with app.app_context():
        engine = db.engine
    limit = config["JOBSCHED_MAX_CONCURRENT_JOBS"]
    concurrency = concurrency or limit
    store_engine = _scheduler_engine(engine, concurrency) if own_engine else None
    # The store records this process's scheduler metrics (metrics/metered.py).
    store = MeteredStore(SqlJobStore(store_engine or engine), process_metrics())
    settings = NodeSettings(
        name=name or default_node_name(), concurrency=concurrency, limit=limit,
        lease_seconds=config["JOBSCHED_LEASE_SECONDS"],
        grace_seconds=config["JOBSCHED_SHUTDOWN_GRACE_SECONDS"],
        reconcile_seconds=config["JOBSCHED_RECONCILE_SECONDS"],
        max_running_per_user=config.get("JOBSCHED_MAX_RUNNING_PER_USER"),
        queue_policy=queue_policy(config),
    )
    runtime = NodeRuntime(
        spawn=spawn, offload=offload, os_lock=os_lock,
        spawn_attempt=WorkerThreads().spawn if spawn is start_thread else None,
        housekeeping=every(
            retention_chore(engine, config.get("JOBSCHED_RETENTION_DAYS"), sink, spawn=spawn),
            CountsCompaction(engine, spawn=spawn),
        ),
    )
    node = SchedulerNode(store, task_registry(app), sink, settings, runtime)
    firing = ScheduleFiring(SqlScheduleStore(store_engine or engine),
                            FanOutSink(sink, TellNode(node)), name=settings.name)
    if engine.dialect.name != "postgresql":
        return SchedulerService(node, None, spawn, store_engine, firing=firing)
    resync = ResyncAfterListen(node)
    listener = JobListener(str(config["SQLALCHEMY_DATABASE_URI"]), node.notify, resync)
    return SchedulerService(node, listener, spawn, store_engine, resync.listening, firing)


def _scheduler_engine(app_engine: Engine, concurrency: int) -> Engine | None:
    """A PostgreSQL engine of the scheduler's own; None on SQLite (one database file, whose
    rules and in-memory form the app's engine already carries)."""
    if app_engine.dialect.name != "postgresql":
        return None
    url = app_engine.url.render_as_string(hide_password=False)
    return create_engine(url, **scheduler_engine_options(url, concurrency))


def start_embedded_scheduler(
    app: Flask, spawn: Spawn = start_thread, offload: Offload | None = None,
    os_lock: Callable[[], Any] = threading.Lock,
) -> SchedulerService | None:
    """Run a scheduler inside the web process unless JOBSCHED_EMBEDDED_SCHEDULER=0.
    `offload` runs CPU-bound tasks on real OS threads; `os_lock` is then a lock that works
    across those and the process's green threads."""
    if not app.config["JOBSCHED_EMBEDDED_SCHEDULER"]:
        return None
    node_signal = NodeSignal()
    sink = SinkView(event_sink(app), node_signal)
    service = build_service(app, sink, spawn=spawn, offload=offload, os_lock=os_lock)
    if service.listener is None:  # SQLite: the web's own changes are the only ones
        node_signal.node = service.node
        add_audience(app, node_signal)
    service.start()
    log.info("embedded scheduler %s started", service.node.name)
    return service


def install_stop_signals(service: SchedulerService) -> None:
    """First SIGTERM/SIGINT drains (grace period); a second one hands back at once.

    The Python handler does nothing itself: it runs between two bytecodes of the main
    thread, which may be holding the very lock an Event.set() of the stop would need
    (Event.clear in the node's loop), and would then wait for itself forever. The signal
    reaches a pipe instead (signal.set_wakeup_fd, written in C), and a thread of its own
    reads it and asks the service to stop."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _let_through)
    start_thread(_relay_stop_signals, read_fd, service)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _let_through(signum: int, frame: Any) -> None:  # noqa: ARG001
    """The handler of a stop signal: set_wakeup_fd has already passed it on."""


def _relay_stop_signals(read_fd: int, service: SchedulerService) -> None:
    graceful = True
    while data := os.read(read_fd, 64):
        for signum in data:
            if signum not in STOP_SIGNALS:
                continue
            log.info("signal %s: %s", signum, "draining" if graceful else "stopping now")
            service.request_stop(graceful)
            graceful = False
