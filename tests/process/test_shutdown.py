"""SIGTERM/SIGINT: a scheduler stops claiming, lets running jobs finish for the grace period,
hands back the rest as pending, and exits with status 0 (SPEC §2, §5)."""
from __future__ import annotations

import signal

import pytest

from tests.helpers import wait_until
from tests.process.jobs_db import add_jobs, count_where, job_rows, node_status, runs_by_job
from tests.process.procs import wait_for_exit, wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def start_with_three_running(procs, engine, owner, pg_url, seconds: float, **settings):
    node = procs.scheduler(pg_url, "n1", JOBSCHED_MAX_CONCURRENT_JOBS=3, **settings)
    wait_ready(engine, node)
    ids = add_jobs(engine, owner, 3, task="sleep", args={"seconds": seconds})
    wait_until(lambda: count_where(engine, "status = 'running'") == 3, timeout=10)
    return node, ids


def test_sigterm_lets_running_jobs_finish_and_claims_nothing_new(engine, owner, procs, pg_url):
    node, ids = start_with_three_running(
        procs, engine, owner, pg_url, 2, JOBSCHED_SHUTDOWN_GRACE_SECONDS=20)
    waiting = add_jobs(engine, owner, 3)

    node.send(signal.SIGTERM)
    status, took = wait_for_exit(node, timeout=15)

    assert status == 0
    assert took < 5, "it should exit as soon as its jobs finished, not at the grace's end"
    assert {row.status for row in job_rows(engine, ids).values()} == {"completed"}
    assert {row.status for row in job_rows(engine, waiting).values()} == {"pending"}
    assert runs_by_job(engine, waiting) == {job_id: [] for job_id in waiting}
    assert node_status(engine, "n1") == "stopped"


def test_sigterm_hands_back_jobs_still_running_after_the_grace(engine, owner, procs, pg_url):
    node, ids = start_with_three_running(
        procs, engine, owner, pg_url, 60, JOBSCHED_SHUTDOWN_GRACE_SECONDS=1)

    node.send(signal.SIGTERM)
    status, took = wait_for_exit(node, timeout=10)

    assert status == 0
    assert took < 5
    assert_handed_back(engine, ids)


def test_second_signal_hands_back_at_once(engine, owner, procs, pg_url):
    node, ids = start_with_three_running(
        procs, engine, owner, pg_url, 60, JOBSCHED_SHUTDOWN_GRACE_SECONDS=60)

    node.send(signal.SIGTERM)
    wait_until(lambda: "draining" in node.output(), timeout=5)
    assert node.returncode is None, "a first signal waits for running jobs"
    node.send(signal.SIGINT)
    status, took = wait_for_exit(node, timeout=10)

    assert status == 0
    assert took < 4
    assert_handed_back(engine, ids)


def assert_handed_back(engine, ids: list[int]) -> None:
    rows = job_rows(engine, ids)
    assert {(row.status, row.attempts, row.node) for row in rows.values()} == {
        ("pending", 0, None)}
    history = runs_by_job(engine, ids)
    assert {job_id: [r.status for r in found] for job_id, found in history.items()} == {
        job_id: ["lost"] for job_id in ids}
