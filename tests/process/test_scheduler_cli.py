"""What `flask run-scheduler` sets up for itself: its switch interval, engine and workers."""
from __future__ import annotations

import socket
import sys

from jobsched import cli
from jobsched.runner import build_service
from jobsched.scheduler.workers import WorkerThreads
from tests.helpers import RecordingSink


def test_the_scheduler_command_lowers_the_switch_interval(app, runner, monkeypatch):
    asked: list[float] = []
    monkeypatch.setattr(sys, "setswitchinterval", asked.append)
    with socket.socket() as taken:  # a taken metrics port ends the command right after
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with app.app_context():
            runner.invoke(args=["run-scheduler", "--metrics-port", str(port)])
    assert asked == [cli.SWITCH_INTERVAL_SECONDS] and cli.SWITCH_INTERVAL_SECONDS <= 0.001


def test_a_scheduler_process_gets_its_own_engine_and_reused_workers(app):
    service = build_service(app, RecordingSink(), name="own", concurrency=5, own_engine=True)
    try:
        engine = service._engine
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            assert engine is not None and engine.pool.size() == 5 + 4
            assert engine.pool._pre_ping is False
        else:
            assert engine is None  # SQLite keeps the app's engine (one file, its rules)
        spawn = service.node._spawn_attempt
        assert isinstance(getattr(spawn, "__self__", None), WorkerThreads)
    finally:
        service.stop(graceful=False)


def test_an_app_scheduler_shares_the_app_engine(app):
    service = build_service(app, RecordingSink(), name="shared", concurrency=5)
    try:
        assert service._engine is None
    finally:
        service.stop(graceful=False)
