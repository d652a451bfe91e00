"""A real `flask run-scheduler` process: its metrics port and its JSON log lines."""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from jobsched import create_app
from jobsched.extensions import db
from jobsched.models import Job
from tests.conftest import TEST_ENV, app_settings, make_user
from tests.helpers import wait_until
from tests.ops.seed import add_job, parse, value
from tests.process.procs import FLASK, ROOT, child_env, spare_port


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:
    path = tmp_path / "scheduler.db"
    path.write_bytes(sqlite_template.read_bytes())
    return f"sqlite:///{path}"


def job_status(app, job_id: int) -> str:
    with app.app_context():
        status = db.session.get(Job, job_id).status
        db.session.remove()
        return status


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def answers(port: int) -> bool:
    try:
        scrape(port)
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_a_scheduler_process_serves_its_metrics_and_logs_json(sqlite_url, tmp_path):
    app = create_app(app_settings(sqlite_url), env=TEST_ENV)
    job = add_job(app, make_user(app, "alice"), task="echo", args={"message": "hi"})
    port = spare_port()
    stderr_path = tmp_path / "scheduler.stderr"
    env = child_env(sqlite_url, JOBSCHED_LOG_FORMAT="json")
    args = [str(FLASK), "--app", "jobsched", "run-scheduler", "--node", "ops-proc",
            "--metrics-port", str(port)]
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=stderr)
    try:
        wait_until(lambda: process.poll() is not None or job_status(app, job) == "completed",
                   timeout=30, message=f"job not completed:\n{_read(stderr_path)}")
        assert process.poll() is None, _read(stderr_path)
        wait_until(lambda: answers(port), timeout=10)
        samples = parse(scrape(port))
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, _read(stderr_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stdout.close()
    assert value(samples, "jobsched_executions_ended_total", node="ops-proc",
                 outcome="completed") == 1
    assert value(samples, "jobsched_job_duration_seconds_count", node="ops-proc", task="echo",
                 outcome="completed") == 1
    assert "jobsched_jobs" not in {name for name, _ in samples}  # queue metrics: the web's
    lines = [json.loads(line) for line in _read(stderr_path).splitlines() if line.strip()]
    events = {line.get("event"): line for line in lines if line.get("job_id") == job}
    assert events["started"]["node"] == "ops-proc"
    assert events["ended"]["transition"] == "running->completed"
    assert "duration_seconds" in events["ended"]


def test_a_taken_metrics_port_stops_the_scheduler_before_it_starts(app, runner):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with app.app_context():  # `flask` pushes one; the test runner does not
            result = runner.invoke(args=["run-scheduler", "--metrics-port", str(port)])
    assert result.exit_code == 1
    assert f"Error: cannot serve metrics on 127.0.0.1:{port}" in result.output


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_a_metrics_port_out_of_range_is_a_usage_error(app, runner, port):
    result = runner.invoke(args=["run-scheduler", "--metrics-port", port])
    assert result.exit_code == 2
    assert "Invalid value for '--metrics-port'" in result.output


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
