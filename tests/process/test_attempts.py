"""Retries with backoff, timeouts and cancels, as a real scheduler process does them."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from flask import Flask

from jobsched import create_app
from jobsched.extensions import db
from jobsched.jobs.service import cancel_job
from jobsched.models import User
from jobsched.scheduler.events import NullSink
from tests.conftest import TEST_ENV, app_settings
from tests.helpers import wait_until
from tests.process.jobs_db import add_jobs, count_where, job_rows, runs_by_job
from tests.process.procs import wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CANCEL_STOPS_WITHIN = 2.0


def cancel(app: Flask, owner: int, job_id: int) -> None:
    """Cancel as the web and the API do: through the service, in its own transaction."""
    with app.app_context():
        cancel_job(db.session, db.session.get(User, owner), job_id, NullSink())
        db.session.remove()


@pytest.fixture
def app(pg_url):
    app = create_app(app_settings(pg_url), env=TEST_ENV)
    yield app
    with app.app_context():
        db.engine.dispose()


def test_failures_retry_with_backoff_and_timeouts_stop_attempts(engine, owner, procs, pg_url):
    node = procs.scheduler(pg_url, "n1")
    wait_ready(engine, node)
    [failing] = add_jobs(engine, owner, task="fail", args={"message": "boom"}, max_attempts=3)
    [slow] = add_jobs(engine, owner, task="sleep", args={"seconds": 30}, timeout_seconds=1,
                      max_attempts=2)

    wait_until(lambda: count_where(engine, "status = 'failed'") == 2, timeout=20,
               message="both jobs should end failed")

    tries = runs_by_job(engine, [failing, slow])
    assert [(r.attempt, r.status) for r in tries[failing]] == [
        (1, "failed"), (2, "failed"), (3, "failed")]
    runs = tries[failing]
    for n, (before, after) in enumerate(zip(runs, runs[1:], strict=False), start=1):
        waited = (after.started_at - before.finished_at).total_seconds()
        base = 2.0 * 2 ** (n - 1)  # SPEC §4: 2 s x 2^(n-1), +-20 %
        assert 0.8 * base <= waited <= 1.2 * base + 0.3, (n, waited)
    assert job_rows(engine, [failing])[failing].error.startswith("boom")

    assert [(r.attempt, r.status) for r in tries[slow]] == [(1, "timed_out"), (2, "timed_out")]
    for attempt in tries[slow]:
        assert 1.0 <= (attempt.finished_at - attempt.started_at).total_seconds() <= 2.0
    assert "timed out" in job_rows(engine, [slow])[slow].error


def test_cancelled_sleep_job_stops_and_frees_its_slot(engine, owner, procs, pg_url, app):
    node = procs.scheduler(pg_url, "n1", JOBSCHED_MAX_CONCURRENT_JOBS=1)
    wait_ready(engine, node)
    [sleeper] = add_jobs(engine, owner, task="sleep", args={"seconds": 60}, priority="high")
    [waiting] = add_jobs(engine, owner, priority="low")
    wait_until(lambda: count_where(engine, "status = 'running'") == 1, timeout=10)

    cancel(app, owner, sleeper)

    # The limit is 1: the waiting job can start only once the sleeper's attempt has stopped.
    wait_until(lambda: job_rows(engine, [waiting])[waiting].status == "completed", timeout=5)
    [stopped] = runs_by_job(engine, [sleeper])[sleeper]
    [next_run] = runs_by_job(engine, [waiting])[waiting]
    assert stopped.status == "cancelled"
    assert (next_run.started_at - stopped.finished_at).total_seconds() <= CANCEL_STOPS_WITHIN
    assert job_rows(engine, [sleeper])[sleeper].status == "cancelled"


def test_cancelled_shell_job_kills_its_process(engine, owner, procs, pg_url, app, tmp_path):
    node = procs.scheduler(pg_url, "n1", JOBSCHED_ENABLE_SHELL=1)
    wait_ready(engine, node)
    pid_file = tmp_path / "pid"
    [job] = add_jobs(engine, owner, task="shell",
                     args={"command": f"echo $$ > {pid_file}; exec sleep 60"})
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=10)
    pid = int(pid_file.read_text())

    cancel(app, owner, job)
    cancelled_at = time.monotonic()

    wait_until(lambda: not alive(pid), timeout=CANCEL_STOPS_WITHIN, interval=0.02,
               message=f"the job's process {pid} outlived the cancel")
    assert time.monotonic() - cancelled_at <= CANCEL_STOPS_WITHIN
    wait_until(lambda: "lease lost" in node.output(), timeout=5)
    assert [r.status for r in runs_by_job(engine, [job])[job]] == ["cancelled"]


def test_a_shell_job_printing_a_nul_byte_completes(engine, owner, procs, pg_url):
    """PostgreSQL text cannot hold NUL: the byte is replaced, not the whole attempt lost."""
    node = procs.scheduler(pg_url, "n1", JOBSCHED_ENABLE_SHELL=1)
    wait_ready(engine, node)
    [job] = add_jobs(engine, owner, task="shell", args={"command": r"printf 'a\000b\n'"},
                     max_attempts=1)
    wait_until(lambda: job_rows(engine, [job])[job].status != "pending", timeout=5)
    wait_until(lambda: job_rows(engine, [job])[job].status != "running", timeout=5)
    row = job_rows(engine, [job])[job]
    assert (row.status, row.result) == ("completed", {"exit_code": 0})
    with engine.connect() as conn:
        output = conn.exec_driver_sql(
            f"SELECT output FROM executions WHERE job_id = {job}").scalar_one()
    assert output == "a\ufffdb\n"


def test_a_killed_schedulers_shell_job_does_not_outlive_it(engine, owner, procs, pg_url,
                                                         tmp_path):
    """SIGKILL leaves the scheduler no chance to clean up: the job's group ends itself."""
    node = procs.scheduler(pg_url, "n1", JOBSCHED_ENABLE_SHELL=1)
    wait_ready(engine, node)
    shell_pid, sleep_pid = tmp_path / "shell", tmp_path / "sleep"
    add_jobs(engine, owner, task="shell", args={
        "command": f"echo $$ > {shell_pid}; sleep 300 & echo $! > {sleep_pid}; wait"})
    wait_until(lambda: sleep_pid.exists() and sleep_pid.read_text().strip(), timeout=10)
    pids = [int(shell_pid.read_text()), int(sleep_pid.read_text())]
    assert all(running(pid) for pid in pids)

    node.kill()

    wait_until(lambda: not any(running(pid) for pid in pids), timeout=3, interval=0.02,
               message=f"the job's processes {pids} outlived their scheduler")


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie (an orphan stays one where PID 1
    reaps nobody)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists()
