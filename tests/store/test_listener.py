"""JobListener on a real PostgreSQL: notifications, a killed connection, stopping."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, insert, text, update

from jobsched.jobs import listener as listener_module
from jobsched.jobs.listener import JobListener, libpq_dsn
from jobsched.jobs.store import jobs
from jobsched.models import User
from jobsched.scheduler.clock import utcnow
from tests.helpers import wait_until


class Recorder:
    """Collects what the listener delivers, from its thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: list[list[int]] = []
        self.reconnects = 0

    def on_change(self, ids: list[int]) -> None:
        with self.lock:
            self.batches.append(list(ids))

    def on_reconnect(self) -> None:
        with self.lock:
            self.reconnects += 1

    def clear(self) -> None:
        with self.lock:
            self.batches.clear()

    def ids(self) -> set[int]:
        with self.lock:
            return {i for batch in self.batches for i in batch}


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
    assert recorder.batches[0] == ids


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
    seen: list[list[int]] = []
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
        wait_until(lambda: [i for batch in seen for i in batch] == [first, second])
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
