"""InMemoryJobStore (through MemoryStore) honours the JobStore docstrings (the shared contract
suite runs too)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jobsched.scheduler.states import ExecutionStatus, InvalidTransition, JobStatus
from jobsched.scheduler.store import Finished, NodeConflict, NodeInfo, Outcome
from tests.helpers import T0
from tests.memory import MemoryStore

DONE = Outcome(ExecutionStatus.COMPLETED, result={"ok": True}, output="out\n")


def test_claim_takes_eligible_candidates_in_queue_order_within_limits(store):
    low = store.add(priority="low")
    high = store.add(priority="high")
    later = store.add(priority="high", run_at=T0 + timedelta(seconds=1))
    claims = store.claim([low.id, high.id, later.id], "n", max_claims=5, limit=5,
                         lease_seconds=30)
    assert [c.id for c in claims] == [high.id, low.id]
    claim = claims[0]
    assert (claim.attempt, claim.node, claim.started_at) == (1, "n", T0)
    assert store.get(high.id).lease_expires_at == T0 + timedelta(seconds=30)
    assert store.get(high.id).executions[0].status is ExecutionStatus.RUNNING


def test_claim_respects_max_claims_and_the_system_wide_limit(store):
    jobs = [store.add() for _ in range(5)]
    ids = [j.id for j in jobs]
    assert len(store.claim(ids, "a", max_claims=1, limit=3, lease_seconds=30)) == 1
    assert len(store.claim(ids, "b", max_claims=5, limit=3, lease_seconds=30)) == 2
    assert store.claim(ids, "c", max_claims=5, limit=3, lease_seconds=30) == []
    assert store.running_count() == 3


def test_a_job_is_claimed_once(store):
    job = store.add()
    assert len(store.claim([job.id], "a", 1, 3, 30)) == 1
    assert store.claim([job.id], "b", 1, 3, 30) == []


def test_finish_completes_and_fences_on_the_lease(store, clock):
    job = store.add(deadline=T0 + timedelta(seconds=1))
    claim = store.claim([job.id], "n", 1, 3, 30)[0]
    clock.advance(2)
    assert store.finish(claim, DONE) == Finished(job.id, 1, JobStatus.COMPLETED)
    record = store.get(job.id)
    assert record.result == {"ok": True} and record.deadline_missed
    assert record.finished_at == T0 + timedelta(seconds=2) and record.lease_token is None
    execution = record.executions[0]
    assert (execution.status, execution.output, execution.duration_seconds) == (
        ExecutionStatus.COMPLETED, "out\n", 2.0)
    assert store.finish(claim, DONE) is None  # a second write finds the lease gone


def test_failure_retries_after_the_delay_then_fails(store, clock):
    job = store.add(max_attempts=2)
    failed = Outcome(ExecutionStatus.FAILED, error="boom", retry_delay=7)
    claim = store.claim([job.id], "n", 1, 3, 30)[0]
    assert store.finish(claim, failed).status is JobStatus.PENDING
    assert store.get(job.id).run_at == T0 + timedelta(seconds=7)
    assert store.claim([job.id], "n", 1, 3, 30) == []  # not eligible yet
    clock.advance(7)
    claim = store.claim([job.id], "n", 1, 3, 30)[0]
    assert claim.attempt == 2
    timed_out = Outcome(ExecutionStatus.TIMED_OUT, error="timed out after 5 s")
    assert store.finish(claim, timed_out).status is JobStatus.FAILED
    record = store.get(job.id)
    assert record.error == "timed out after 5 s"
    assert [e.status.value for e in record.executions] == ["failed", "timed_out"]


def test_user_cancel_ends_the_lease_and_the_execution(store):
    job = store.add()
    claim = store.claim([job.id], "n", 1, 3, 30)[0]
    store.cancel(job.id)
    assert store.lost_leases([claim.lease_token, "other"]) == {claim.lease_token, "other"}
    assert store.report(claim, 50, "x") is False
    assert store.finish(claim, DONE) is None
    record = store.get(job.id)
    assert record.status is JobStatus.CANCELLED
    assert record.executions[0].status is ExecutionStatus.CANCELLED
    with pytest.raises(InvalidTransition):
        store.cancel(job.id)


def test_cancelled_outcome_with_the_lease_held_cancels_the_job(store):
    job = store.add()
    claim = store.claim([job.id], "n", 1, 3, 30)[0]
    outcome = Outcome(ExecutionStatus.CANCELLED, error="cancelled")
    assert store.finish(claim, outcome).status is JobStatus.CANCELLED


def test_report_heartbeat_and_renew(store, clock):
    job = store.add()
    claim = store.claim([job.id], "n", 1, 3, 30)[0]
    assert store.lost_leases([claim.lease_token]) == set()
    assert store.report(claim, 150, "so far")
    assert store.get(job.id).progress == 100
    assert store.get(job.id).executions[0].output == "so far"
    clock.advance(20)
    store.heartbeat("n", 30, {claim.lease_token})
    assert store.get(job.id).lease_expires_at == clock() + timedelta(seconds=30)
    clock.advance(20)
    assert store.renew(claim, 60)
    assert store.get(job.id).lease_expires_at == clock() + timedelta(seconds=60)


def test_hand_back_does_not_count_the_attempt(store):
    job = store.add()
    claim = store.claim([job.id], "n", 1, 3, 30)[0]
    assert store.hand_back(claim).status is JobStatus.PENDING
    record = store.get(job.id)
    assert record.attempts == 0 and record.executions[0].status is ExecutionStatus.LOST
    assert store.hand_back(claim) is None


def test_rescue_takes_only_expired_leases(store, clock):
    fresh, stale = store.add(), store.add(max_attempts=1)
    store.claim([stale.id], "dead", 1, 3, 10)
    store.claim([fresh.id], "live", 1, 3, 30)
    clock.advance(10)
    assert store.rescue_expired(lambda n: 1) == [Finished(stale.id, 1, JobStatus.FAILED)]
    assert store.get(fresh.id).status is JobStatus.RUNNING


def test_pending_fetch_update_retry_delete(store):
    job = store.add(name="a")
    assert [q.id for q in store.pending()] == [job.id]
    assert store.update(job.id, priority="high").priority.value == "high"
    assert store.fetch_queued([job.id, 999]) == [store.get(job.id).queued()]
    store.cancel(job.id)
    assert store.fetch_queued([job.id]) == []
    store.retry(job.id)
    assert store.get(job.id).status is JobStatus.PENDING and store.get(job.id).attempts == 0
    claim = store.claim([job.id], "n", 1, 3, 30)[0]
    store.delete(job.id)
    assert store.lost_leases([claim.lease_token]) == {claim.lease_token}
    with pytest.raises(KeyError):
        store.get(job.id)
    with pytest.raises(AttributeError):
        store.update(store.add().id, colour="red")


def test_nodes_register_stop_and_conflict(clock):
    store = MemoryStore(clock, exclusive=True)
    store.register_node(NodeInfo("a", "host", 1, 3), 30)
    store.register_node(NodeInfo("a", "host", 1, 3), 30)  # reviving oneself is fine
    with pytest.raises(NodeConflict):
        store.register_node(NodeInfo("b", "host", 2, 3), 30)
    store.stop_node("a")
    assert store.node("a").status == "stopped"
    store.register_node(NodeInfo("b", "host", 2, 3), 30)
    assert store.node("b").status == "running"
