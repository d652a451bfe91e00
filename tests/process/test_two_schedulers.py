"""Two `flask run-scheduler` processes sharing one PostgreSQL queue (SPEC §5)."""
from __future__ import annotations

import signal

import pytest

from tests.helpers import wait_until
from tests.process.jobs_db import (
    add_jobs,
    closed_intervals,
    count_where,
    max_overlap,
    runs,
    runs_by_job,
)
from tests.process.procs import wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LIMIT = 3


def test_1000_echo_jobs_run_exactly_once_never_above_the_limit(engine, owner, procs, pg_url):
    ids = add_jobs(engine, owner, 1000)
    a = procs.scheduler(pg_url, "a", JOBSCHED_MAX_CONCURRENT_JOBS=LIMIT)
    b = procs.scheduler(pg_url, "b", JOBSCHED_MAX_CONCURRENT_JOBS=LIMIT)
    wait_ready(engine, a, b)

    wait_until(lambda: count_where(engine, "status = 'completed'") == 1000, timeout=120,
               interval=0.2, message="not all 1,000 jobs completed")

    history = runs_by_job(engine, ids)
    assert {job_id: [r.status for r in found] for job_id, found in history.items()
            if [r.status for r in found] != ["completed"]} == {}
    everything = runs(engine)
    assert max_overlap(closed_intervals(everything)) <= LIMIT
    assert {r.node for r in everything} == {"a", "b"}, "both schedulers should have worked"
    for process in (a, b):
        process.send(signal.SIGTERM)
    assert (a.wait(15), b.wait(15)) == (0, 0)
