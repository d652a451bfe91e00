"""What SqlJobStore does beyond the shared contract (SQLite and PostgreSQL)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, select

from jobsched.scheduler.states import ExecutionStatus, JobStatus
from jobsched.scheduler.store import NodeInfo, Outcome
from jobsched.storage.group_commit import BatchFailed
from jobsched.storage.store import OUTPUT_LIMIT_BYTES, SqlJobStore, jobs, tail_output
from tests.helpers import T0, FakeClock
from tests.store.test_store_contract import BIG_LIMIT, COMPLETED, claim


def test_a_cancelled_outcome_closes_an_execution_the_cancel_left_open(sql_harness):
    job_id = sql_harness.add()
    c = claim(sql_harness, job_id)
    sql_harness.cancel(job_id, close_execution=False)  # a cancel that only moved the job
    outcome = Outcome(ExecutionStatus.CANCELLED, error="cancelled", output="partial\n")
    assert sql_harness.store.finish(c, outcome) is None
    [execution] = sql_harness.executions(job_id)
    assert (execution.status, execution.output) == (ExecutionStatus.CANCELLED, "partial\n")
    assert execution.finished_at is not None
    assert sql_harness.job(job_id).status is JobStatus.CANCELLED


def test_a_cancelled_outcome_never_closes_a_newer_attempt(sql_harness):
    job_id = sql_harness.add()
    old = claim(sql_harness, job_id)
    sql_harness.cancel(job_id, close_execution=False)
    sql_harness.update(job_id, status="pending")  # retried and claimed again
    new = claim(sql_harness, job_id)
    sql_harness.store.finish(old, Outcome(ExecutionStatus.CANCELLED))
    first, second = sql_harness.executions(job_id)
    assert (first.status, second.status) == (ExecutionStatus.CANCELLED,
                                             ExecutionStatus.RUNNING)
    assert sql_harness.store.finish(new, COMPLETED).status is JobStatus.COMPLETED


@pytest.mark.parametrize("status", [ExecutionStatus.RUNNING, ExecutionStatus.LOST])
def test_an_attempt_cannot_finish_as_running_or_lost(sql_harness, status):
    c = claim(sql_harness, sql_harness.add())
    with pytest.raises(ValueError, match=status.value):
        sql_harness.store.finish(c, Outcome(status))
    assert sql_harness.job(c.id).status is JobStatus.RUNNING


def test_output_keeps_the_last_64_kib(sql_harness):
    job_id = sql_harness.add()
    c = claim(sql_harness, job_id)
    long = "é" + "x" * OUTPUT_LIMIT_BYTES + "end\n"
    sql_harness.store.report(c, None, long)
    assert sql_harness.executions(job_id)[0].output == long[-OUTPUT_LIMIT_BYTES:]
    sql_harness.store.finish(c, Outcome(ExecutionStatus.COMPLETED, output=long))
    assert sql_harness.executions(job_id)[0].output.endswith("end\n")


def test_tail_output_cuts_on_a_character_boundary():
    text = "ab" + "€" * OUTPUT_LIMIT_BYTES
    kept = tail_output(text)
    assert len(kept.encode()) <= OUTPUT_LIMIT_BYTES and set(kept) == {"€"}
    assert tail_output("short") == "short"


def test_a_restarted_node_of_the_same_name_lets_its_old_jobs_be_rescued(sql_harness):
    """Jobs of a crashed process must not be kept alive by its successor's heartbeat."""
    sql_harness.store.register_node(NodeInfo("worker-1", "host", 100, 3), 30)
    orphan = claim(sql_harness, sql_harness.add(), node="worker-1")
    if sql_harness.clock is not None:
        sql_harness.clock.advance(1)
    successor = sql_harness.other_store()  # a new process with the same --node name
    successor.register_node(NodeInfo("worker-1", "host", 200, 3), 30)
    own = successor.claim([sql_harness.add()], "worker-1", 1, 10, 30)[0]
    successor.heartbeat("worker-1", 30, {own.lease_token})
    [rescued] = successor.rescue_expired(lambda attempt: 0.0)
    assert (rescued.job_id, rescued.status) == (orphan.id, JobStatus.PENDING)
    assert sql_harness.job(own.id).status is JobStatus.RUNNING
    assert sql_harness.node("worker-1").pid == 200


def test_a_node_registering_again_after_an_outage_keeps_its_jobs(sql_harness):
    store = sql_harness.store
    store.register_node(NodeInfo("worker-1", "host", 100, 3), 30)
    c = claim(sql_harness, sql_harness.add(), node="worker-1")
    if sql_harness.clock is not None:
        sql_harness.clock.advance(5)
    store.register_node(NodeInfo("worker-1", "host", 100, 3), 30)  # resync, same process
    store.heartbeat("worker-1", 30, {c.lease_token})
    assert store.rescue_expired(lambda attempt: 0.0) == []
    assert store.renew(c, 30) is True


def test_heartbeat_and_renew_do_not_count_as_job_changes(sql_harness):
    job_id = sql_harness.add()
    c = claim(sql_harness, job_id)
    stamped = sql_harness.job(job_id).updated_at
    if sql_harness.clock is not None:
        sql_harness.clock.advance(5)
    sql_harness.store.heartbeat("n1", 30, {c.lease_token})
    sql_harness.store.renew(c, 30)
    assert sql_harness.job(job_id).updated_at == stamped


def test_sqlite_time_is_the_store_clock():
    engine = create_engine("sqlite://")
    clock = FakeClock(T0)
    try:
        assert SqlJobStore(engine, clock=clock).now() == T0
    finally:
        engine.dispose()


def hold_row_lock(harness, job_id: int):
    """Another transaction holding the job's row lock (as a cancel or an edit does)."""
    conn = harness.engine.connect()
    conn.begin()
    conn.execute(select(jobs.c.id).where(jobs.c.id == job_id).with_for_update())
    return conn


@pytest.mark.postgres
def test_a_claim_skips_a_row_another_transaction_holds(pg_harness):
    busy, free = pg_harness.add(priority="high"), pg_harness.add(priority="low")
    holder = hold_row_lock(pg_harness, busy)
    try:
        claimed = pg_harness.store.claim([busy, free], "n1", 1, BIG_LIMIT, 30)
        assert [c.id for c in claimed] == [free]
    finally:
        holder.close()
    assert [c.id for c in pg_harness.store.claim([busy], "n1", 1, BIG_LIMIT, 30)] == [busy]


@pytest.mark.postgres
def test_a_rescue_skips_a_row_another_transaction_holds(pg_harness):
    c = claim(pg_harness, pg_harness.add())
    pg_harness.expire_leases()
    holder = hold_row_lock(pg_harness, c.id)
    try:
        assert pg_harness.store.rescue_expired(lambda attempt: 0.0) == []
    finally:
        holder.close()
    [rescued] = pg_harness.store.rescue_expired(lambda attempt: 0.0)
    assert rescued.job_id == c.id


def test_attempts_ended_together_each_get_their_own_fenced_answer(sql_harness):
    """One shared final write: every row keeps its own lease fence and its own end."""
    done, lost, retried, failed = (claim(sql_harness, sql_harness.add(max_attempts=2))
                                   for _ in range(4))
    sql_harness.store.finish(failed, Outcome(ExecutionStatus.FAILED, error="x"))
    sql_harness.update(failed.id, status="pending")
    failed = claim(sql_harness, failed.id)  # its second and last attempt
    sql_harness.cancel(lost.id)
    answers = sql_harness.store._finish_batch([
        (done, Outcome(ExecutionStatus.COMPLETED, result=[1, "a"], output="out\n", progress=250)),
        (lost, COMPLETED),
        (retried, Outcome(ExecutionStatus.TIMED_OUT, error="slow", retry_delay=60)),
        (failed, Outcome(ExecutionStatus.FAILED, error="boom")),
    ])
    assert [a and a.status for a in answers] == [
        JobStatus.COMPLETED, None, JobStatus.PENDING, JobStatus.FAILED]
    job = sql_harness.job(done.id)
    assert (job.result, job.progress, job.error, job.lease_token) == ([1, "a"], 100, None, None)
    assert job.finished_at is not None and job.deadline_missed is False
    assert sql_harness.executions(done.id)[0].output == "out\n"
    assert sql_harness.job(lost.id).status is JobStatus.CANCELLED
    assert sql_harness.executions(lost.id)[0].status is ExecutionStatus.CANCELLED
    again = sql_harness.job(retried.id)
    assert (again.error, again.finished_at) == ("slow", None)
    assert again.run_at > sql_harness.job(done.id).finished_at
    assert sql_harness.executions(retried.id)[0].status is ExecutionStatus.TIMED_OUT
    ended = sql_harness.job(failed.id)
    assert (ended.error, ended.finished_at is not None) == ("boom", True)
    [_, last] = sql_harness.executions(failed.id)
    assert (last.status, last.error) == (ExecutionStatus.FAILED, "boom")
    assert last.duration_seconds is not None and last.duration_seconds >= 0


def test_a_shared_write_that_failed_is_retried_alone(sql_harness, monkeypatch):
    c = claim(sql_harness, sql_harness.add())

    def shared_write_failed(item):
        raise BatchFailed("a write of 2 items failed")

    monkeypatch.setattr(sql_harness.store._finishes, "submit", shared_write_failed)
    assert sql_harness.store.finish(c, COMPLETED).status is JobStatus.COMPLETED
    assert sql_harness.job(c.id).result == {"ok": True}


def test_concurrent_finishes_all_end_their_attempts(sql_harness):
    claims = [claim(sql_harness, sql_harness.add()) for _ in range(12)]
    answers: dict[int, object] = {}

    def finish(c):
        answers[c.id] = sql_harness.store.finish(c, COMPLETED)

    threads = [threading.Thread(target=finish, args=(c,)) for c in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert {c.id: answers[c.id].status for c in claims} == {
        c.id: JobStatus.COMPLETED for c in claims}
    assert {sql_harness.executions(c.id)[0].status for c in claims} == {
        ExecutionStatus.COMPLETED}
