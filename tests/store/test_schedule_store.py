"""The schedules' SQL (SPEC §12) on SQLite and PostgreSQL: one job per fire time however many
schedulers race, only the latest missed tick after downtime, overlap=skip."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from jobsched.database import engine_options
from jobsched.scheduler.events import JobChanged
from jobsched.scheduler.firing import ScheduleFiring
from jobsched.scheduler.recurrence import due_tick
from jobsched.storage.schedules import SqlScheduleStore, fire, schedules
from jobsched.storage.store import jobs
from tests.helpers import FakeClock, RecordingSink
from tests.store.conftest import SQL_KINDS, make_harness

NOON = datetime(2030, 1, 1, 12, 0, 20, tzinfo=UTC)
TEMPLATE = {"name": "nightly", "description": "", "task": "echo", "args": {"message": "hi"},
            "priority": "medium", "max_attempts": 3, "timeout_seconds": 60,
            "concurrency_key": None, "concurrency_limit": 1, "deadline_seconds": 90}


@pytest.fixture(params=SQL_KINDS)
def backend(request, tmp_path):
    backend = make_harness(request.param, request, tmp_path)
    yield backend
    backend.close()


def add_schedule(backend: Any, **values: Any) -> int:
    row = {"owner_id": backend.owner_id, "name": "every minute", "cron": "* * * * *",
           "timezone": "UTC", "job": TEMPLATE, "enabled": True, "overlap": "allow",
           "next_run_at": datetime(2030, 1, 1, 12, tzinfo=UTC), **values}
    with backend.engine.begin() as conn:
        return conn.scalar(insert(schedules).values(row).returning(schedules.c.id))


def schedule_row(backend: Any, schedule_id: int) -> Any:
    with backend.engine.connect() as conn:
        return conn.execute(select(schedules).where(schedules.c.id == schedule_id)).one()


def made_jobs(backend: Any, schedule_id: int) -> list[Any]:
    with backend.engine.connect() as conn:
        return conn.execute(select(jobs).where(jobs.c.schedule_id == schedule_id)
                            .order_by(jobs.c.id)).all()


def test_a_due_schedule_makes_its_job_from_the_template(backend):
    schedule_id = add_schedule(backend)
    sink = RecordingSink()
    ScheduleFiring(SqlScheduleStore(backend.engine), sink, clock=lambda: NOON).fire_due()
    [job] = made_jobs(backend, schedule_id)
    fired = datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert (job.name, job.task, job.args, job.status) == ("nightly", "echo", {"message": "hi"},
                                                          "pending")
    assert job.scheduled_for == fired
    assert job.deadline == fired + timedelta(seconds=90)
    assert job.owner_id == backend.owner_id
    row = schedule_row(backend, schedule_id)
    assert (row.last_run_at, row.last_job_id) == (fired, job.id)
    assert row.next_run_at == datetime(2030, 1, 1, 12, 1, tzinfo=UTC)
    assert sink.events == [JobChanged(job.id, backend.owner_id)]


def test_a_second_pass_at_the_same_instant_makes_nothing(backend):
    schedule_id = add_schedule(backend)
    firing = ScheduleFiring(SqlScheduleStore(backend.engine), RecordingSink(),
                            clock=lambda: NOON)
    firing.fire_due()
    firing.fire_due()
    assert len(made_jobs(backend, schedule_id)) == 1


def test_schedulers_racing_on_one_fire_time_make_one_job(backend):
    """Every scheduler read the schedule as due before any wrote: one job, the rest None."""
    schedule_id = add_schedule(backend)
    engines = [create_engine(backend.engine.url, **engine_options(str(backend.engine.url)))
               for _ in range(4)]
    stores = [SqlScheduleStore(engine) for engine in engines]
    [due] = stores[0].due_schedules(NOON, 10)
    tick = due_tick(due.state, NOON)
    barrier, results = threading.Barrier(len(stores)), []

    def race(store: SqlScheduleStore) -> None:
        barrier.wait()
        results.append(store.advance(due, tick))

    threads = [threading.Thread(target=race, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    for engine in engines:
        engine.dispose()
    assert len([r for r in results if r is not None]) == 1
    assert len(made_jobs(backend, schedule_id)) == 1


def test_the_unique_index_refuses_a_second_job_for_a_fire_time(backend):
    """Even a writer that skipped the schedule's conditional update makes no second job."""
    schedule_id = add_schedule(backend)
    fired = datetime(2030, 1, 1, 12, tzinfo=UTC)
    with backend.engine.begin() as conn:
        first = fire(conn, schedule_id, backend.owner_id, TEMPLATE, fired)
    with backend.engine.begin() as conn:
        assert fire(conn, schedule_id, backend.owner_id, TEMPLATE, fired) is None
    assert [job.id for job in made_jobs(backend, schedule_id)] == [first]
    with pytest.raises(IntegrityError), backend.engine.begin() as conn:
        conn.execute(insert(jobs).values(name="dup", owner_id=backend.owner_id,
                                         schedule_id=schedule_id, scheduled_for=fired))


def test_after_downtime_only_the_latest_missed_tick_runs_once(backend):
    """Down for three hours with an every-minute schedule: one job, for the last minute."""
    schedule_id = add_schedule(backend, next_run_at=NOON - timedelta(hours=3))
    firing = ScheduleFiring(SqlScheduleStore(backend.engine), RecordingSink(),
                            clock=lambda: NOON)
    firing.fire_due()
    firing.fire_due()
    [job] = made_jobs(backend, schedule_id)
    assert job.scheduled_for == datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert schedule_row(backend, schedule_id).next_run_at == datetime(2030, 1, 1, 12, 1,
                                                                      tzinfo=UTC)


def test_overlap_skip_makes_no_job_while_the_last_one_is_active(backend):
    schedule_id = add_schedule(backend, overlap="skip")
    clock = FakeClock(NOON)
    firing = ScheduleFiring(SqlScheduleStore(backend.engine), RecordingSink(), clock=clock)
    firing.fire_due()
    [first] = made_jobs(backend, schedule_id)
    clock.advance(60)  # 12:01:20: the first job is still pending
    firing.fire_due()
    assert len(made_jobs(backend, schedule_id)) == 1
    assert schedule_row(backend, schedule_id).next_run_at == datetime(2030, 1, 1, 12, 2,
                                                                      tzinfo=UTC)
    backend.update(first.id, status="completed")
    clock.advance(60)
    firing.fire_due()
    assert [job.scheduled_for.minute for job in made_jobs(backend, schedule_id)] == [0, 2]


def test_overlap_allow_fires_while_the_last_job_is_active(backend):
    schedule_id = add_schedule(backend, overlap="allow")
    clock = FakeClock(NOON)
    firing = ScheduleFiring(SqlScheduleStore(backend.engine), RecordingSink(), clock=clock)
    firing.fire_due()
    clock.advance(60)
    firing.fire_due()
    assert len(made_jobs(backend, schedule_id)) == 2


def test_a_disabled_or_changed_schedule_does_not_fire(backend):
    paused = add_schedule(backend, enabled=False)
    changed = add_schedule(backend)
    store = SqlScheduleStore(backend.engine)
    due = store.due_schedules(NOON, 10)
    assert [d.id for d in due] == [changed]
    with backend.engine.begin() as conn:  # the owner edits it after the scheduler read it
        conn.execute(update(schedules).where(schedules.c.id == changed)
                     .values(next_run_at=NOON + timedelta(hours=1)))
    assert store.advance(due[0], due_tick(due[0].state, NOON)) is None
    assert made_jobs(backend, paused) == made_jobs(backend, changed) == []


def test_the_loop_sleeps_until_the_next_run_at_most_a_poll(backend):
    add_schedule(backend, next_run_at=NOON + timedelta(seconds=0.25))
    firing = ScheduleFiring(SqlScheduleStore(backend.engine), RecordingSink(),
                            clock=lambda: NOON, poll_seconds=1.0)
    assert firing.fire_due() == pytest.approx(0.25)
    with backend.engine.begin() as conn:
        conn.execute(update(schedules).values(next_run_at=NOON + timedelta(hours=1)))
    assert firing.fire_due() == 1.0
    with backend.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(jobs)) == 0
