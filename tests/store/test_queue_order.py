"""Property: the SQL queue order is the heap's order is `queue_key`'s order (SPEC §5).

For random jobs (priorities, deadlines with ties and NULLs, run_at past, future or NULL)
and random edits, cancels and deletes, three answers to "what runs next, in which order"
must agree: `SELECT … WHERE ELIGIBLE ORDER BY QUEUE_ORDER` (the API's sort=queue and the
claim's own order), a PendingHeap kept in sync the way a scheduler keeps it (load, then
re-fetch each changed job), and plain `sorted(key=queue_key)`.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select, update

from jobsched.models import User
from jobsched.scheduler.clock import utcnow
from jobsched.scheduler.ordering import PendingHeap, queue_key
from jobsched.scheduler.states import JobStatus, Priority
from jobsched.storage.store import ELIGIBLE, QUEUE_ORDER, SqlJobStore, executions, jobs
from tests.store.conftest import SQL_KINDS, shared_engine

# ELIGIBLE reads the database's clock, so run_at is set relative to the real now, and never
# within a minute of it: the example's own duration cannot move a job across the boundary.
RUN_AT_OFFSETS = [-86_400, -3600, -60, 60, 3600, 86_400]
BASE = datetime(2031, 6, 1, tzinfo=UTC)
# A few shared deadlines make ties (broken by id); arbitrary ones cover the rest.
DEADLINES = st.one_of(
    st.none(),
    st.sampled_from([BASE, BASE + timedelta(microseconds=1), BASE + timedelta(days=1)]),
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31),
                 timezones=st.just(UTC)),
)
RUN_AT = st.one_of(st.none(), st.sampled_from(RUN_AT_OFFSETS))
PRIORITIES = st.sampled_from(list(Priority))
JOB = st.tuples(PRIORITIES, DEADLINES, RUN_AT)
EDIT = st.one_of(
    st.tuples(st.just("priority"), st.integers(0, 99), PRIORITIES),
    st.tuples(st.just("deadline"), st.integers(0, 99), DEADLINES),
    st.tuples(st.just("run_at"), st.integers(0, 99), RUN_AT),
    st.tuples(st.sampled_from(["cancel", "delete", "retry"]), st.integers(0, 99), st.none()),
)


@pytest.fixture(scope="module", params=SQL_KINDS)
def database(request, tmp_path_factory) -> Iterator[tuple[Engine, int]]:
    """A migrated database for the whole module, with the one owner every job needs."""
    with shared_engine(request.param, request, tmp_path_factory.mktemp("queue")) as engine:
        with engine.begin() as conn:
            owner = conn.scalar(insert(User.__table__).values(
                username="owner", password_hash="x", created_at=utcnow(),
            ).returning(User.__table__.c.id))
        yield engine, owner


def run_at(offset: int | None) -> datetime | None:
    return None if offset is None else utcnow() + timedelta(seconds=offset)


def add_jobs(engine: Engine, owner: int, specs: list[tuple[Any, ...]]) -> list[int]:
    with engine.begin() as conn:
        conn.execute(delete(executions))
        conn.execute(delete(jobs))
        return [conn.scalar(insert(jobs).values(
            name="job", task="sleep", args={}, priority=priority.value,
            deadline=deadline, run_at=run_at(offset), status=JobStatus.PENDING.value,
            owner_id=owner, created_at=utcnow(), updated_at=utcnow(),
        ).returning(jobs.c.id)) for priority, deadline, offset in specs]


def apply_edit(engine: Engine, job_id: int, kind: str, value: Any) -> None:
    """An edit as the web side makes it (the store's view follows by re-fetching)."""
    if kind == "delete":
        statement = delete(jobs).where(jobs.c.id == job_id)
    else:
        values = {
            "priority": lambda: {"priority": value.value},
            "deadline": lambda: {"deadline": value},
            "run_at": lambda: {"run_at": run_at(value)},
            "cancel": lambda: {"status": JobStatus.CANCELLED.value},
            "retry": lambda: {"status": JobStatus.PENDING.value},
        }[kind]()
        statement = update(jobs).where(jobs.c.id == job_id).values(**values)
    with engine.begin() as conn:
        conn.execute(statement)


def resync(heap: PendingHeap, store: SqlJobStore, job_id: int) -> None:
    """What a scheduler does on a change notification: re-read that one job."""
    found = store.fetch_queued([job_id])
    if found:
        heap.upsert(found[0])
    else:
        heap.discard(job_id)


@settings(max_examples=50, deadline=None, database=None)
@given(specs=st.lists(JOB, max_size=25), edits=st.lists(EDIT, max_size=15))
def test_sql_queue_order_is_the_heap_order_is_queue_key_order(database, specs, edits):
    engine, owner = database
    store = SqlJobStore(engine)
    ids = add_jobs(engine, owner, specs)
    heap = PendingHeap(store.pending())
    for kind, index, value in edits:
        if ids:
            job_id = ids[index % len(ids)]
            apply_edit(engine, job_id, kind, value)
            resync(heap, store, job_id)

    with engine.connect() as conn:
        in_sql = list(conn.scalars(select(jobs.c.id).where(ELIGIBLE).order_by(*QUEUE_ORDER)))
    now = utcnow()
    in_heap = heap.candidates(now, len(ids) + 1)
    eligible = [q for q in store.pending() if q.run_at is None or q.run_at <= now]
    by_key = [q.id for q in sorted(eligible, key=queue_key)]
    assert in_sql == in_heap == by_key
