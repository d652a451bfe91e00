"""Property: under the fair-use caps (SPEC §10) the heap and the SQL claim agree on which job
gets each slot, and both follow `fairness.pick` over the queue order.

For random jobs of three owners (keys, key limits, priorities, deadlines), a random default
cap and random admins' caps, one slot at a time is filled as a scheduler fills it (the heap
offers candidates, the store's claim starts one or holds some back, the heap sets held
groups aside), with no job ever finishing; the oracle fills the same slots by applying
`pick` to every eligible job in queue order. The sequences of started jobs must be equal.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, update

from jobsched.models import User
from jobsched.scheduler.clock import utcnow
from jobsched.scheduler.fairness import Candidate, Caps, pick
from jobsched.scheduler.ordering import PendingHeap, queue_key
from jobsched.scheduler.states import JobStatus, Priority
from jobsched.storage.store import SqlJobStore, executions, jobs
from tests.store.conftest import SQL_KINDS, shared_engine

OWNERS = 3
BASE = datetime(2031, 6, 1, tzinfo=UTC)
EXTRA_CANDIDATES = 4  # as the node asks for
JOB = st.tuples(
    st.integers(0, OWNERS - 1), st.sampled_from([None, "a", "b"]), st.integers(1, 2),
    st.sampled_from(list(Priority)),
    st.one_of(st.none(), st.integers(0, 3).map(lambda d: BASE + timedelta(days=d))),
)
CAP = st.one_of(st.none(), st.integers(1, 3))
users = User.__table__


@pytest.fixture(scope="module", params=SQL_KINDS)
def database(request, tmp_path_factory) -> Iterator[tuple[Engine, list[int]]]:
    with shared_engine(request.param, request, tmp_path_factory.mktemp("fair")) as engine:
        with engine.begin() as conn:
            owners = [conn.scalar(insert(users).values(
                username=f"fair{n}", password_hash="x", created_at=utcnow(),
            ).returning(users.c.id)) for n in range(OWNERS)]
        yield engine, owners


def seed(engine: Engine, owners: list[int], specs, own_caps) -> None:
    with engine.begin() as conn:
        conn.execute(delete(executions))
        conn.execute(delete(jobs))
        for owner, cap in zip(owners, own_caps, strict=True):
            conn.execute(update(users).where(users.c.id == owner).values(max_running=cap))
        for owner, key, limit, priority, deadline in specs:
            conn.execute(insert(jobs).values(
                name="job", task="sleep", args={}, priority=priority.value, deadline=deadline,
                status=JobStatus.PENDING.value, owner_id=owners[owner], concurrency_key=key,
                concurrency_limit=limit, created_at=utcnow(), updated_at=utcnow()))


def as_scheduler(store: SqlJobStore, per_user: int | None) -> list[int]:
    """Fill one slot at a time as SchedulerNode._fill does, until nothing is offered."""
    heap = PendingHeap(store.pending())
    started: list[int] = []
    while ids := heap.candidates(utcnow(), 1 + EXTRA_CANDIDATES):
        claimed = store.claim(ids, "n1", 1, 10_000, 30, per_user)
        for claim in claimed:
            heap.discard(claim.id)
        heap.hold(claimed.held)
        started.extend(c.id for c in claimed)
    return started


@settings(max_examples=40, deadline=None, database=None)
@given(specs=st.lists(JOB, max_size=20), per_user=CAP,
       own_caps=st.lists(CAP, min_size=OWNERS, max_size=OWNERS))
def test_the_heap_and_the_claim_give_each_slot_to_the_job_the_rule_picks(
        database, specs, per_user, own_caps):
    engine, owners = database
    seed(engine, owners, specs, own_caps)
    store = SqlJobStore(engine)
    expected = oracle(store, specs, owners, own_caps, per_user)
    assert as_scheduler(store, per_user) == expected


def oracle(store: SqlJobStore, specs, owners, own_caps, per_user) -> list[int]:
    """The oracle: each slot goes to the first job `pick` lets start, over every job."""
    ordered = sorted(store.pending(), key=queue_key)
    spec_of = dict(zip(sorted(q.id for q in ordered), specs, strict=True))
    caps = Caps(per_user, {o: c for o, c in zip(owners, own_caps, strict=True)
                           if c is not None})
    waiting = [Candidate(q.id, owners[spec_of[q.id][0]], spec_of[q.id][1], spec_of[q.id][2])
               for q in ordered]
    running: list[tuple[int, str | None]] = []
    started: list[int] = []
    while True:
        chosen, _ = pick(waiting, running, caps, 1)
        if not chosen:
            return started
        [job] = [c for c in waiting if c.id == chosen[0]]
        waiting.remove(job)
        running.append((job.owner_id, job.concurrency_key))
        started.append(job.id)
