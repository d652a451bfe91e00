"""Per-app runtime objects kept in `app.extensions`: the task registry, the event sink, and
where CPU-bound work runs."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, has_app_context

from .scheduler.events import EventSink, FanOutSink
from .scheduler.registry import TaskRegistry
from .tasks.builtin import build_registry

TASKS = "jobsched.tasks"
SINK = "jobsched.sink"
OFFLOAD = "jobsched.offload"

T = TypeVar("T")
Offload = Callable[[Callable[[], T]], T]  # runs a call on another OS thread and waits for it


def init_runtime(app: Flask) -> None:
    app.extensions[TASKS] = build_registry(
        enable_shell=app.config["JOBSCHED_ENABLE_SHELL"],
        modules=app.config["JOBSCHED_TASK_MODULES"],
    )
    # Audiences (the real-time layer, an embedded scheduler) add themselves to this sink.
    app.extensions[SINK] = FanOutSink()


def task_registry(app: Flask | None = None) -> TaskRegistry:
    return (app or current_app).extensions[TASKS]


def event_sink(app: Flask | None = None) -> FanOutSink:
    return (app or current_app).extensions[SINK]


def add_audience(app: Flask, sink: EventSink) -> None:
    event_sink(app).sinks.append(sink)


def use_offload(app: Flask, offload: Offload) -> None:
    """Run this app's CPU-bound request work (password hashing) through `offload`: in the
    eventlet web process (wsgi.py), `tpool.execute`, a real OS thread."""
    app.extensions[OFFLOAD] = offload


def cpu_bound(work: Callable[[], T]) -> T:
    """`work()`, run where it does not stall the process's other requests.

    Under eventlet every request shares one OS thread, so a 100 ms scrypt hash there would
    freeze every page, socket and the embedded scheduler's heartbeat meanwhile; the offload
    moves it to a thread of its own (scrypt releases the GIL). Without one (threaded
    servers, the CLI, tests) it simply runs here.
    """
    offload = current_app.extensions.get(OFFLOAD) if has_app_context() else None
    return offload(work) if offload is not None else work()
