"""Schedules in SQL (SPEC §12): the firing loop's `ScheduleStore`, and the one definition of
the job a schedule makes.

Exactly once: a fire time becomes a job through `INSERT … ON CONFLICT (schedule_id,
scheduled_for) DO NOTHING`, against the unique index of migration 0010, so however many
schedulers handle the same fire time at once, one insert wins and the others insert nothing
(on PostgreSQL a second insert waits for the first's commit, then sees the conflict). Before
it, the schedule's next run moves on with a conditional UPDATE (`next_run_at` still as read),
which row-locks the schedule: a scheduler that lost the race usually stops there, and a
user's edit meanwhile (a new cron, a pause) wins over a stale read.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..database import IMMEDIATE, configure_engine
from ..models import Schedule
from ..scheduler.firing import DueSchedule
from ..scheduler.recurrence import Overlap, ScheduleState, Tick
from ..scheduler.states import JobStatus
from .queue import jobs

schedules = Schedule.__table__
ACTIVE = (JobStatus.PENDING.value, JobStatus.RUNNING.value)
# The template's fields copied onto each job as they are (deadline_seconds becomes deadline).
COPIED_FIELDS = ("name", "description", "task", "args", "priority", "max_attempts",
                 "timeout_seconds", "concurrency_key", "concurrency_limit")


def job_values(template: Mapping[str, Any], owner_id: int, base: datetime) -> dict[str, Any]:
    """The columns of the job a schedule makes at `base` (its fire time, or now for
    run-now): the template's fields, and its deadline `deadline_seconds` after `base`."""
    values = {key: template[key] for key in COPIED_FIELDS if key in template}
    seconds = template.get("deadline_seconds")
    values["deadline"] = None if seconds is None else base + timedelta(seconds=seconds)
    return {**values, "owner_id": owner_id, "status": JobStatus.PENDING.value}


class SqlScheduleStore:
    """`ScheduleStore` on the app's database; each call is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = configure_engine(engine)

    def due_schedules(self, now: datetime, limit: int) -> list[DueSchedule]:
        previous = jobs.alias("previous")
        query = (
            select(schedules, previous.c.status.in_(ACTIVE).label("previous_active"))
            .outerjoin(previous, previous.c.id == schedules.c.last_job_id)
            .where(schedules.c.enabled, schedules.c.next_run_at <= now)
            .order_by(schedules.c.next_run_at, schedules.c.id).limit(limit)
        )
        with self._engine.connect() as conn:
            return [_due(row) for row in conn.execute(query)]

    def advance(self, schedule: DueSchedule, tick: Tick) -> int | None:
        with self._engine.connect().execution_options(**IMMEDIATE) as conn, conn.begin():
            moved = conn.execute(
                update(schedules)
                .where(schedules.c.id == schedule.id, schedules.c.enabled,
                       schedules.c.next_run_at == schedule.state.next_run_at)
                .values(next_run_at=tick.next_run_at))
            if moved.rowcount != 1 or tick.fire_at is None:
                return None  # another scheduler (or the owner) changed it first; or a skip
            return fire(conn, schedule.id, schedule.owner_id, schedule.job, tick.fire_at)

    def next_run(self) -> datetime | None:
        query = select(func.min(schedules.c.next_run_at)).where(schedules.c.enabled)
        with self._engine.connect() as conn:
            return conn.scalar(query)


def fire(conn: Connection, schedule_id: int, owner_id: int, template: Mapping[str, Any],
         fire_at: datetime) -> int | None:
    """Make the job for one fire time unless one exists (then None), and record it as the
    schedule's last run. Runs in the caller's transaction."""
    row = {**job_values(template, owner_id, fire_at), "schedule_id": schedule_id,
           "scheduled_for": fire_at}
    job_id = conn.scalar(_insert_once(conn, row))
    if job_id is not None:
        record_last_job(conn, schedule_id, job_id, fire_at)
    return job_id


def record_last_job(conn: Connection, schedule_id: int, job_id: int, run_at: datetime) -> None:
    """The schedule's last run and job, never moved back to an older one."""
    newer = schedules.c.last_run_at.is_(None) | (schedules.c.last_run_at <= run_at)
    conn.execute(update(schedules).where(schedules.c.id == schedule_id, newer)
                 .values(last_run_at=run_at, last_job_id=job_id))


def _insert_once(conn: Connection, row: dict[str, Any]) -> Any:
    """INSERT … ON CONFLICT (schedule_id, scheduled_for) DO NOTHING RETURNING id."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(jobs).values(row).on_conflict_do_nothing(
        index_elements=[jobs.c.schedule_id, jobs.c.scheduled_for])
    return statement.returning(jobs.c.id)


def _due(row: Any) -> DueSchedule:
    state = ScheduleState(cron=row.cron, timezone=row.timezone, next_run_at=row.next_run_at,
                          overlap=Overlap(row.overlap),
                          previous_active=bool(row.previous_active))
    return DueSchedule(id=row.id, owner_id=row.owner_id, state=state, job=row.job)

