"""Queue order (SPEC §5) and the pending heap: eligibility, run_at, invalidation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobsched.scheduler.ordering import PendingHeap, from_micros, queue_key, to_micros
from jobsched.scheduler.states import Priority
from jobsched.scheduler.store import QueuedJob
from tests.helpers import T0


def job(job_id: int, priority: str = "medium", deadline: float | None = None,
        run_at: float | None = None) -> QueuedJob:
    """A queued job whose deadline/run_at are given in seconds after T0."""
    return QueuedJob(job_id, Priority(priority), after_t0(deadline), after_t0(run_at))


def after_t0(seconds: float | None) -> datetime | None:
    return None if seconds is None else T0 + timedelta(seconds=seconds)


def test_queue_key_orders_priority_then_deadline_then_id():
    jobs = [
        job(1, "low", deadline=1), job(2, "medium"), job(3, "medium", deadline=50),
        job(4, "high"), job(5, "medium", deadline=10), job(6, "high", deadline=99),
        job(7, "medium", deadline=10),
    ]
    assert [j.id for j in sorted(jobs, key=queue_key)] == [6, 4, 5, 7, 3, 2, 1]


def test_queue_key_treats_naive_deadline_as_utc():
    naive = QueuedJob(1, Priority.HIGH, datetime(2030, 1, 1, 12), None)
    assert queue_key(naive)[2] == T0


def test_micros_round_trip_exactly():
    moment = T0 + timedelta(microseconds=123457)
    assert from_micros(to_micros(moment)) == moment
    assert to_micros(datetime(2030, 1, 1, 12)) == to_micros(T0)


def test_candidates_follow_queue_order_and_peek_without_taking():
    heap = PendingHeap([job(1, "low"), job(2, "high", deadline=5), job(3, "high")])
    assert heap.candidates(T0, 10) == [2, 3, 1]
    assert heap.candidates(T0, 2) == [2, 3]
    assert len(heap) == 3


def test_waiting_job_does_not_block_eligible_jobs_behind_it():
    heap = PendingHeap([job(1, "high", run_at=60), job(2, "low")])
    assert heap.candidates(T0, 1) == [2]
    assert heap.next_wakeup() == T0 + timedelta(seconds=60)
    assert heap.candidates(T0 + timedelta(seconds=60), 2) == [1, 2]
    assert heap.next_wakeup() is None


def test_run_at_in_the_past_is_eligible():
    heap = PendingHeap([job(1, run_at=-5)])
    assert heap.candidates(T0, 1) == [1]


def test_upsert_rekeys_a_changed_job_and_discard_forgets_it():
    heap = PendingHeap([job(1, "low"), job(2, "medium")])
    heap.upsert(job(1, "high"))
    assert heap.candidates(T0, 2) == [1, 2]
    heap.discard(1)
    assert heap.candidates(T0, 2) == [2]
    assert 1 not in heap and 2 in heap and len(heap) == 1


def test_moving_a_ready_job_to_the_future_makes_it_wait():
    heap = PendingHeap([job(1)])
    heap.candidates(T0, 1)
    heap.upsert(job(1, run_at=30))
    assert heap.candidates(T0, 1) == []
    assert heap.next_wakeup() == T0 + timedelta(seconds=30)


def test_replace_all_resyncs_to_exactly_the_given_jobs():
    heap = PendingHeap([job(1), job(2)])
    heap.replace_all([job(3, "high"), job(2)])
    assert heap.candidates(T0, 5) == [3, 2]
    assert 1 not in heap


def test_stale_entries_are_compacted():
    heap = PendingHeap([job(i) for i in range(10)])
    for round_ in range(200):
        for i in range(10):
            heap.upsert(job(i, deadline=round_))
    held = len(heap._ready) + len(heap._waiting)
    assert held <= 2 * len(heap) + 64
    assert heap.candidates(T0, 3) == [0, 1, 2]


def test_upsert_of_an_unchanged_job_pushes_nothing():
    heap = PendingHeap([job(1, run_at=10)])
    heap.candidates(T0 + timedelta(seconds=20), 1)  # promotes job 1
    before = len(heap._ready) + len(heap._waiting)
    heap.upsert(job(1, run_at=10))
    assert len(heap._ready) + len(heap._waiting) == before


# -- property: the heap agrees with sorting by queue_key -----------------------------------

PRIORITIES = st.sampled_from(list(Priority))
SECONDS = st.none() | st.integers(min_value=-50, max_value=200)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), st.integers(1, 25), PRIORITIES, SECONDS, SECONDS),
        st.tuples(st.just("discard"), st.integers(1, 25)),
        st.tuples(st.just("advance"), st.integers(0, 60)),
        st.tuples(st.just("peek"), st.integers(0, 30)),
        st.tuples(st.just("reconcile"),),
    ),
    max_size=60,
)


def _eligible(model: dict[int, QueuedJob], now: datetime) -> list[int]:
    ready = [j for j in model.values() if j.run_at is None or j.run_at <= now]
    return [j.id for j in sorted(ready, key=queue_key)]


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_heap_candidates_match_sorting_by_queue_key(ops):
    heap, model, now = PendingHeap(), {}, T0
    for op in ops:
        if op[0] == "upsert":
            _, job_id, priority, deadline, run_at = op
            model[job_id] = job(job_id, priority.value, deadline, run_at)
            heap.upsert(model[job_id])
        elif op[0] == "discard":
            model.pop(op[1], None)
            heap.discard(op[1])
        elif op[0] == "advance":
            now += timedelta(seconds=op[1])
        elif op[0] == "reconcile":
            heap.replace_all(list(model.values()))
        else:
            assert heap.candidates(now, op[1]) == _eligible(model, now)[: op[1]]
        assert len(heap) == len(model)
    assert heap.candidates(now, 100) == _eligible(model, now)
    waiting = [j.run_at for j in model.values() if j.run_at is not None and j.run_at > now]
    assert heap.next_wakeup() == (min(waiting) if waiting else None)


def test_aware_non_utc_datetimes_order_by_instant():
    plus_two = timezone(timedelta(hours=2))
    early = QueuedJob(1, Priority.LOW, T0.astimezone(plus_two), None)
    late = QueuedJob(2, Priority.LOW, T0 + timedelta(seconds=1), None)
    heap = PendingHeap([late, early])
    assert heap.candidates(T0, 2) == [1, 2]
