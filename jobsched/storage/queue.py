"""The job queue in SQL, shared by the store, the API and the service.

`QUEUE_ORDER` and `ELIGIBLE` are the one definition of SPEC §5's order and eligibility in
SQL, and `queue_place` of §10's queue policy (aging, feasible_first; the rule in Python is
scheduler/policy.py): the scheduler's claim orders by them and the API's `sort=queue` lists
by them, so what a user sees queued is what runs next. `db_now()` is the database's clock
in a form every dialect compares correctly with stored datetimes; `Instant` is one call's
"now".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Interval, Select, case, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..models import Execution, Job, SchedulerNode, UTCDateTime
from ..scheduler.policy import MAX_AGING_STEPS, Overload, QueuePolicy, Tier
from ..scheduler.states import JobStatus
from .timesql import seconds_between

jobs = Job.__table__
executions = Execution.__table__
nodes = SchedulerNode.__table__


class db_now(FunctionElement[datetime]):
    """The database's current UTC time, comparable with stored datetimes on every dialect."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(db_now)
def _db_now_default(element: db_now, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(db_now, "postgresql")
def _db_now_postgresql(element: db_now, compiler: Any, **kw: Any) -> str:
    return "now()"


@compiles(db_now, "sqlite")
def _db_now_sqlite(element: db_now, compiler: Any, **kw: Any) -> str:
    # SQLite stores naive UTC text with six fraction digits; this renders "now" the same way
    # (to the millisecond), so text comparison is time comparison.
    return "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


# SPEC §5 queue order. NULLS LAST is explicit: SQLite sorts NULL first by default.
QUEUE_ORDER = (jobs.c.priority_rank.asc(), jobs.c.deadline.asc().nulls_last(), jobs.c.id.asc())

# A job's expected run time, as the queue policy reads it (SPEC §10: its timeout, until the
# task has a run-time history).
EXPECTED_SECONDS = jobs.c.timeout_seconds

# When a pending job became eligible: the later of its queueing and its run_at.
ELIGIBLE_SINCE = case((jobs.c.run_at > jobs.c.queued_at, jobs.c.run_at), else_=jobs.c.queued_at)


def queue_place(
    policy: QueuePolicy, now: ColumnElement[datetime],
) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """An eligible job's class and tier at `now`, as policy.QueuePolicy.place says them."""
    rank: ColumnElement[int] = jobs.c.priority_rank
    if policy.aging_seconds is not None:
        waited = seconds_between(ELIGIBLE_SINCE, now)
        rank = case(*(
            (waited >= steps * policy.aging_seconds,
             case((jobs.c.priority_rank > steps, jobs.c.priority_rank - steps), else_=0))
            for steps in range(MAX_AGING_STEPS, 0, -1)
        ), else_=jobs.c.priority_rank)
    tier: ColumnElement[int] = case((jobs.c.deadline.is_(None), Tier.NONE), else_=Tier.FEASIBLE)
    if policy.overload is Overload.FEASIBLE_FIRST:
        tier = case(
            (jobs.c.deadline.is_(None), Tier.NONE),
            (seconds_between(now, jobs.c.deadline) < EXPECTED_SECONDS, Tier.LATE),
            else_=Tier.FEASIBLE)
    return rank, tier


def queue_order(policy: QueuePolicy, now: ColumnElement[datetime]) -> tuple[Any, ...]:
    """ORDER BY for eligible jobs at `now`; SPEC §5's own (the index's) when the policy
    does not change it."""
    if not policy.changes_over_time:
        return QUEUE_ORDER
    rank, tier = queue_place(policy, now)
    return (rank.asc(), tier.asc(), jobs.c.deadline.asc().nulls_last(), jobs.c.id.asc())


# A pending job the heap holds: not waiting for jobs it depends on (SPEC §12).
QUEUED = (jobs.c.status == JobStatus.PENDING.value) & (jobs.c.waiting_on == 0)


def eligible(now: ColumnElement[datetime]) -> ColumnElement[bool]:
    """SPEC §5: pending, and run_at null or not after `now`; and (§12) every job it depends
    on completed."""
    return QUEUED & or_(jobs.c.run_at.is_(None), jobs.c.run_at <= now)


ELIGIBLE = eligible(db_now())


def running_jobs_count() -> Select[tuple[int]]:
    """Jobs running now, system-wide: read from the partial index of running jobs, which
    holds at most the global limit of entries, so it is cheap for every caller (the claim
    on SQLite, the store, the stats' `running_all`, the admin pages)."""
    return select(func.count()).select_from(jobs).where(
        jobs.c.status == JobStatus.RUNNING.value)


@dataclass(frozen=True, slots=True)
class Instant:
    """One instant for a whole call, as SQL: now() on PostgreSQL, the store clock on SQLite."""

    sql: ColumnElement[datetime]
    value: datetime | None  # the clock's reading (SQLite); None means the database's now()

    def plus(self, seconds: float) -> ColumnElement[datetime]:
        """This instant + `seconds`, computed where the instant lives."""
        if self.value is None:
            return self.sql + literal(timedelta(seconds=seconds), Interval())
        return literal(self.value + timedelta(seconds=seconds), UTCDateTime())

    def seconds_since(self, column: ColumnElement[datetime]) -> ColumnElement[float]:
        """Seconds from `column` to this instant (an execution's duration)."""
        return seconds_between(column, self.sql)


# The database's now, for the SQL a web request's change runs in its transaction.
DB_NOW = Instant(db_now(), None)
