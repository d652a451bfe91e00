"""MeteredStore records the per-process series around a real store (in memory here)."""
from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from jobsched.metrics.metered import MeteredStore
from jobsched.metrics.process import SchedulerMetrics
from jobsched.scheduler.states import ExecutionStatus
from jobsched.scheduler.store import NodeInfo, Outcome
from tests.helpers import T0, FakeClock
from tests.memory import MemoryStore


class Ticks:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def inner(clock) -> MemoryStore:
    return MemoryStore(clock)


@pytest.fixture
def store(inner, registry, ticks) -> MeteredStore:
    metered = MeteredStore(inner, SchedulerMetrics(registry), monotonic=ticks)
    metered.register_node(NodeInfo("n1", "host", 1, 3), 30)
    return metered


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def claim_one(store: MeteredStore, job_id: int):
    [claim] = store.claim([job_id], "n1", 1, 3, 30)
    return claim


def test_a_claim_records_its_latency_and_how_long_the_job_waited(inner, store, clock,
                                                                  registry):
    job = inner.add(task="echo", run_at=T0.replace(second=5))  # eligible from T0 + 5 s
    clock.advance(65)
    claim_one(store, job.id)
    assert sample(registry, "jobsched_claim_duration_seconds_count", node="n1") == 1
    assert sample(registry, "jobsched_queue_wait_seconds_sum", node="n1") == 60
    # 60 s falls in the 60 s bucket, not below it.
    assert sample(registry, "jobsched_queue_wait_seconds_bucket", node="n1", le="30.0") == 0
    assert sample(registry, "jobsched_queue_wait_seconds_bucket", node="n1", le="60.0") == 1


def test_an_ended_attempt_counts_by_outcome_with_its_duration_by_task(inner, store, registry,
                                                                      ticks):
    claim = claim_one(store, inner.add(task="echo").id)
    ticks.now += 2.5
    assert store.finish(claim, Outcome(ExecutionStatus.FAILED, error="boom")) is not None
    assert sample(registry, "jobsched_executions_ended_total", node="n1", outcome="failed") == 1
    assert sample(registry, "jobsched_job_duration_seconds_sum", node="n1", task="echo",
                  outcome="failed") == 2.5


def test_an_attempt_whose_lease_was_lost_is_not_counted_here(inner, store, registry):
    job = inner.add(task="sleep")
    claim = claim_one(store, job.id)
    inner.cancel(job.id)  # the user's cancel recorded the attempt's end
    assert store.finish(claim, Outcome(ExecutionStatus.CANCELLED)) is None
    assert sample(registry, "jobsched_executions_ended_total", node="n1",
                  outcome="cancelled") is None


def test_a_hand_back_counts_as_lost(inner, store, registry):
    claim = claim_one(store, inner.add().id)
    assert store.hand_back(claim) is not None
    assert sample(registry, "jobsched_executions_ended_total", node="n1", outcome="lost") == 1


def test_rescues_are_counted_under_the_registered_node(inner, store, registry, clock):
    for _ in range(2):  # another node's claims, made straight on the store
        inner.claim([inner.add().id], "dead-node", 1, 3, 30)
    inner.expire_leases("dead-node")
    assert len(store.rescue_expired(lambda attempt: 1.0)) == 2
    assert sample(registry, "jobsched_rescues_total", node="n1") == 2


def test_other_calls_go_to_the_wrapped_store(inner, store):
    inner.add()
    assert [job.id for job in store.pending()] == [1]
    assert store.running_count() == 0
    with pytest.raises(AttributeError):
        store._not_delegated  # noqa: B018


def test_the_per_user_cap_and_held_jobs_pass_through(inner, store):
    first, second = inner.add(owner_id=7), inner.add(owner_id=7)
    claimed = store.claim([first.id, second.id], "n1", 2, 3, 30, 1)
    assert [c.id for c in claimed] == [first.id] and set(claimed.held) == {second.id}
