"""A scheduler that dies (SIGKILL) or freezes past its lease (SIGSTOP), with another alive."""
from __future__ import annotations

import signal
import time

import pytest

from tests.helpers import wait_until
from tests.process.jobs_db import add_jobs, count_where, job_rows, runs_by_job
from tests.process.procs import wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LEASE = 3
SETTINGS = {"JOBSCHED_LEASE_SECONDS": LEASE, "JOBSCHED_MAX_CONCURRENT_JOBS": 3}


def running_on(engine, node: str) -> int:
    return count_where(engine, "status = 'running' AND node = :node", node=node)


def test_killed_scheduler_jobs_are_lost_then_rerun_by_the_other(engine, owner, procs, pg_url):
    victim = procs.scheduler(pg_url, "victim", **SETTINGS)
    wait_ready(engine, victim)
    ids = add_jobs(engine, owner, 3, task="sleep", args={"seconds": 4})
    wait_until(lambda: running_on(engine, "victim") == 3, timeout=10)
    survivor = procs.scheduler(pg_url, "survivor", **SETTINGS)
    wait_ready(engine, survivor)

    victim.send(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_until(lambda: count_where(engine, "node = 'survivor'") == 3, timeout=LEASE + 12,
               interval=0.05, message="the survivor did not re-run all three jobs")
    assert time.monotonic() - killed_at <= LEASE + 10

    wait_until(lambda: count_where(engine, "status = 'completed'") == 3, timeout=15)
    history = runs_by_job(engine, ids)
    assert {job_id: [(r.node, r.status) for r in found] for job_id, found in history.items()} \
        == {job_id: [("victim", "lost"), ("survivor", "completed")] for job_id in ids}
    assert all("victim" in found[0].error for found in history.values())


def test_frozen_scheduler_cannot_write_after_its_lease_was_taken(engine, owner, procs, pg_url):
    frozen = procs.scheduler(pg_url, "frozen", **SETTINGS)
    wait_ready(engine, frozen)
    [job] = add_jobs(engine, owner, 1, task="sleep", args={"seconds": 6})
    wait_until(lambda: running_on(engine, "frozen") == 1, timeout=10)
    live = procs.scheduler(pg_url, "live", **SETTINGS)
    wait_ready(engine, live)

    frozen.send(signal.SIGSTOP)
    wait_until(lambda: running_on(engine, "live") == 1, timeout=LEASE + 12, interval=0.05,
               message="the live scheduler did not take over the frozen one's job")
    [lost, _] = runs_by_job(engine, [job])[job]
    token = job_rows(engine, [job])[job].lease_token
    frozen.send(signal.SIGCONT)

    # The frozen node wakes with its 6 s sleep over: its finish (and reports) are refused.
    wait_until(lambda: "lease lost" in frozen.output(), timeout=10,
               message="the frozen node never noticed it lost the lease")
    row = job_rows(engine, [job])[job]
    assert (row.status, row.node, row.lease_token) == ("running", "live", token)
    wait_until(lambda: count_where(engine, "status = 'completed'") == 1, timeout=15)
    [again, rerun] = runs_by_job(engine, [job])[job]
    assert again == lost, "the rescued execution was rewritten by the frozen node"
    assert (again.node, again.status, rerun.node, rerun.status) == (
        "frozen", "lost", "live", "completed")
    assert frozen.returncode is None, "the frozen node should carry on after losing a lease"


def test_a_restarted_scheduler_rescues_what_it_was_running_when_killed(
        engine, owner, procs, pg_url):
    """systemd-style restart under the same --node name, with no other scheduler alive."""
    first = procs.scheduler(pg_url, "worker", **{**SETTINGS, "JOBSCHED_LEASE_SECONDS": 30})
    wait_ready(engine, first)
    ids = add_jobs(engine, owner, 2, task="sleep", args={"seconds": 60})
    wait_until(lambda: running_on(engine, "worker") == 2, timeout=10)
    first.send(signal.SIGKILL)
    first.wait(5)

    again = procs.scheduler(pg_url, "worker", **{**SETTINGS, "JOBSCHED_LEASE_SECONDS": 30})
    started_at = time.monotonic()
    wait_until(lambda: count_where(engine, "status = 'running' AND attempts = 2") == 2,
               timeout=15, interval=0.05, message="the restarted node left its jobs lost")
    # Its own old leases end when it registers: no need to wait out the 30 s lease.
    assert time.monotonic() - started_at < 15
    history = runs_by_job(engine, ids)
    assert {job_id: [r.status for r in found] for job_id, found in history.items()} == {
        job_id: ["lost", "running"] for job_id in ids}
    assert again.returncode is None
