"""The automatic prune: at most once per interval, off the scheduler's loop, where the lock
is won; wired into a scheduler when JOBSCHED_RETENTION_DAYS is set."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select

from jobsched.extensions import db
from jobsched.runner import build_service
from jobsched.scheduler.node import SchedulerNode
from jobsched.scheduler.nodeconfig import NodeRuntime, NodeSettings
from jobsched.storage.retention import PRUNE_LOCK_KEY, AutoPrune, retention_chore
from jobsched.tasks.builtin import build_registry
from tests.conftest import make_user
from tests.helpers import T0, FakeClock, RecordingSink, wait_until
from tests.memory import MemoryStore
from tests.ops.seed import finished_job, job_ids

HOUR = timedelta(hours=1)


class Held:
    """A spawn that keeps the work instead of running it, to run it later (or never)."""

    def __init__(self) -> None:
        self.work: list = []

    def __call__(self, fn, *args):
        self.work.append(lambda: fn(*args))

    def run_all(self) -> None:
        work, self.work = self.work, []
        for item in work:
            item()


def run_now(fn, *args) -> None:
    fn(*args)


class Prunes:
    """A prune that counts its calls and answers as told."""

    def __init__(self, answer: int | None = 0, error: Exception | None = None) -> None:
        self.calls, self.answer, self.error = 0, answer, error

    def __call__(self) -> int | None:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.answer


def test_it_prunes_at_once_then_at_most_once_per_interval():
    prune = Prunes()
    chore = AutoPrune(prune, interval=HOUR, spawn=run_now)
    for minutes in (0, 1, 30, 59):
        chore(T0 + timedelta(minutes=minutes))
    assert prune.calls == 1
    chore(T0 + timedelta(minutes=60))
    chore(T0 + timedelta(minutes=61))
    assert prune.calls == 2


def test_a_prune_still_running_is_not_started_again():
    prune, spawn = Prunes(), Held()
    chore = AutoPrune(prune, interval=HOUR, spawn=spawn)
    chore(T0)
    chore(T0 + 2 * HOUR)  # due again, but the first one has not finished
    assert len(spawn.work) == 1
    spawn.run_all()
    chore(T0 + 3 * HOUR)
    assert len(spawn.work) == 1 and prune.calls == 1


def test_a_failing_prune_is_logged_and_tried_again_next_interval(caplog):
    prune = Prunes(error=RuntimeError("database gone"))
    chore = AutoPrune(prune, interval=HOUR, spawn=run_now)
    chore(T0)
    chore(T0 + timedelta(minutes=5))
    assert prune.calls == 1 and "retention: prune failed" in caplog.text
    chore(T0 + HOUR)
    assert prune.calls == 2


def test_a_spawn_that_fails_does_not_wedge_the_chore(caplog):
    prune, failures = Prunes(), [RuntimeError("no threads left")]

    def flaky(fn, *args):
        if failures:
            raise failures.pop()
        fn(*args)

    chore = AutoPrune(prune, interval=HOUR, spawn=flaky)
    chore(T0)
    assert "could not start the prune worker" in caplog.text and prune.calls == 0
    chore(T0 + HOUR)
    assert prune.calls == 1


def test_a_lost_lock_is_a_skip_not_an_error(caplog):
    caplog.set_level("INFO")
    AutoPrune(Prunes(answer=None), interval=HOUR, spawn=run_now)(T0)
    assert "another scheduler is pruning; skipped" in caplog.text


def test_retention_days_decide_whether_there_is_a_chore():
    engine = create_engine("sqlite://")
    try:
        assert retention_chore(engine, None, RecordingSink()) is None
        assert isinstance(retention_chore(engine, 30, RecordingSink()), AutoPrune)
    finally:
        engine.dispose()


def test_the_node_hands_its_housekeeping_the_time_on_each_tick():
    clock = FakeClock()
    seen: list = []
    node = SchedulerNode(MemoryStore(clock), build_registry(enable_shell=False, modules=[]),
                         RecordingSink(), NodeSettings(name="n1"),
                         NodeRuntime(clock=clock, housekeeping=seen.append))
    node.tick()
    clock.advance(5)
    node.tick()
    assert seen == [T0, T0 + timedelta(seconds=5)]


# -- a real scheduler with JOBSCHED_RETENTION_DAYS -------------------------------------


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_RETENTION_DAYS": 30}])
def test_a_scheduler_with_retention_prunes_old_jobs_by_itself(app):
    owner = make_user(app, "alice")
    old = finished_job(app, owner, "completed", timedelta(days=40))
    recent = finished_job(app, owner, "completed", timedelta(days=3))
    service = build_service(app, RecordingSink(), name=f"ops-{uuid.uuid4().hex[:8]}")
    service.start()
    try:
        wait_until(lambda: old not in job_ids(app), timeout=10)
    finally:
        service.stop()
    assert job_ids(app) == {recent}


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_RETENTION_DAYS": 30}])
def test_a_scheduler_leaves_the_prune_to_whoever_holds_the_lock(app, caplog):
    caplog.set_level("INFO", logger="jobsched.storage.retention")
    owner = make_user(app, "alice")
    old = finished_job(app, owner, "completed", timedelta(days=40))
    with app.app_context():
        engine = db.engine
    with engine.connect() as other:  # "another scheduler" is pruning
        assert other.scalar(select(func.pg_try_advisory_lock(PRUNE_LOCK_KEY)))
        service = build_service(app, RecordingSink(), name=f"ops-{uuid.uuid4().hex[:8]}")
        service.start()
        try:
            wait_until(lambda: "another scheduler is pruning; skipped" in caplog.text,
                       timeout=10)
        finally:
            service.stop()
        other.scalar(select(func.pg_advisory_unlock(PRUNE_LOCK_KEY)))
    assert old in job_ids(app)
