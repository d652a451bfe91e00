"""Per-app runtime objects kept in `app.extensions`: the task registry and the event sink."""
from __future__ import annotations

from flask import Flask, current_app

from .scheduler.events import EventSink, FanOutSink
from .scheduler.registry import TaskRegistry
from .tasks.builtin import build_registry

TASKS = "jobsched.tasks"
SINK = "jobsched.sink"


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
