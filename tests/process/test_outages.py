"""Lost connections: the LISTEN connection killed, and the whole PostgreSQL server stopped."""
from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import create_engine, text

from jobsched import create_app
from jobsched.storage.listener import APPLICATION_NAME
from tests.conftest import TEST_ENV, app_settings, upgrade_schema
from tests.helpers import wait_until
from tests.process.jobs_db import (
    add_jobs,
    closed_intervals,
    count_where,
    max_overlap,
    runs,
    runs_by_job,
    seed_user,
)
from tests.process.own_postgres import own_postgres
from tests.process.procs import wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

OUTAGE_SECONDS = 10


def listener_pids(engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = :name"), {"name": APPLICATION_NAME}))


def test_jobs_are_picked_up_after_the_listen_connection_is_killed(
        engine, owner, procs, pg_url):
    node = procs.scheduler(pg_url, "n1")
    wait_ready(engine, node)
    wait_until(lambda: len(listener_pids(engine)) == 1, timeout=10)
    [old] = listener_pids(engine)

    with engine.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": old})
    [during] = add_jobs(engine, owner)
    wait_until(lambda: count_where(engine, "status = 'completed'") == 1, timeout=5,
               message="a job submitted while the listener was down was not picked up")

    wait_until(lambda: listener_pids(engine) - {old}, timeout=10,
               message="the listener did not reconnect")
    [after] = add_jobs(engine, owner)
    wait_until(lambda: count_where(engine, "status = 'completed'") == 2, timeout=2,
               message="a job submitted after the reconnect was not picked up")
    assert [r.status for r in runs(engine)] == ["completed", "completed"]
    assert node.returncode is None


@pytest.fixture
def private_server():
    with own_postgres() as server:
        yield server


def test_schedulers_survive_a_10_second_database_outage(private_server, procs):
    database = private_server.create_database("jobsched")
    upgrade_schema(create_app(app_settings(database), env=TEST_ENV))
    engine = create_engine(database, pool_pre_ping=True)
    try:
        run_through_outage(engine, procs, database, private_server)
    finally:
        engine.dispose()


def run_through_outage(engine, procs, database, server) -> None:
    owner = seed_user(engine)
    settings = {"JOBSCHED_LEASE_SECONDS": 3, "JOBSCHED_MAX_CONCURRENT_JOBS": 3}
    nodes = [procs.scheduler(database, name, **settings) for name in ("a", "b")]
    wait_ready(engine, *nodes)
    ids = add_jobs(engine, owner, 45, task="sleep", args={"seconds": 0.4})
    wait_until(lambda: count_where(engine, "status = 'completed'") >= 10, timeout=20)

    engine.dispose()
    server.stop()
    time.sleep(OUTAGE_SECONDS)  # the outage itself: nothing to poll while it lasts
    assert [n.returncode for n in nodes] == [None, None], "a scheduler died in the outage"
    server.start()

    wait_until(lambda: count_where(engine, "status = 'completed'") == len(ids), timeout=60,
               interval=0.2, message="not every job completed after the database returned")
    history = runs_by_job(engine, ids)
    for job_id, found in history.items():
        statuses = [r.status for r in found]
        assert statuses.count("completed") == 1 and set(statuses) <= {"completed", "lost"}, \
            (job_id, statuses)
    assert max_overlap(closed_intervals(runs(engine))) <= 3
    for node in nodes:
        node.send(signal.SIGTERM)
    assert [n.wait(20) for n in nodes] == [0, 0]
