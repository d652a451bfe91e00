"""Engine setup: SQLite's per-connection rules and BEGIN modes, per-dialect pool options."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, event, text

from jobsched import create_app
from jobsched.database import (
    BEGIN_MODE,
    IMMEDIATE,
    configure_engine,
    engine_options,
    scheduler_engine_options,
)
from jobsched.extensions import db
from jobsched.storage.store import SqlJobStore
from tests.conftest import TEST_ENV, app_settings
from tests.store.conftest import sqlite_copy
from tests.store.harness import SqlBackend


@pytest.fixture
def sqlite_engine(sqlite_template, tmp_path) -> Iterator[Engine]:
    engine = configure_engine(create_engine(sqlite_copy(sqlite_template, tmp_path)))
    yield engine
    engine.dispose()


def pragmas(engine: Engine) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                     for name in ("foreign_keys", "journal_mode", "busy_timeout"))


def test_every_sqlite_connection_gets_foreign_keys_wal_and_a_busy_timeout(sqlite_engine):
    assert pragmas(sqlite_engine) == (1, "wal", 5000)


def test_the_app_engine_on_sqlite_has_the_rules(sqlite_template, tmp_path):
    app = create_app(app_settings(sqlite_copy(sqlite_template, tmp_path)), env=TEST_ENV)
    with app.app_context():
        assert pragmas(db.engine) == (1, "wal", 5000)
        db.engine.dispose()


@pytest.mark.postgres
def test_explicit_engine_options_win_over_the_dialect_defaults(postgres_database):
    settings = {**app_settings(postgres_database),
                "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 3}}
    app = create_app(settings, env=TEST_ENV)
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_size"] == 3
    assert options["connect_args"]["connect_timeout"] == 5
    with app.app_context():
        assert db.engine.pool.size() == 3
        db.engine.dispose()


def test_store_writes_begin_immediate_and_reads_begin_deferred(sqlite_engine):
    begins: list[str] = []

    @event.listens_for(sqlite_engine, "before_cursor_execute")
    def record(conn, cursor, statement, *args):
        if statement.startswith("BEGIN"):
            begins.append(statement)

    store = SqlJobStore(sqlite_engine)
    store.claim([1], "n1", 1, 3, 30)
    store.pending()
    assert begins == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]


def test_a_store_write_waits_for_the_write_lock_instead_of_failing(sqlite_engine):
    """BEGIN IMMEDIATE queues behind busy_timeout: a claim blocked by another writer
    completes once that writer commits."""
    harness = SqlBackend(sqlite_engine, None)
    job_id = harness.add()
    claimed: list = []
    with sqlite_engine.connect() as holder:
        holder.execution_options(**IMMEDIATE)
        with holder.begin():
            holder.execute(text("UPDATE scheduler_nodes SET pid = pid"))
            worker = threading.Thread(
                target=lambda: claimed.extend(harness.store.claim([job_id], "n1", 1, 3, 30)))
            worker.start()
            worker.join(0.3)
            assert worker.is_alive(), "the claim did not wait for the write lock"
    worker.join(5)
    assert [c.id for c in claimed] == [job_id]


def test_an_unknown_begin_mode_is_refused(sqlite_engine):
    with sqlite_engine.connect() as conn:
        conn.execution_options(**{BEGIN_MODE: "SOMETIMES"})
        with pytest.raises(ValueError, match=BEGIN_MODE):
            conn.begin()


def test_an_autocommit_connection_opens_no_transaction(sqlite_engine):
    with sqlite_engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
        assert conn.connection.driver_connection.in_transaction is False
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")


def test_a_connection_used_in_autocommit_begins_its_own_transactions_again(sqlite_engine):
    begins: list[str] = []
    event.listen(sqlite_engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: begins.append(statement))
    with sqlite_engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("SELECT 1")
    with sqlite_engine.connect() as conn:  # the same pooled connection, reset
        with conn.begin():
            conn.exec_driver_sql("UPDATE scheduler_nodes SET pid = pid")
            assert conn.connection.driver_connection.isolation_level is None
    assert begins[-2:] == ["BEGIN DEFERRED", "UPDATE scheduler_nodes SET pid = pid"]


def test_engine_options_per_dialect():
    postgres = engine_options("postgresql+psycopg2://u@h/db")
    assert postgres["connect_args"]["keepalives"] == 1
    assert postgres["pool_size"] + postgres["max_overflow"] >= 50
    assert engine_options("sqlite:///x.db") == {}


def test_configure_engine_leaves_postgresql_alone_and_is_idempotent(sqlite_engine):
    postgres = create_engine("postgresql+psycopg2://u@h/db")
    assert configure_engine(postgres) is postgres
    assert not event.contains(postgres, "begin", lambda conn: None)
    configure_engine(sqlite_engine)
    configure_engine(sqlite_engine)
    assert pragmas(sqlite_engine) == (1, "wal", 5000)


def test_a_scheduler_engine_has_a_connection_per_attempt_and_no_pre_ping():
    url = "postgresql+psycopg2://u@h/db"
    scheduler = scheduler_engine_options(url, concurrency=32)
    assert scheduler["pool_size"] >= 32 + 4 and scheduler["pool_pre_ping"] is False
    assert scheduler["connect_args"]["keepalives"] == 1
    assert engine_options(url)["pool_pre_ping"] is True  # the web's engine keeps it
    assert scheduler_engine_options("sqlite:///x.db", 32) == {}
