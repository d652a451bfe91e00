"""The kept job counts (jobs/counts.py, migration 0002) tell what counting every job would.

The oracle reads every job row and computes the stats in Python; the counts must agree after
any mix of multi-row inserts, updates and deletes, and after compaction, on both databases.
"""
from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from typing import Any

import flask_migrate
import pytest
from sqlalchemy import MetaData, Table, delete, func, insert, select, text, update

from jobsched import create_app
from jobsched.extensions import db
from jobsched.jobs.queries import JobQuery, job_stats, list_jobs
from jobsched.models import User
from jobsched.scheduler.clock import utcnow
from jobsched.storage.counts import (
    COMPACT_LOCK_KEY,
    CountsCompaction,
    compact,
    job_counts,
    recount,
)
from jobsched.storage.queue import jobs
from tests.api.conftest import quick_user
from tests.conftest import TEST_ENV, app_settings
from tests.db.test_migrations import MIGRATIONS
from tests.services import postgres_url, scratch_database

STATUSES = ("pending", "running", "completed", "failed", "cancelled")
PRIORITIES = ("high", "medium", "low")
COMPARED = ("total", "by_status", "by_priority", "running", "deadline_missed")


def oracle(rows: list[Any], now: datetime) -> dict[str, Any]:
    """The stats computed from every row, in Python."""
    waits = [(r.started_at - r.created_at).total_seconds() for r in rows if r.started_at]
    runs = [(r.finished_at - r.started_at).total_seconds()
            for r in rows if r.started_at and r.finished_at]
    missed = [r for r in rows if r.deadline_missed or (
        r.status in ("pending", "running") and r.deadline is not None and r.deadline < now)]
    return {
        "total": len(rows),
        "by_status": {s: sum(r.status == s for r in rows) for s in STATUSES},
        "by_priority": {p: sum(r.priority == p for r in rows) for p in PRIORITIES},
        "running": sum(r.status == "running" for r in rows),
        "deadline_missed": len(missed),
        "avg_wait_seconds": sum(waits) / len(waits) if waits else None,
        "avg_run_seconds": sum(runs) / len(runs) if runs else None,
    }


def assert_counts_agree(app, owners: list[int]) -> None:
    """Stats for everyone and for each owner equal the oracle's."""
    with app.app_context():
        rows = db.session.execute(select(jobs)).all()
        now = utcnow()
        users = [db.session.get(User, owner) for owner in owners]
        scopes: list[tuple[User | None, list[Any]]] = [(None, rows)] + [
            (user, rows if user.is_admin else [r for r in rows if r.owner_id == user.id])
            for user in users]
        for user, visible in scopes:
            stats, expected = job_stats(db.session, user, 3), oracle(visible, now)
            assert {k: stats[k] for k in COMPARED} == {k: expected[k] for k in COMPARED}
            for average in ("avg_wait_seconds", "avg_run_seconds"):
                if expected[average] is None:
                    assert stats[average] is None
                else:  # SQLite's julianday() keeps milliseconds
                    assert stats[average] == pytest.approx(expected[average], abs=0.002)
        db.session.remove()


def count_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(job_counts))


class Writes:
    """Random multi-row writes to `jobs`, as the API, the schedulers and retention do."""

    def __init__(self, app, owners: list[int], seed: int) -> None:
        self.app, self.owners, self.random = app, owners, random.Random(seed)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            with self.app.app_context():
                with db.engine.begin() as conn:
                    self.random.choice((self.insert, self.insert, self.change, self.change,
                                        self.remove))(conn)

    def insert(self, conn) -> None:
        now = utcnow()
        rows = [self._row(now) for _ in range(self.random.randint(1, 5))]
        # The table as the database has it: before the upgrade, it lacks later columns the
        # model fills in by default.
        conn.execute(insert(Table("jobs", MetaData(), autoload_with=conn, resolve_fks=False)),
                     rows)

    def _row(self, now: datetime) -> dict[str, Any]:
        created = now - timedelta(seconds=self.random.randint(0, 600))
        started = created + timedelta(seconds=self.random.uniform(0, 60))
        status = self.random.choice(STATUSES)
        return {
            "name": "j", "task": "echo", "args": {}, "owner_id": self.random.choice(self.owners),
            "priority": self.random.choice(PRIORITIES), "status": status,
            "created_at": created, "updated_at": created,
            "started_at": started if status != "pending" else None,
            "finished_at": (started + timedelta(seconds=self.random.uniform(0, 30))
                            if status in ("completed", "failed") else None),
            "deadline": self._deadline(now), "deadline_missed": self.random.random() < 0.2,
        }

    def _deadline(self, now: datetime) -> datetime | None:
        if self.random.random() < 0.5:
            return None
        return now + timedelta(seconds=self.random.randint(-300, 300))

    def _some(self, conn) -> list[int]:
        ids = list(conn.scalars(select(jobs.c.id)))
        return self.random.sample(ids, k=min(len(ids), self.random.randint(1, 6)))

    def change(self, conn) -> None:
        now = utcnow()
        values = self.random.choice((
            {"status": "running", "started_at": now},
            {"status": "completed", "finished_at": now, "progress": 100},
            {"status": "pending", "started_at": None, "finished_at": None},
            {"priority": self.random.choice(PRIORITIES)},
            {"deadline_missed": True},
            {"owner_id": self.random.choice(self.owners)},
            {"progress": self.random.randint(0, 100)},  # changes nothing counted
        ))
        conn.execute(update(jobs).where(jobs.c.id.in_(self._some(conn))).values(**values))

    def remove(self, conn) -> None:
        conn.execute(delete(jobs).where(jobs.c.id.in_(self._some(conn))))


@pytest.fixture
def owners(app) -> list[int]:
    return [quick_user(app, "root", admin=True), quick_user(app, "alice"),
            quick_user(app, "bob")]


@pytest.mark.parametrize("seed", [1, 2])
def test_counts_agree_with_counting_every_job_after_any_writes(app, owners, seed):
    writes = Writes(app, owners, seed)
    for _ in range(6):
        writes.run(15)
        assert_counts_agree(app, owners)


def test_compaction_folds_the_rows_into_one_per_key_and_changes_no_stat(app, owners):
    writes = Writes(app, owners, seed=3)
    writes.run(60)
    before = count_rows(app)
    with app.app_context():
        left = compact(db.engine)
    assert left == count_rows(app) < before
    assert left <= len(owners) * len(STATUSES) * len(PRIORITIES)
    assert_counts_agree(app, owners)
    writes.run(30)  # and counting goes on from the folded rows
    assert_counts_agree(app, owners)


def test_compaction_drops_keys_whose_jobs_are_all_gone(app, owners):
    Writes(app, owners, seed=4).run(20)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(delete(jobs))
        assert compact(db.engine) == 0
    assert count_rows(app) == 0
    assert_counts_agree(app, owners)


def run_now(work):
    work()


def test_the_chore_compacts_only_when_rows_were_added(app, owners):
    writes = Writes(app, owners, seed=5)
    writes.run(10)
    with app.app_context():
        chore = CountsCompaction(db.engine, interval=timedelta(0), spawn=run_now)
        ids = lambda: set(db.session.scalars(select(job_counts.c.id)))  # noqa: E731
        chore(utcnow())
        folded = ids()
        chore(utcnow())  # nothing new: the folded rows stay as they are
        assert ids() == folded
        db.session.remove()
    writes.run(5)
    with app.app_context():
        chore(utcnow())
        assert not ids() & folded  # folded again, into new rows
        db.session.remove()
    assert_counts_agree(app, owners)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_compaction_while_another_holds_the_lock_steps_aside(app, owners):
    Writes(app, owners, seed=6).run(10)
    before = count_rows(app)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(select(func.pg_advisory_xact_lock(COMPACT_LOCK_KEY)))
            assert compact(db.engine) is None
    assert count_rows(app) == before


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_compactions_racing_writers_lose_no_change(app, owners):
    """Writers commit while compactions run back to back: nothing is lost or counted twice."""
    writes = Writes(app, owners, seed=7)
    writer = threading.Thread(target=writes.run, args=(150,))
    writer.start()
    compactions = 0
    with app.app_context():
        while writer.is_alive():
            compactions += compact(db.engine) is not None
    writer.join()
    assert compactions > 1
    assert_counts_agree(app, owners)


def old_user(username: str) -> int:
    """A user inserted with SQL: the model has columns later migrations add."""
    return db.session.execute(text(
        "INSERT INTO users (username, password_hash, is_admin, created_at) "
        "VALUES (:name, 'x', false, now()) RETURNING id"), {"name": username}).scalar_one()


@pytest.mark.postgres
def test_upgrading_counts_the_jobs_already_there():
    """A database with jobs before migration 0002 gets their counts, not zeros."""
    with scratch_database(postgres_url(), prefix="jobsched_cnt") as url:
        app = create_app(app_settings(url), env=TEST_ENV)
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS, revision="0001")
            owners = [old_user(name) for name in ("root", "alice")]
            db.session.commit()
        Writes(app, owners, seed=8).run(20)
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS)
            assert db.session.scalar(text("SELECT count(*) FROM job_counts")) > 0
            db.session.remove()
        assert_counts_agree(app, owners)
        with app.app_context():
            db.engine.dispose()


def test_list_totals_from_the_counts_match_the_rows(app, owners):
    """The list's total (the dashboard's pager) is read from the counts for status,
    priority and owner filters, and must equal what the filter selects."""
    Writes(app, owners, seed=9).run(40)
    queries = [JobQuery(), JobQuery(status=("pending", "running")), JobQuery(priority=("low",)),
               JobQuery(status=("completed",), priority=("high", "medium")),
               JobQuery(owner="ALICE"), JobQuery(owner="nobody"), JobQuery(sort="queue"),
               JobQuery(status=("failed",), sort="queue")]
    with app.app_context():
        rows = db.session.execute(select(jobs)).all()
        names = {user.id: user.username for user in db.session.scalars(select(User))}
        for user in (db.session.get(User, owner) for owner in owners):
            for query in queries:
                expected = sum(
                    (user.is_admin or row.owner_id == user.id)
                    and (not query.status or row.status in query.status)
                    and (not query.priority or row.priority in query.priority)
                    and (not query.owner or names[row.owner_id] == query.owner.lower())
                    and (query.sort != "queue" or row.status == "pending")
                    for row in rows)
                assert list_jobs(db.session, user, query).total == expected, (user, query)
        db.session.remove()


def test_recount_repairs_counts_of_jobs_loaded_without_triggers(app, owners):
    Writes(app, owners, seed=10).run(30)
    with app.app_context():
        with db.engine.begin() as conn:  # as a bulk load with triggers off leaves them
            conn.execute(delete(job_counts))
        total = db.session.scalar(select(func.count()).select_from(jobs))
        assert job_stats(db.session, None, 3)["total"] == 0 < total
        db.session.remove()
        assert recount(db.engine) == total
    assert_counts_agree(app, owners)
    Writes(app, owners, seed=11).run(10)  # the triggers go on from the recount
    assert_counts_agree(app, owners)


def test_recount_jobs_command(app, owners, runner):
    Writes(app, owners, seed=12).run(10)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(delete(job_counts))
            total = conn.scalar(select(func.count()).select_from(jobs))
    result = runner.invoke(args=["recount-jobs"])
    assert result.exit_code == 0 and f"Counted {total} jobs." in result.output
    assert_counts_agree(app, owners)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_truncating_jobs_empties_the_counts(app, owners):
    Writes(app, owners, seed=13).run(10)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE jobs, executions, job_dependencies"))
    assert count_rows(app) == 0
    assert_counts_agree(app, owners)


def test_every_scheduler_offers_to_compact_the_counts(app, owners):
    from jobsched.runner import build_service
    from jobsched.scheduler.events import NullSink

    Writes(app, owners, seed=14).run(20)
    before = count_rows(app)
    service = build_service(app, NullSink(), name="compactor", spawn=run_now)
    service.node._housekeeping(utcnow())
    assert count_rows(app) < before
    assert_counts_agree(app, owners)


def test_every_offers_each_chore_in_turn():
    from jobsched.scheduler.chores import every

    seen: list[str] = []
    assert every(None, None) is None
    one = seen.append
    assert every(None, one) is one
    both = every(lambda now: seen.append(f"a{now}"), lambda now: seen.append(f"b{now}"))
    both(1)
    assert seen == ["a1", "b1"]
