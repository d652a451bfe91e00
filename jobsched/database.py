"""Engine setup per dialect: pool and connection options, and SQLite's per-connection rules.

SQLite needs three things on every connection (foreign keys, WAL so readers never block the
writer, a busy timeout so writers queue instead of failing) and a way to start a write
transaction with `BEGIN IMMEDIATE`: a deferred BEGIN that later writes can fail at once with
SQLITE_BUSY when another connection wrote since its first read, whatever the busy timeout.
"""
from __future__ import annotations

from functools import partial
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Connection, Engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session

# Execution option naming how a SQLite transaction begins: `{BEGIN_MODE: "IMMEDIATE"}` takes
# the write lock at BEGIN (the store's writes); without it the BEGIN is deferred (reads).
BEGIN_MODE = "jobsched_sqlite_begin"
IMMEDIATE = {BEGIN_MODE: "IMMEDIATE"}
_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})

BUSY_TIMEOUT_MS = 5000

# PostgreSQL: fail a connect fast, and notice a dead peer (a lost machine, a dropped NAT
# entry) within about a minute instead of the kernel's two hours.
POSTGRES_CONNECT_ARGS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def engine_options(url: str) -> dict[str, Any]:
    """create_engine options for this database URL (Flask-SQLAlchemy's ENGINE_OPTIONS)."""
    if make_url(url).get_backend_name() == "postgresql":
        # Under eventlet every request, socket handler and running task is a green thread
        # that may hold a connection at once: a roomy pool, waits bounded by pool_timeout.
        return {
            "pool_pre_ping": True,
            "pool_size": 10,
            "max_overflow": 40,
            "pool_timeout": 10,
            "pool_recycle": 1800,
            "connect_args": dict(POSTGRES_CONNECT_ARGS),
        }
    # SQLite: the dialect's defaults fit (a file gets a QueuePool with check_same_thread off);
    # the per-connection rules are installed by configure_engine.
    return {}


# The scheduler's own PostgreSQL engine: room for every thread that may hold a connection at
# once (attempt workers, the loop, the watchdog, housekeeping), so no overflow connection is
# opened and closed again per write; and no pre-ping, a round trip per transaction: the
# node survives a dead connection (its store errors resync; final writes are retried), and
# the first error on a dead connection invalidates the whole pool.
SCHEDULER_SPARE_CONNECTIONS = 4


def scheduler_engine_options(url: str, concurrency: int) -> dict[str, Any]:
    """create_engine options for a scheduler process running `concurrency` attempts."""
    options = engine_options(url)
    if make_url(url).get_backend_name() == "postgresql":
        options.update(pool_pre_ping=False, max_overflow=SCHEDULER_SPARE_CONNECTIONS,
                       pool_size=concurrency + SCHEDULER_SPARE_CONNECTIONS)
    return options


def configure_engine(engine: Engine) -> Engine:
    """Install the SQLite connection rules on `engine` (idempotent; no-op on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return engine
    if not event.contains(engine, "connect", _on_sqlite_connect):
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    """Pragmas for a new SQLite connection; the driver's own BEGIN handling is turned off."""
    # isolation_level=None stops pysqlite from issuing BEGIN itself (and from committing
    # before DDL), so `_on_sqlite_begin` decides how each transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    """BEGIN, or BEGIN IMMEDIATE when the connection carries the IMMEDIATE option."""
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return  # asked for no transaction (e.g. PRAGMAs that only work outside one)
    mode = str(options.get(BEGIN_MODE, "DEFERRED")).upper()
    if mode not in _BEGIN_MODES:
        raise ValueError(f"{BEGIN_MODE} must be one of {sorted(_BEGIN_MODES)}, not {mode!r}")
    driver = conn.connection.driver_connection
    if driver is not None and driver.isolation_level is not None:
        # SQLAlchemy's isolation-level reset (after an AUTOCOMMIT use) gives pysqlite back
        # its own BEGIN handling; take it away again (no transaction is open here).
        driver.isolation_level = None
    conn.exec_driver_sql(f"BEGIN {mode}")


def init_database(app: Flask, db: SQLAlchemy) -> None:
    """Bind `db` to the app with per-dialect engine options and the SQLite rules installed."""
    url = str(app.config["SQLALCHEMY_DATABASE_URI"])
    # Explicit settings win over the dialect defaults.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options(url), **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    }
    db.init_app(app)
    app.teardown_appcontext(partial(_end_session, db))  # runs before Flask-SQLAlchemy's
    with app.app_context():
        for engine in db.engines.values():
            configure_engine(engine)


def _end_session(db: SQLAlchemy, error: BaseException | None) -> None:
    """End the request's session. When the database went away during the request, ending
    its transaction fails too (there is no connection left to roll back on), after the
    answer was made: the connection is discarded already, so the session is dropped rather
    than that failure turning the answer into a 500."""
    try:
        db.session.remove()
    except DBAPIError as failure:
        if not failure.connection_invalidated:
            raise
        db.session.registry.clear()


def commit_keeping_loaded(session: Session | scoped_session[Session]) -> None:
    """Commit without expiring the session's objects: what was just written or read in this
    transaction is what the caller goes on to show, so reloading it would only cost round
    trips. Only for commits whose objects hold no values the database computed unseen."""
    own = session() if isinstance(session, scoped_session) else session
    expire_on_commit, own.expire_on_commit = own.expire_on_commit, False
    try:
        own.commit()
    finally:
        own.expire_on_commit = expire_on_commit
