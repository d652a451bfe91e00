"""Dependencies across processes (SPEC §12): two `flask run-scheduler` sharing one
PostgreSQL run a chain of 50 jobs one after another and 500 jobs fanning out of one, each
exactly once and never before the job it depends on completed — released by the
completion's own transaction and its notification, not by polling."""
from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert

from jobsched.models import JobDependency
from tests.helpers import wait_until
from tests.process.jobs_db import add_jobs, count_where, runs_by_job
from tests.process.procs import wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CHAIN, FAN_OUT = 50, 500


def depend(engine: Engine, edges: list[tuple[int, int]]) -> None:
    """(job, the job it depends on) edges, as the API stores them."""
    with engine.begin() as conn:
        conn.execute(insert(JobDependency.__table__),
                     [{"job_id": job, "depends_on_id": parent} for job, parent in edges])


def test_a_chain_and_a_fan_out_run_in_order_exactly_once(engine, procs, pg_url, owner):
    chain = add_jobs(engine, owner, CHAIN, waiting_on=lambda i: 0 if i == 0 else 1)
    [root] = add_jobs(engine, owner, 1, task="sleep", args={"seconds": 0.2})
    leaves = add_jobs(engine, owner, FAN_OUT, waiting_on=1)
    edges = [*zip(chain[1:], chain[:-1], strict=True), *((leaf, root) for leaf in leaves)]
    depend(engine, edges)
    settings = {"JOBSCHED_MAX_CONCURRENT_JOBS": 16, "JOBSCHED_RECONCILE_SECONDS": 3600}
    a = procs.scheduler(pg_url, "a", **settings)
    b = procs.scheduler(pg_url, "b", **settings)
    wait_ready(engine, a, b)
    every = [*chain, root, *leaves]
    wait_until(lambda: count_where(engine, "status = 'completed'") == len(every),
               timeout=120, interval=0.2, message="not every job completed")
    done = runs_by_job(engine, every)
    assert all(len(found) == 1 and found[0].status == "completed" for found in done.values())
    for child, parent in edges:
        assert done[child][0].started_at >= done[parent][0].finished_at, (child, parent)
    assert {found[0].node for found in done.values()} == {"a", "b"}
