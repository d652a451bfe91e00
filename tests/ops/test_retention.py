"""Retention: prune old finished jobs with their executions; `flask prune-jobs`."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select

from jobsched.extensions import db
from jobsched.realtime.facts import FACTS, decode
from jobsched.realtime.relay import relay_channel
from jobsched.scheduler.clock import utcnow
from jobsched.scheduler.events import JobDeleted
from jobsched.storage.retention import PRUNE_LOCK_KEY, count_prunable, locked_prune, prune_jobs
from tests.conftest import make_user
from tests.helpers import RecordingSink
from tests.ops.seed import add_execution, add_job, ago, execution_job_ids, finished_job, job_ids
from tests.services import redis_url

OLD, RECENT = timedelta(days=40), timedelta(days=10)
MONTH = timedelta(days=30)


@pytest.fixture
def owner(app) -> int:
    return make_user(app, "alice")


@pytest.fixture
def seeded(app, owner) -> dict[str, int]:
    """Old and recent jobs in every state; only the old finished ones may go."""
    jobs = {
        "old_completed": finished_job(app, owner, "completed", OLD),
        "old_failed": finished_job(app, owner, "failed", OLD),
        "old_cancelled": finished_job(app, owner, "cancelled", OLD),
        "recent_completed": finished_job(app, owner, "completed", RECENT),
        "old_pending": add_job(app, owner, status="pending", created_at=ago(days=40)),
        "old_running": add_job(app, owner, status="running", attempts=1, node="n1",
                               created_at=ago(days=40), started_at=ago(days=40),
                               lease_token="t", lease_expires_at=ago(seconds=-30)),
    }
    add_execution(app, jobs["old_running"], "running", started_at=ago(days=40))
    return jobs


def engine(app):
    with app.app_context():
        return db.engine


def test_prune_deletes_only_old_finished_jobs_and_their_executions(app, seeded):
    deleted = prune_jobs(engine(app), MONTH, utcnow())
    assert deleted == 3
    kept = {seeded[k] for k in ("recent_completed", "old_pending", "old_running")}
    assert job_ids(app) == kept
    assert execution_job_ids(app) == {seeded["recent_completed"], seeded["old_running"]}


def test_prune_works_in_batches_and_publishes_each_deletion(app, owner):
    old = {finished_job(app, owner, "completed", OLD) for _ in range(5)}
    sink = RecordingSink()
    assert prune_jobs(engine(app), MONTH, utcnow(), batch_size=2, sink=sink) == 5
    assert {e.job_id for e in sink.events} == old
    assert all(isinstance(e, JobDeleted) and e.owner_id == owner for e in sink.events)
    assert job_ids(app) == set()


def test_a_dry_run_counts_without_deleting(app, seeded):
    assert count_prunable(engine(app), MONTH, utcnow()) == 3
    assert len(job_ids(app)) == 6


def test_a_prune_with_nothing_old_enough_deletes_nothing(app, seeded):
    assert prune_jobs(engine(app), timedelta(days=60), utcnow()) == 0
    assert len(job_ids(app)) == 6


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_locked_prune_steps_aside_while_another_holds_the_lock(app, seeded):
    with engine(app).connect() as other:
        assert other.scalar(select(func.pg_try_advisory_lock(PRUNE_LOCK_KEY)))
        assert locked_prune(engine(app), MONTH, utcnow()) is None
        assert len(job_ids(app)) == 6
        other.scalar(select(func.pg_advisory_unlock(PRUNE_LOCK_KEY)))
    assert locked_prune(engine(app), MONTH, utcnow()) == 3
    with engine(app).connect() as conn:  # and the lock was given back
        assert conn.scalar(select(func.pg_try_advisory_lock(PRUNE_LOCK_KEY)))
        conn.scalar(select(func.pg_advisory_unlock(PRUNE_LOCK_KEY)))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_locked_prune_runs_on_sqlite_where_one_scheduler_exists(app, seeded):
    assert locked_prune(engine(app), MONTH, utcnow()) == 3


# -- flask prune-jobs ------------------------------------------------------------------


def test_the_command_prunes_and_says_how_many(app, seeded, runner):
    result = runner.invoke(args=["prune-jobs", "--older-than", "30d"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Deleted 3 finished jobs (finished before ")
    assert len(job_ids(app)) == 3


def test_the_command_dry_run_changes_nothing(app, seeded, runner):
    result = runner.invoke(args=["prune-jobs", "--older-than", "720h", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Would delete 3 finished jobs")
    assert len(job_ids(app)) == 6


@pytest.mark.redis
def test_the_command_tells_open_dashboards_through_redis(app, seeded, runner):
    """The deletions go to the web processes as facts, through the relay channel."""
    url = redis_url()
    app.config["REDIS_URL"] = url
    client = redis.Redis.from_url(url)
    pubsub = client.pubsub()
    pubsub.subscribe(relay_channel("jobsched"))  # JOBSCHED_SOCKETIO_CHANNEL's default
    before = set(job_ids(app))
    try:
        result = runner.invoke(args=["prune-jobs", "--older-than", "30d"])
        assert result.exit_code == 0, result.output
        deleted = before - set(job_ids(app))
        heard = _deleted_facts(pubsub, len(deleted))
    finally:
        pubsub.close()
        client.close()
    assert heard == deleted


def _deleted_facts(pubsub, expected: int) -> set[int]:
    """Ids of the JobDeleted facts that reached the channel within a few seconds (the
    command sends them before exiting)."""
    heard: set[int] = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(heard) < expected:
        message = pubsub.get_message(timeout=0.2)
        if not message or message["type"] != "message":
            continue
        packet = json.loads(message["data"])
        if packet.get("kind") == FACTS:
            heard |= {fact.job_id for fact in decode(packet) if isinstance(fact, JobDeleted)}
    return heard


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_RETENTION_DAYS": 30}])
def test_the_command_defaults_to_the_retention_setting(app, seeded, runner):
    result = runner.invoke(args=["prune-jobs"])
    assert result.exit_code == 0, result.output
    assert "Deleted 3 " in result.output


def test_the_command_needs_an_age_when_no_retention_is_set(app, runner):
    result = runner.invoke(args=["prune-jobs"])
    assert result.exit_code == 2
    assert "give --older-than (e.g. 30d) or set JOBSCHED_RETENTION_DAYS" in result.output


@pytest.mark.parametrize(("age", "why"), [
    ("30", "not an age like 30d"),
    ("thirty days", "not an age like 30d"),
    ("-1d", "not an age like 30d"),
    ("1.5d", "not an age like 30d"),
    ("30w", "not an age like 30d"),
    ("0d", "more than zero"),
    ("99999999d", "more than 36500 days"),
])
def test_the_command_refuses_a_bad_age(app, seeded, runner, age, why):
    result = runner.invoke(args=["prune-jobs", "--older-than", age])
    assert result.exit_code == 2
    assert "Invalid value for '--older-than'" in result.output and why in result.output
    assert len(job_ids(app)) == 6


@pytest.mark.parametrize("age", ["45s", "90m", "12h", "7d", " 30D "])
def test_the_command_accepts_every_unit(app, runner, age):
    result = runner.invoke(args=["prune-jobs", "--older-than", age, "--dry-run"])
    assert result.exit_code == 0, result.output


def test_the_command_refuses_a_bad_batch_size(app, runner):
    result = runner.invoke(args=["prune-jobs", "--older-than", "30d", "--batch-size", "0"])
    assert result.exit_code == 2
