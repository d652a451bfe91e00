"""JobListener on a real PostgreSQL: notifications, a killed connection, stopping."""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, delete, insert, text, update

from jobsched.models import User
from jobsched.scheduler.clock import utcnow
from jobsched.scheduler.limits import DEFAULT_TIMEOUT_SECONDS
from jobsched.scheduler.node import SchedulerNode
from jobsched.scheduler.nodeconfig import NodeSettings
from jobsched.scheduler.ordering import from_micros, to_micros
from jobsched.scheduler.registry import TaskRegistry
from jobsched.scheduler.states import Priority
from jobsched.scheduler.store import Dequeued, JobChange, QueuedJob, Released
from jobsched.storage import listener as listener_module
from jobsched.storage.listener import JobListener, libpq_dsn, parse_payload
from jobsched.storage.store import SqlJobStore, jobs
from tests.helpers import T0, RecordingSink, wait_until

QUEUED_AT = datetime(2026, 12, 7, 5, 8, 40, 389923, tzinfo=UTC)


def change_id(change: JobChange) -> int | None:
    if isinstance(change, Released):
        return None  # whose slot a job freed, not a job's state
    return change if isinstance(change, int) else change.id


class Recorder:
    """Collects what the listener delivers, from its thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: list[list[JobChange]] = []
        self.reconnects = 0

    def on_change(self, changes: list[JobChange]) -> None:
        with self.lock:
            self.batches.append(list(changes))

    def on_reconnect(self) -> None:
        with self.lock:
            self.reconnects += 1

    def clear(self) -> None:
        with self.lock:
            self.batches.clear()

    def changes(self, job_id: int) -> list[JobChange]:
        with self.lock:
            return [c for batch in self.batches for c in batch if change_id(c) == job_id]

    def ids(self) -> set[int]:
        with self.lock:
            return {change_id(c) for batch in self.batches for c in batch}


@pytest.fixture
def engine(postgres_database) -> Iterator[Engine]:
    engine = create_engine(postgres_database)
    yield engine
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE executions, jobs, users RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def owner(engine) -> int:
    with engine.begin() as conn:
        return conn.scalar(insert(User.__table__).values(
            username="owner", password_hash="x", created_at=utcnow(),
        ).returning(User.__table__.c.id))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def listener(postgres_database, recorder) -> Iterator[JobListener]:
    listener = JobListener(postgres_database, recorder.on_change, recorder.on_reconnect)
    listener.start()
    wait_until(lambda: recorder.reconnects == 1, message="the listener never listened")
    yield listener
    assert listener.stop(), "the listener did not stop"


def add_job(engine: Engine, owner: int) -> int:
    with engine.begin() as conn:
        return conn.scalar(insert(jobs).values(
            name="job", task="sleep", args={}, priority="medium", status="pending",
            owner_id=owner, created_at=utcnow(), updated_at=utcnow(),
        ).returning(jobs.c.id))


@pytest.mark.postgres
def test_an_insert_and_an_edit_notify_with_the_job_id(engine, owner, listener, recorder):
    job_id = add_job(engine, owner)
    wait_until(lambda: job_id in recorder.ids(), message="no notification for the insert")
    recorder.clear()
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(priority="high"))
    wait_until(lambda: job_id in recorder.ids(), message="no notification for the edit")


@pytest.mark.postgres
def test_notifications_committed_together_arrive_as_one_batch(engine, owner, listener,
                                                               recorder):
    with engine.begin() as conn:
        ids = [conn.scalar(insert(jobs).values(
            name="job", task="sleep", args={}, priority="low", status="pending",
            owner_id=owner, created_at=utcnow(), updated_at=utcnow(),
        ).returning(jobs.c.id)) for _ in range(5)]
    wait_until(lambda: recorder.ids() >= set(ids))
    assert [change_id(c) for c in recorder.batches[0]] == ids


@pytest.mark.postgres
def test_a_killed_connection_reconnects_resyncs_and_keeps_listening(
    engine, owner, listener, recorder
):
    first_pid = listener.backend_pid
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
    wait_until(lambda: recorder.reconnects == 2, message="no resync after the reconnect")
    wait_until(lambda: listener.backend_pid not in (None, first_pid))
    job_id = add_job(engine, owner)
    wait_until(lambda: job_id in recorder.ids(), message="deaf after the reconnect")


@pytest.mark.postgres
def test_a_bad_payload_is_skipped_and_a_failing_callback_does_not_stop_it(
    postgres_database, engine, owner
):
    seen: list[list[JobChange]] = []
    ready = threading.Event()

    def on_change(ids: list[int]) -> None:
        seen.append(ids)
        raise RuntimeError("the scheduler choked")

    listener = JobListener(postgres_database, on_change, ready.set)
    listener.start()
    try:
        assert ready.wait(5)
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_notify('jobsched_jobs', 'not-an-id')"))
        first = add_job(engine, owner)
        second = add_job(engine, owner)
        wait_until(lambda: [change_id(c) for batch in seen for c in batch] == [first, second])
    finally:
        assert listener.stop()


def test_it_retries_an_unreachable_server_and_still_stops_promptly(recorder, monkeypatch):
    attempts: list[str] = []
    real_connect = listener_module.psycopg2.connect

    def counting_connect(dsn: str, **kwargs: object):
        attempts.append(dsn)
        return real_connect(dsn, **kwargs)

    monkeypatch.setattr(listener_module.psycopg2, "connect", counting_connect)
    listener = JobListener("postgresql://postgres@127.0.0.1:1/nowhere",
                           recorder.on_change, recorder.on_reconnect)
    listener.start()
    wait_until(lambda: len(attempts) >= 3, message="the listener gave up reconnecting")
    assert listener.stop(timeout=2)
    assert recorder.reconnects == 0 and listener.backend_pid is None


def test_only_postgresql_urls_can_listen():
    assert libpq_dsn("postgresql+psycopg2://u:p@h:5/db") == "postgresql://u:p@h:5/db"
    with pytest.raises(ValueError, match="PostgreSQL"):
        JobListener("sqlite:///x.db", print, print)


# -- queue-state payloads (migration 0003) ------------------------------------------------

def test_a_pending_payload_parses_to_the_job_queue_state():
    deadline, run_at = datetime(2026, 12, 3, 7, 16, 4, 123457, tzinfo=UTC), T0
    payload = f"42:pending:high:{to_micros(deadline)}:{to_micros(run_at)}"
    assert parse_payload(payload) == [QueuedJob(42, Priority.HIGH, deadline, run_at)]
    assert parse_payload("42:pending:low::") == [QueuedJob(42, Priority.LOW, None, None)]


@pytest.mark.parametrize("status", ["running", "completed", "failed", "cancelled", "deleted"])
def test_a_job_that_left_the_queue_parses_to_dequeued(status):
    assert parse_payload(f"42:{status}") == [Dequeued(42)]


@pytest.mark.parametrize("payload", [
    "42",  # 0001's payload: a database not migrated yet (rolling upgrade)
    "42:pending", "42:pending:urgent::", "42:pending:high:soon:", "42:pending:high:::",
    "42:", "42:running:extra",
])
def test_a_payload_with_an_id_but_no_readable_state_is_an_id_to_reread(payload):
    assert parse_payload(payload) == [42]


# -- fair-use groups and freed slots (migration 0007) --------------------------------------

def test_a_pending_payload_carries_its_owner_and_concurrency_key():
    assert parse_payload("42:pending:low:::7:0:deploy@1") == [
        QueuedJob(42, Priority.LOW, None, None, 7, "deploy")]
    assert parse_payload("42:pending:low:::7:0:@1") == [QueuedJob(42, Priority.LOW, None, None, 7)]


def test_a_key_may_hold_colons_and_at_signs():
    assert parse_payload("42:completed:7:1:a:b@c@1733210000123456") == [
        Dequeued(42), Released(7, "a:b@c")]


@pytest.mark.parametrize("payload", ["42:failed:7:1:@1", "42:deleted:7:1:@1",
                                     "42:cancelled:7:1:@1"])
def test_a_job_that_left_running_frees_a_slot_of_its_owner(payload):
    assert parse_payload(payload) == [Dequeued(42), Released(7)]


def test_a_retry_frees_the_slot_and_queues_the_job_again():
    assert parse_payload("42:pending:high:::7:1:k@1") == [
        QueuedJob(42, Priority.HIGH, None, None, 7, "k"), Released(7, "k")]


def test_a_pending_payload_carries_what_the_queue_policy_orders_by():
    """0009's run_at field: run_at, queued_at and the expected run time."""
    assert parse_payload("42:pending:high::,1000000,30:7:0:k@1") == [QueuedJob(
        42, Priority.HIGH, None, None, 7, "k", from_micros(1_000_000), 30.0)]
    assert parse_payload("42:pending:high::5,1000000,30.5:7:0:@1") == [QueuedJob(
        42, Priority.HIGH, None, from_micros(5), 7, None, from_micros(1_000_000), 30.5)]


@pytest.mark.parametrize("payload", ["42:running:7:2:@1", "42:running:x:0:@1",
                                     "42:pending:low:::7:@1", "42:running:7:0@1",
                                     "42:pending:low::,1:7:0:@1", "42:pending:low::1,x,3:7:0:@1"])
def test_a_malformed_group_is_an_id_to_reread(payload):
    assert parse_payload(payload) == [42]


@pytest.mark.parametrize("payload", ["", "not-an-id", ":pending:high::", "x:deleted"])
def test_a_payload_without_an_id_is_refused(payload):
    with pytest.raises(ValueError):
        parse_payload(payload)


@pytest.mark.postgres
def test_payloads_carry_the_exact_queue_state(engine, owner, listener, recorder):
    deadline = datetime(2026, 12, 3, 7, 16, 4, 123457, tzinfo=UTC)
    run_at = datetime(1969, 7, 20, 20, 17, 40, 999999, tzinfo=UTC)  # before the epoch
    with engine.begin() as conn:
        job_id = conn.scalar(insert(jobs).values(
            name="job", task="sleep", args={}, priority="low", status="pending",
            owner_id=owner, deadline=deadline, run_at=run_at, created_at=utcnow(),
            updated_at=utcnow(), queued_at=QUEUED_AT, timeout_seconds=90,
        ).returning(jobs.c.id))
    wait_until(lambda: job_id in recorder.ids())
    assert recorder.changes(job_id) == [
        QueuedJob(job_id, Priority.LOW, deadline, run_at, owner, None, QUEUED_AT, 90)]
    assert SqlJobStore(engine).fetch_queued([job_id]) == recorder.changes(job_id)


@pytest.mark.postgres
def test_a_wake_up_delivers_the_last_state_of_each_job(engine, owner, listener, recorder):
    with engine.begin() as conn:
        edited, cancelled = (conn.scalar(insert(jobs).values(
            name="job", task="sleep", args={}, priority="low", status="pending",
            owner_id=owner, created_at=utcnow(), updated_at=utcnow(), queued_at=QUEUED_AT,
        ).returning(jobs.c.id)) for _ in range(2))
        conn.execute(update(jobs).where(jobs.c.id == edited).values(priority="high"))
        conn.execute(update(jobs).where(jobs.c.id == cancelled).values(status="cancelled"))
    wait_until(lambda: recorder.ids() >= {edited, cancelled})
    assert recorder.batches == [[QueuedJob(edited, Priority.HIGH, None, None, owner, None,
                                           QUEUED_AT, DEFAULT_TIMEOUT_SECONDS),
                                 Dequeued(cancelled)]]


@pytest.mark.postgres
def test_a_job_back_in_its_first_state_within_one_transaction_arrives_so(
        engine, owner, listener, recorder):
    """PostgreSQL delivers identical payloads of one transaction once: the payloads must
    differ, or pending → running → pending would arrive as pending, running."""
    with engine.begin() as conn:
        job_id = conn.scalar(insert(jobs).values(
            name="job", task="sleep", args={}, priority="low", status="pending",
            owner_id=owner, created_at=utcnow(), updated_at=utcnow(), queued_at=QUEUED_AT,
        ).returning(jobs.c.id))
        for status in ("running", "pending"):
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(status=status))
    wait_until(lambda: job_id in recorder.ids())
    assert recorder.batches[-1] == [
        QueuedJob(job_id, Priority.LOW, None, None, owner, None, QUEUED_AT,
                  DEFAULT_TIMEOUT_SECONDS),
        Released(owner)]  # it was running a moment


def test_what_follows_the_at_sign_only_makes_a_payload_unique():
    assert parse_payload("42:pending:low::@1733210000123456") == [QueuedJob(
        42, Priority.LOW, None, None)]
    assert parse_payload("42:running@1733210000123456") == [Dequeued(42)]


@pytest.mark.postgres
def test_a_deleted_job_is_notified_as_dequeued(engine, owner, listener, recorder):
    job_id = add_job(engine, owner)
    wait_until(lambda: job_id in recorder.ids())
    with engine.begin() as conn:
        conn.execute(delete(jobs).where(jobs.c.id == job_id))
    wait_until(lambda: Dequeued(job_id) in recorder.changes(job_id))


class CountingStore:
    """A store that counts the calls made to it."""

    def __init__(self, store: SqlJobStore) -> None:
        self.store, self.calls = store, Counter()

    def __getattr__(self, name: str):
        self.calls[name] += 1
        return getattr(self.store, name)


def heap(node: SchedulerNode) -> list[int]:
    """The node's eligible jobs, in queue order."""
    return node._queue.candidates(utcnow(), 100)


@pytest.mark.postgres
def test_the_heap_follows_inserts_edits_cancels_and_deletes_without_rereading(
    postgres_database, engine, owner
):
    store = CountingStore(SqlJobStore(engine))
    node = SchedulerNode(store, TaskRegistry(), RecordingSink(), NodeSettings(name="follower"))
    listener = JobListener(postgres_database, node.notify, node.reconcile)
    listener.start()
    try:
        wait_until(lambda: store.calls["pending"] == 1, message="never listened and loaded")
        first, second = add_job(engine, owner), add_job(engine, owner)
        wait_until(lambda: heap(node) == [first, second])
        with engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == second).values(priority="high"))
        wait_until(lambda: heap(node) == [second, first])
        with engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == first).values(
                run_at=utcnow() + timedelta(hours=1)))
        wait_until(lambda: heap(node) == [second])
        assert node.queued_count() == 2  # the first waits for its run_at
        with engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == second).values(status="cancelled"))
        wait_until(lambda: node.queued_count() == 1)
        with engine.begin() as conn:
            conn.execute(delete(jobs).where(jobs.c.id == first))
        wait_until(lambda: node.queued_count() == 0)
    finally:
        assert listener.stop()
    assert store.calls["fetch_queued"] == 0 and store.calls["pending"] == 1


@pytest.mark.postgres
def test_an_old_format_notification_is_reread(postgres_database, engine, owner):
    store = CountingStore(SqlJobStore(engine))
    node = SchedulerNode(store, TaskRegistry(), RecordingSink(), NodeSettings(name="follower"))
    listener = JobListener(postgres_database, node.notify, node.reconcile)
    listener.start()
    try:
        wait_until(lambda: store.calls["pending"] == 1, message="never listened and loaded")
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE jobs DISABLE TRIGGER jobs_notify_insert"))
        try:
            job_id = add_job(engine, owner)
        finally:
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE jobs ENABLE TRIGGER jobs_notify_insert"))
        with engine.begin() as conn:  # what 0001's trigger sends
            conn.execute(text("SELECT pg_notify('jobsched_jobs', :id)"), {"id": str(job_id)})
        wait_until(lambda: heap(node) == [job_id])
    finally:
        assert listener.stop()
    assert store.calls["fetch_queued"] == 1


def test_a_limits_payload_offers_that_users_jobs_again():
    assert parse_payload("limits:7") == [Released(7)]
    with pytest.raises(ValueError):
        parse_payload("limits:x")


@pytest.mark.postgres
def test_announced_limits_reach_the_listener_at_commit(engine, owner, listener, recorder):
    from jobsched.storage.listener import announce_limits

    with engine.begin() as conn:
        announce_limits(conn, owner)
    wait_until(lambda: any(Released(owner) in batch for batch in recorder.batches),
               message="the limits notification never arrived")
