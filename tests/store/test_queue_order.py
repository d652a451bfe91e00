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
from jobsched.scheduler.policy import Overload, QueuePolicy
from jobsched.scheduler.states import JobStatus, Priority
from jobsched.scheduler.store import QueuedJob
from jobsched.storage.queue import queue_order
from jobsched.storage.store import ELIGIBLE, QUEUE_ORDER, SqlJobStore, db_now, executions, jobs
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


# -- the same under the queue policy (SPEC §10): aging and feasible_first --------------------

# Times relative to the real now, far from every boundary the policy has (N, 2N, and a
# deadline - timeout equal to now), so the example's own duration cannot move a job.
AGING = 3600
QUEUED_OFFSETS = [-100, -5400, -9000, -36_000]  # 0, 1 and 2 classes up (and capped)
ELIGIBLE_RUN_AT = [-86_400, -5400, -60, 60, 3600]  # the last two: not yet eligible
DEADLINE_OFFSETS = [-3600, 600, 1800, 7200, 86_400]
TIMEOUTS = [1, 1200, 3600, 36_000]
POLICIES = [QueuePolicy(aging_seconds=AGING), QueuePolicy(overload=Overload.FEASIBLE_FIRST),
            QueuePolicy(aging_seconds=AGING, overload=Overload.FEASIBLE_FIRST)]
POLICY_JOB = st.tuples(PRIORITIES, st.one_of(st.none(), st.sampled_from(DEADLINE_OFFSETS)),
                       st.one_of(st.none(), st.sampled_from(ELIGIBLE_RUN_AT)),
                       st.sampled_from(QUEUED_OFFSETS), st.sampled_from(TIMEOUTS))


def add_policy_jobs(engine: Engine, owner: int, specs: list[tuple[Any, ...]]) -> list[int]:
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(delete(executions))
        conn.execute(delete(jobs))
        return [conn.scalar(insert(jobs).values(
            name="job", task="sleep", args={}, priority=priority.value,
            deadline=None if deadline is None else now + timedelta(seconds=deadline),
            run_at=run_at(offset), queued_at=now + timedelta(seconds=queued),
            timeout_seconds=timeout, status=JobStatus.PENDING.value,
            owner_id=owner, created_at=utcnow(), updated_at=utcnow(),
        ).returning(jobs.c.id)) for priority, deadline, offset, queued, timeout in specs]


@pytest.mark.parametrize("policy", POLICIES, ids=["aging", "feasible_first", "both"])
@settings(max_examples=30, deadline=None, database=None)
@given(specs=st.lists(POLICY_JOB, max_size=25))
def test_under_a_queue_policy_sql_heap_claim_and_queue_key_agree(database, policy, specs):
    engine, owner = database
    store = SqlJobStore(engine)
    ids = add_policy_jobs(engine, owner, specs)
    heap = PendingHeap(store.pending(), policy)

    with engine.connect() as conn:
        in_sql = list(conn.scalars(
            select(jobs.c.id).where(ELIGIBLE).order_by(*queue_order(policy, db_now()))))
    now = utcnow()
    in_heap = heap.candidates(now, len(ids) + 1)
    eligible = [q for q in store.pending() if q.run_at is None or q.run_at <= now]
    by_key = [q.id for q in sorted(eligible, key=lambda q: queue_key(q, policy, now))]
    claimed = store.claim(ids, "n1", len(ids) + 1, len(ids) + 1, 30, policy=policy)
    assert in_sql == in_heap == by_key == [c.id for c in claimed]


def test_a_heap_re_keys_a_job_when_it_ages_or_becomes_late():
    """Under the policy, the order changes with time alone: the heap's timers see to it."""
    policy = QueuePolicy(aging_seconds=60, overload=Overload.FEASIBLE_FIRST)
    t0 = datetime(2031, 6, 1, tzinfo=UTC)
    old_low = QueuedJob(1, Priority.LOW, None, None, queued_at=t0, expected_seconds=10)
    medium = QueuedJob(2, Priority.MEDIUM, t0 + timedelta(seconds=100), None,
                       queued_at=t0 + timedelta(seconds=50), expected_seconds=30)
    medium_later = QueuedJob(3, Priority.MEDIUM, t0 + timedelta(seconds=200), None,
                             queued_at=t0 + timedelta(seconds=50), expected_seconds=30)
    heap = PendingHeap([old_low, medium, medium_later], policy)
    assert heap.candidates(t0 + timedelta(seconds=59), 3) == [2, 3, 1]
    # 60 s: the low job is ordered as medium, after the medium ones with a deadline.
    assert heap.candidates(t0 + timedelta(seconds=60), 3) == [2, 3, 1]
    # 71 s: job 2 can no longer finish by its deadline (100 - 30): the feasible one first.
    assert heap.candidates(t0 + timedelta(seconds=71), 3) == [3, 2, 1]
    # 120 s: the medium jobs have aged to high (since 50 + 60), and the low one (2 × 60).
    assert heap.candidates(t0 + timedelta(seconds=120), 3) == [3, 2, 1]
    # 171 s: job 3 is late too (200 - 30): both late, earliest deadline first.
    assert heap.candidates(t0 + timedelta(seconds=171), 3) == [2, 3, 1]
