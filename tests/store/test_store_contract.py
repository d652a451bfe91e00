"""The JobStore contract, run on every store: in memory, SQLite and PostgreSQL.

Times are checked against the store's own clock (`store.now()`): exact on the fake clock of
memory and SQLite, bracketed by two readings of now() on PostgreSQL.
"""
from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from jobsched.scheduler.ordering import queue_key
from jobsched.scheduler.states import ExecutionStatus, JobStatus, Priority
from jobsched.scheduler.store import ClaimedJob, NodeConflict, NodeInfo, Outcome, QueuedJob

HIGH, MEDIUM, LOW = Priority.HIGH, Priority.MEDIUM, Priority.LOW
COMPLETED = Outcome(ExecutionStatus.COMPLETED, result={"ok": True}, output="done\n")
BIG_LIMIT = 1000


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def bracket(harness: Any, action: Callable[[], Any]) -> tuple[datetime, Any, datetime]:
    """Store time before and after `action`: what the store stamped lies in between."""
    before = harness.store.now()
    result = action()
    return before, result, harness.store.now()


def claim(harness: Any, job_id: int, node: str = "n1", lease: int = 30) -> ClaimedJob:
    claimed = harness.store.claim([job_id], node, 1, BIG_LIMIT, lease)
    assert [c.id for c in claimed] == [job_id]
    return claimed[0]


def failed(delay: float = 0.0, status: ExecutionStatus = ExecutionStatus.FAILED) -> Outcome:
    return Outcome(status, error="boom", output="trying\n", retry_delay=delay)


# -- claim ------------------------------------------------------------------------------------


def test_claims_follow_the_queue_order(harness):
    base = harness.store.now() + timedelta(days=1)
    specs = [(LOW, None), (HIGH, base + seconds(60)), (MEDIUM, base), (HIGH, None),
             (HIGH, base + seconds(30)), (MEDIUM, None), (LOW, base), (HIGH, base + seconds(30))]
    ids = [harness.add(priority=p, deadline=d) for p, d in specs]
    expected = sorted(ids, key=lambda i: queue_key(QueuedJob(i, *specs[ids.index(i)], None)))
    candidates = random.Random(7).sample(ids, len(ids))

    order = [harness.store.claim(candidates, "n1", 1, BIG_LIMIT, 30)[0].id for _ in ids]

    assert order == expected
    assert harness.store.claim(candidates, "n1", 1, BIG_LIMIT, 30) == []


def test_one_claim_of_many_returns_them_in_queue_order(harness):
    ids = [harness.add(priority=p) for p in (LOW, MEDIUM, HIGH, MEDIUM)]
    claimed = harness.store.claim(list(reversed(ids)), "n1", 3, BIG_LIMIT, 30)
    assert [c.id for c in claimed] == [ids[2], ids[1], ids[3]]


def test_a_claim_starts_an_attempt_with_a_lease_and_an_execution(harness):
    job_id = harness.add(task="echo", args={"message": "hi"}, max_attempts=4,
                         timeout_seconds=60)
    before, claimed, after = bracket(harness, lambda: harness.store.claim(
        [job_id], "n1", 1, BIG_LIMIT, 30))
    [c] = claimed
    assert (c.task, c.args, c.attempt, c.max_attempts, c.timeout_seconds, c.node) == (
        "echo", {"message": "hi"}, 1, 4, 60, "n1")
    assert before <= c.started_at <= after and c.lease_token
    job = harness.job(job_id)
    assert (job.status, job.attempts, job.node, job.lease_token) == (
        JobStatus.RUNNING, 1, "n1", c.lease_token)
    assert before + seconds(30) <= job.lease_expires_at <= after + seconds(30)
    [execution] = harness.executions(job_id)
    assert (execution.id, execution.status, execution.attempt, execution.node) == (
        c.execution_id, ExecutionStatus.RUNNING, 1, "n1")
    assert harness.store.running_count() == 1


def test_each_claim_gets_its_own_lease_token(harness):
    ids = [harness.add() for _ in range(3)]
    claimed = harness.store.claim(ids, "n1", 3, BIG_LIMIT, 30)
    assert len({c.lease_token for c in claimed}) == 3
    assert len({c.execution_id for c in claimed}) == 3


def test_claim_never_exceeds_the_global_limit(harness):
    ids = [harness.add() for _ in range(6)]
    assert len(harness.store.claim(ids[:2], "n1", 5, 3, 30)) == 2
    assert [c.id for c in harness.store.claim(ids, "n2", 5, 3, 30)] == [ids[2]]
    assert harness.store.claim(ids, "n3", 5, 3, 30) == []
    assert harness.store.running_count() == 3


def test_claim_with_no_room_or_no_candidates_takes_nothing(harness):
    job_id = harness.add()
    assert harness.store.claim([job_id], "n1", 0, 3, 30) == []
    assert harness.store.claim([job_id], "n1", 1, 0, 30) == []
    assert harness.store.claim([], "n1", 1, 3, 30) == []
    assert harness.job(job_id).status is JobStatus.PENDING


def test_stale_candidates_are_not_claimed(harness):
    now = harness.store.now()
    cancelled, later, deleted, demoted, finished, fine = (harness.add() for _ in range(6))
    harness.cancel(cancelled)
    harness.update(later, run_at=now + timedelta(hours=1))
    harness.delete(deleted)
    harness.update(demoted, priority="low")
    harness.store.finish(claim(harness, finished), COMPLETED)

    candidates = [cancelled, later, deleted, demoted, finished, fine]
    assert [c.id for c in harness.store.claim(candidates, "n1", 1, BIG_LIMIT, 30)] == [fine]
    assert [c.id for c in harness.store.claim(candidates, "n1", 9, BIG_LIMIT, 30)] == [demoted]
    assert harness.job(later).status is JobStatus.PENDING


def test_a_job_whose_run_at_has_come_is_claimed(harness):
    now = harness.store.now()
    due = harness.add(run_at=now - seconds(1))
    assert [c.id for c in harness.store.claim([due], "n1", 1, BIG_LIMIT, 30)] == [due]


def test_concurrent_claimers_never_exceed_the_limit_and_claim_each_job_once(harness):
    limit, threads, jobs_total = 4, 6, 26
    ids = [harness.add(priority=random.choice(list(Priority))) for _ in range(jobs_total)]
    stores = [harness.other_store() for _ in range(threads)]
    done: list[ClaimedJob] = []
    while len(done) < jobs_total:
        claimed = _race(stores, ids, limit)
        assert len(claimed) == min(limit, jobs_total - len(done))
        assert harness.store.running_count() == len(claimed)
        for c in claimed:
            assert harness.store.finish(c, COMPLETED) is not None
        done.extend(claimed)
    assert sorted(c.id for c in done) == sorted(ids)
    assert all(len(harness.executions(i)) == 1 for i in ids)


def _race(stores: list[Any], ids: list[int], limit: int) -> list[ClaimedJob]:
    """Every store claims at once, a few times each; returns all that was claimed."""
    start = threading.Barrier(len(stores))
    results: list[list[ClaimedJob]] = [[] for _ in stores]
    errors: list[BaseException] = []

    def hammer(index: int) -> None:
        try:
            start.wait()
            for _ in range(4):
                picked = random.sample(ids, len(ids))
                results[index].extend(stores[index].claim(picked, f"n{index}", 3, limit, 30))
        except BaseException as error:  # surfaced below, in the test's thread
            errors.append(error)

    workers = [threading.Thread(target=hammer, args=(i,)) for i in range(len(stores))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert not errors, errors
    return [c for result in results for c in result]


# -- queue reads ---------------------------------------------------------------------------


def test_pending_lists_every_pending_job_including_those_waiting(harness):
    now = harness.store.now()
    waiting = harness.add(priority=HIGH, run_at=now + timedelta(hours=1))
    ready = harness.add(priority=LOW, deadline=now + timedelta(days=1))
    running = harness.add()
    claim(harness, running)
    found = {q.id: q for q in harness.store.pending()}
    assert set(found) == {waiting, ready}
    assert found[waiting].run_at == now + timedelta(hours=1)
    assert (found[ready].priority, found[ready].deadline) == (LOW, now + timedelta(days=1))


def test_fetch_queued_leaves_out_jobs_that_are_not_pending(harness):
    pending, cancelled, running, deleted = (harness.add() for _ in range(4))
    harness.cancel(cancelled)
    claim(harness, running)
    harness.delete(deleted)
    found = harness.store.fetch_queued([pending, cancelled, running, deleted, 999_999])
    assert [q.id for q in found] == [pending]
    assert harness.store.fetch_queued([]) == []


# -- finishing an attempt --------------------------------------------------------------------


def test_a_completed_attempt_completes_the_job(harness):
    job_id = harness.add()
    c = claim(harness, job_id)
    before, finished, after = bracket(harness, lambda: harness.store.finish(c, COMPLETED))
    assert (finished.job_id, finished.status) == (job_id, JobStatus.COMPLETED)
    job = harness.job(job_id)
    assert (job.status, job.result, job.error) == (JobStatus.COMPLETED, {"ok": True}, None)
    assert before <= job.finished_at <= after
    assert (job.lease_token, job.lease_expires_at, job.node) == (None, None, None)
    [execution] = harness.executions(job_id)
    assert (execution.status, execution.output) == (ExecutionStatus.COMPLETED, "done\n")
    assert before <= execution.finished_at <= after and execution.duration_seconds >= 0
    assert harness.store.lost_leases([c.lease_token]) == {c.lease_token}
    assert harness.store.running_count() == 0


def test_the_final_write_records_the_task_s_last_progress(harness):
    job_id = harness.add()
    c = claim(harness, job_id)
    assert harness.store.report(c, 40, None)
    harness.store.finish(c, replace(COMPLETED, progress=100))
    assert harness.job(job_id).progress == 100
    other = claim(harness, harness.add())
    assert harness.store.report(other, 40, None)
    harness.store.finish(other, COMPLETED)  # the task never reported: keep what is there
    assert harness.job(other.id).progress == 40


def test_a_failed_attempt_with_attempts_left_requeues_after_the_retry_delay(harness):
    job_id = harness.add(max_attempts=2)
    c = claim(harness, job_id)
    before, finished, after = bracket(harness, lambda: harness.store.finish(c, failed(90)))
    assert finished.status is JobStatus.PENDING
    job = harness.job(job_id)
    assert (job.status, job.error, job.attempts, job.finished_at) == (
        JobStatus.PENDING, "boom", 1, None)
    assert before + seconds(90) <= job.run_at <= after + seconds(90)
    [execution] = harness.executions(job_id)
    assert (execution.status, execution.error) == (ExecutionStatus.FAILED, "boom")
    assert harness.store.claim([job_id], "n1", 1, BIG_LIMIT, 30) == []  # backing off


def test_the_next_attempt_after_a_retry_is_numbered_on(harness):
    job_id = harness.add(max_attempts=3)
    harness.store.finish(claim(harness, job_id), failed(0))
    second = claim(harness, job_id)
    assert second.attempt == 2
    assert [e.attempt for e in harness.executions(job_id)] == [1, 2]


def test_a_failed_last_attempt_fails_the_job(harness):
    job_id = harness.add(max_attempts=1)
    c = claim(harness, job_id)
    finished = harness.store.finish(c, failed(5))
    assert finished.status is JobStatus.FAILED
    job = harness.job(job_id)
    assert (job.status, job.error) == (JobStatus.FAILED, "boom")
    assert job.finished_at is not None


def test_a_timed_out_attempt_retries_or_fails_like_a_failure(harness):
    job_id = harness.add(max_attempts=2)
    harness.store.finish(claim(harness, job_id), failed(0, ExecutionStatus.TIMED_OUT))
    assert harness.job(job_id).status is JobStatus.PENDING
    harness.store.finish(claim(harness, job_id), failed(0, ExecutionStatus.TIMED_OUT))
    assert harness.job(job_id).status is JobStatus.FAILED
    statuses = [e.status for e in harness.executions(job_id)]
    assert statuses == [ExecutionStatus.TIMED_OUT, ExecutionStatus.TIMED_OUT]


def test_a_cancelled_outcome_under_a_held_lease_cancels_the_job(harness):
    job_id = harness.add()
    c = claim(harness, job_id)
    finished = harness.store.finish(c, Outcome(ExecutionStatus.CANCELLED, error="cancelled"))
    assert finished.status is JobStatus.CANCELLED
    assert harness.job(job_id).status is JobStatus.CANCELLED
    assert harness.executions(job_id)[0].status is ExecutionStatus.CANCELLED


@pytest.mark.parametrize("when", ["before", "after"], ids=["early", "late"])
def test_deadline_missed_is_set_when_the_job_ends_after_its_deadline(harness, when):
    now = harness.store.now()
    offset = timedelta(hours=1) if when == "before" else -timedelta(hours=1)
    with_deadline = harness.add(deadline=now + offset)
    without = harness.add()
    for job_id in (with_deadline, without):
        harness.store.finish(claim(harness, job_id), COMPLETED)
    assert harness.job(with_deadline).deadline_missed is (when == "after")
    assert harness.job(without).deadline_missed is False


def test_a_failed_job_past_its_deadline_missed_it(harness):
    job_id = harness.add(max_attempts=1, deadline=harness.store.now() - seconds(1))
    harness.store.finish(claim(harness, job_id), failed())
    assert harness.job(job_id).deadline_missed is True


# -- fencing ----------------------------------------------------------------------------------


def test_a_stale_worker_after_a_rescue_can_change_nothing(harness):
    job_id = harness.add(max_attempts=3)
    stale = claim(harness, job_id, node="n1")
    harness.expire_leases()
    harness.store.rescue_expired(lambda attempt: 0.0)
    fresh = claim(harness, job_id, node="n2")

    assert harness.store.finish(stale, COMPLETED) is None
    assert harness.store.finish(stale, failed()) is None
    assert harness.store.hand_back(stale) is None
    assert harness.store.renew(stale, 300) is False
    assert harness.store.report(stale, 99, "stale output") is False

    job = harness.job(job_id)
    assert (job.status, job.lease_token, job.node, job.attempts) == (
        JobStatus.RUNNING, fresh.lease_token, "n2", 2)
    assert job.progress is None and job.result is None
    first, second = harness.executions(job_id)
    assert (first.status, second.status) == (ExecutionStatus.LOST, ExecutionStatus.RUNNING)
    assert "stale output" not in (first.output, second.output)
    assert harness.store.lost_leases([stale.lease_token, fresh.lease_token]) == {
        stale.lease_token}


def test_the_attempt_of_a_cancelled_job_cannot_complete_it(harness):
    job_id = harness.add()
    c = claim(harness, job_id)
    harness.cancel(job_id)
    assert harness.store.lost_leases([c.lease_token]) == {c.lease_token}
    assert harness.store.finish(c, COMPLETED) is None
    assert harness.store.finish(c, Outcome(ExecutionStatus.CANCELLED)) is None
    assert harness.store.renew(c, 30) is False
    job = harness.job(job_id)
    assert (job.status, job.result) == (JobStatus.CANCELLED, None)
    assert harness.executions(job_id)[0].status is ExecutionStatus.CANCELLED


def test_the_attempt_of_a_deleted_job_has_nothing_to_write(harness):
    job_id = harness.add()
    c = claim(harness, job_id)
    harness.delete(job_id)
    assert harness.store.finish(c, COMPLETED) is None
    assert harness.store.hand_back(c) is None
    assert harness.store.report(c, 10, "x") is False
    assert harness.store.lost_leases([c.lease_token]) == {c.lease_token}
    assert harness.store.running_count() == 0


# -- leases -----------------------------------------------------------------------------------


def test_heartbeat_extends_the_leases_the_node_holds_from_the_store_clock(harness):
    info = NodeInfo("n1", "host", 1, 3)
    harness.store.register_node(info, 30)
    mine = [claim(harness, harness.add(), node="n1") for _ in range(2)]
    given_up = claim(harness, harness.add(), node="n1")  # a final write the node gave up on
    other = claim(harness, harness.add(), node="n2")
    untouched = {c.id: harness.job(c.id).lease_expires_at for c in (given_up, other)}
    if harness.clock is not None:
        harness.clock.advance(10)

    tokens = {c.lease_token for c in mine} | {other.lease_token}  # n2's token is not n1's
    before, _, after = bracket(harness, lambda: harness.store.heartbeat("n1", 120, tokens))

    for c in mine:
        assert before + seconds(120) <= harness.job(c.id).lease_expires_at <= after + seconds(120)
    assert {c.id: harness.job(c.id).lease_expires_at for c in (given_up, other)} == untouched
    node = harness.node("n1")
    assert before <= node.heartbeat_at <= after
    assert before + seconds(120) <= node.lease_expires_at <= after + seconds(120)


def test_renew_extends_one_lease(harness):
    c = claim(harness, harness.add())
    if harness.clock is not None:
        harness.clock.advance(20)
    before, renewed, after = bracket(harness, lambda: harness.store.renew(c, 45))
    assert renewed is True
    assert before + seconds(45) <= harness.job(c.id).lease_expires_at <= after + seconds(45)


def test_report_records_progress_and_output(harness):
    job_id = harness.add()
    c = claim(harness, job_id)
    assert harness.store.report(c, 40, "line 1\n") is True
    assert harness.store.report(c, None, "line 1\nline 2\n") is True
    assert harness.store.report(c, 150, None) is True
    assert harness.job(job_id).progress == 100
    assert harness.executions(job_id)[0].output == "line 1\nline 2\n"


def test_lost_leases_names_the_tokens_that_no_longer_hold(harness):
    held, done, gone = (claim(harness, harness.add()) for _ in range(3))
    harness.store.finish(done, COMPLETED)
    harness.delete(gone.id)
    tokens = [held.lease_token, done.lease_token, gone.lease_token, "never-issued"]
    assert harness.store.lost_leases(tokens) == {done.lease_token, gone.lease_token,
                                                 "never-issued"}
    assert harness.store.lost_leases([]) == set()


# -- rescue -----------------------------------------------------------------------------------


def test_rescue_marks_the_execution_lost_and_requeues_with_backoff(harness):
    job_id = harness.add(max_attempts=3)
    c = claim(harness, job_id, node="crashed")
    harness.expire_leases()

    before, rescued, after = bracket(
        harness, lambda: harness.store.rescue_expired(lambda attempt: 7.0 * attempt))

    assert [(f.job_id, f.status) for f in rescued] == [(job_id, JobStatus.PENDING)]
    job = harness.job(job_id)
    assert (job.status, job.attempts, job.lease_token) == (JobStatus.PENDING, 1, None)
    assert before + seconds(7) <= job.run_at <= after + seconds(7)
    assert "crashed" in job.error
    [execution] = harness.executions(job_id)
    assert execution.status is ExecutionStatus.LOST and "crashed" in execution.error
    assert before <= execution.finished_at <= after
    assert harness.store.lost_leases([c.lease_token]) == {c.lease_token}
    assert harness.store.rescue_expired(lambda attempt: 0.0) == []


def test_rescue_fails_a_job_whose_attempts_are_used_up(harness):
    job_id = harness.add(max_attempts=1, deadline=harness.store.now() - seconds(1))
    claim(harness, job_id)
    harness.expire_leases()
    [rescued] = harness.store.rescue_expired(lambda attempt: 0.0)
    assert rescued.status is JobStatus.FAILED
    job = harness.job(job_id)
    assert job.status is JobStatus.FAILED and job.finished_at is not None
    assert job.deadline_missed is True
    assert harness.executions(job_id)[0].status is ExecutionStatus.LOST


def test_rescue_leaves_live_leases_alone(harness):
    c = claim(harness, harness.add())
    assert harness.store.rescue_expired(lambda attempt: 0.0) == []
    assert harness.job(c.id).status is JobStatus.RUNNING
    assert harness.store.renew(c, 30) is True


def test_rescue_takes_every_expired_job_at_once(harness):
    claims = [claim(harness, harness.add(max_attempts=m)) for m in (1, 2, 3)]
    harness.expire_leases()
    rescued = harness.store.rescue_expired(lambda attempt: 0.0)
    statuses = {f.job_id: f.status for f in rescued}
    assert statuses == {claims[0].id: JobStatus.FAILED, claims[1].id: JobStatus.PENDING,
                        claims[2].id: JobStatus.PENDING}
    assert harness.store.running_count() == 0


# -- hand back ------------------------------------------------------------------------------


def test_hand_back_requeues_the_job_and_the_attempt_does_not_count(harness):
    job_id = harness.add(max_attempts=1)
    c = claim(harness, job_id, node="leaving")
    finished = harness.store.hand_back(c)
    assert (finished.job_id, finished.status) == (job_id, JobStatus.PENDING)
    job = harness.job(job_id)
    assert (job.status, job.attempts, job.lease_token) == (JobStatus.PENDING, 0, None)
    [execution] = harness.executions(job_id)
    assert execution.status is ExecutionStatus.LOST and "leaving" in execution.error
    again = claim(harness, job_id)  # eligible at once, and still has its one attempt
    assert again.attempt == 1
    assert harness.store.hand_back(c) is None


# -- nodes ------------------------------------------------------------------------------------


def test_register_and_stop_a_node(harness):
    before, _, after = bracket(
        harness, lambda: harness.store.register_node(NodeInfo("n1", "host", 42, 3), 30))
    node = harness.node("n1")
    assert node.status == "running" and before <= node.heartbeat_at <= after
    assert before + seconds(30) <= node.lease_expires_at <= after + seconds(30)
    harness.store.stop_node("n1")
    node = harness.node("n1")
    assert node.status == "stopped" and node.stopped_at is not None
    harness.store.register_node(NodeInfo("n1", "host", 43, 3), 30)  # revived
    assert harness.node("n1").status == "running"


def test_a_store_shared_by_many_schedulers_accepts_many_nodes(shared_harness):
    shared_harness.store.register_node(NodeInfo("n1", "a", 1, 3), 30)
    shared_harness.store.register_node(NodeInfo("n2", "b", 2, 3), 30)
    assert shared_harness.node("n1").status == shared_harness.node("n2").status == "running"


def test_a_single_scheduler_store_refuses_a_second_live_node(exclusive_harness):
    store = exclusive_harness.store
    store.register_node(NodeInfo("first", "host", 1, 3), 30)
    with pytest.raises(NodeConflict) as refused:
        store.register_node(NodeInfo("second", "host", 2, 3), 30)
    if exclusive_harness.name == "sqlite":
        assert str(refused.value) == (
            "SQLite allows one scheduler; node first is running — stop it or use PostgreSQL")
    assert exclusive_harness.node("second") is None
    store.register_node(NodeInfo("first", "host", 3, 3), 30)  # the same node may come back


def test_a_single_scheduler_store_accepts_a_node_once_the_other_is_gone(exclusive_harness):
    store, clock = exclusive_harness.store, exclusive_harness.clock
    store.register_node(NodeInfo("stopped", "host", 1, 3), 30)
    store.stop_node("stopped")
    store.register_node(NodeInfo("crashed", "host", 2, 3), 30)
    clock.advance(31)  # its lease ran out: it stopped heartbeating
    store.register_node(NodeInfo("next", "host", 3, 3), 30)
    assert exclusive_harness.node("next").status == "running"
