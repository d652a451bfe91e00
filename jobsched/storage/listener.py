"""`JobListener`: PostgreSQL LISTEN/NOTIFY feeding a scheduler's heap with job changes.

The migrations' triggers notify channel `jobsched_jobs` whenever a change matters to the
queue, with the job's queue state as payload (migrations 0003, 0007; `parse_payload`), so the
scheduler patches its heap without re-reading the job. A bare id (0001's payload, still sent
by a database not yet migrated during a rolling upgrade) is delivered as an id to re-read.
The listener holds its own autocommit psycopg2 connection, outside
the pool (a pooled connection would be handed to others and LISTEN would go with it), and
waits with select() on its socket, which eventlet's monkey patching makes cooperative.

Notifications are lost while disconnected, so after every LISTEN is established (the first
one too: changes made before it was listening are not notified) `on_reconnect` runs, and
the scheduler resyncs its heap from the table.
"""
from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from sqlalchemy import Connection, make_url, text

from ..database import POSTGRES_CONNECT_ARGS
from ..scheduler.ordering import from_micros
from ..scheduler.states import JobStatus, Priority
from ..scheduler.store import Dequeued, JobChange, QueuedJob, Released

log = logging.getLogger(__name__)

CHANNEL = "jobsched_jobs"
LIMITS_PREFIX = "limits:"  # `limits:<owner id>`: that user's caps changed (announce_limits)
APPLICATION_NAME = "jobsched-listener"
RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)  # between failed connects; the last repeats


def parse_payload(payload: str) -> list[JobChange]:
    """The changes a notification describes (payload formats: migrations 0003 and 0007).

    A pending job's payload is its QueuedJob, any other status's (or `deleted`) a Dequeued,
    each followed by a Released when the job just left `running`; `limits:<owner>` is that
    owner's Released (its caps changed); anything else with an id first is that id, to
    re-read. ValueError when not even an id can be read.
    """
    state = payload.rsplit("@", 1)[0]  # what follows the last `@` only makes it unique
    if state.startswith(LIMITS_PREFIX):  # an admin changed a user's limits
        return [Released(int(state.removeprefix(LIMITS_PREFIX)))]
    job_id = int(state.split(":", 1)[0])
    try:
        return _queue_state(job_id, state)
    except ValueError:
        return [job_id]


def announce_limits(conn: Connection, owner_id: int) -> None:
    """Tell every scheduler, when `conn`'s transaction commits, that this user's caps
    changed: the heaps offer the user's set-aside jobs again at once (PostgreSQL; SQLite's
    one scheduler finds out at its next reconcile)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                     {"channel": CHANNEL, "payload": f"{LIMITS_PREFIX}{owner_id}"})


def _queue_state(job_id: int, state: str) -> list[JobChange]:
    status = (state.split(":", 2) + [""])[1]
    pending = status == JobStatus.PENDING.value
    # pending: priority, deadline, run_at, then [owner, freed, key]; else [owner, freed, key]
    fields = state.split(":", 7 if pending else 4)[2:]
    queued, groups = (fields[:3], fields[3:]) if pending else ([], fields)
    if not status or (pending and len(queued) != 3) or len(groups) not in (0, 3):
        raise ValueError(f"not a queue state: {state!r}")
    owner, freed, key = groups or (None, "0", "")
    if freed not in ("0", "1"):
        raise ValueError(f"not a queue state: {state!r}")
    owner_id = None if owner is None else int(owner)
    change: JobChange = Dequeued(job_id)
    if pending:
        run_at, queued_at, expected = _times(queued[2])
        change = QueuedJob(job_id, Priority(queued[0]), _time(queued[1]), run_at,
                           owner_id, key or None, queued_at, expected)
    return [change, Released(owner_id, key or None)] if freed == "1" else [change]


def _times(field: str) -> tuple[datetime | None, datetime | None, float | None]:
    """run_at, queued_at and the expected run time: `<run_at_us>,<queued_at_us>,<seconds>`
    (0009), or `<run_at_us>` alone (0003, 0007: the queue policy's fields unknown)."""
    if "," not in field:
        return _time(field), None, None
    run_at, queued_at, expected = field.split(",")
    return _time(run_at), _time(queued_at), float(expected)


def _time(micros: str) -> datetime | None:
    return None if micros == "" else from_micros(int(micros))


def libpq_dsn(url: str) -> str:
    """A libpq connection string for an SQLAlchemy URL (`postgresql+psycopg2://` too)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("LISTEN/NOTIFY needs a PostgreSQL URL")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class JobListener:
    """Calls `on_change(changes)` for notified jobs; `on_reconnect()` after each LISTEN."""

    def __init__(
        self, dsn: str, on_change: Callable[[list[JobChange]], Any],
        on_reconnect: Callable[[], Any], channel: str = CHANNEL,
    ) -> None:
        self._dsn = libpq_dsn(dsn)
        self._on_change = on_change
        self._on_reconnect = on_reconnect
        self._channel = channel
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._connection: psycopg2.extensions.connection | None = None
        # While run() runs, select() also watches this pipe, which stop() writes to, so
        # stopping is immediate; the lock keeps stop() from writing to a closed descriptor.
        self._wake_lock = threading.Lock()
        self._wake: tuple[int, int] | None = None

    @property
    def backend_pid(self) -> int | None:
        """The server process serving the LISTEN connection (None while disconnected)."""
        connection = self._connection
        return None if connection is None or connection.closed else connection.get_backend_pid()

    def start(self, spawn: Callable[..., Any] | None = None) -> Any:
        """Run the listener on `spawn` (a daemon thread by default); returns its handle."""
        if spawn is not None:
            return spawn(self.run)
        thread = threading.Thread(target=self.run, daemon=True, name="jobsched-listener")
        thread.start()
        return thread

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the loop to end and wait up to `timeout` for it; True once it has ended."""
        self._stopping.set()
        with self._wake_lock:
            if self._wake is not None:
                os.write(self._wake[1], b"x")
        return self._done.wait(timeout)

    def run(self) -> None:
        """Listen until stop(): connect, deliver notifications, reconnect with backoff."""
        self._done.clear()
        wake_read, wake_write = os.pipe()
        with self._wake_lock:
            self._wake = (wake_read, wake_write)
        failures = 0
        try:
            while not self._stopping.is_set():
                if self._session(wake_read):
                    failures = 0
                    continue
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                self._stopping.wait(delay)
        finally:
            with self._wake_lock:
                wake, self._wake = self._wake, None
            for fd in wake or ():
                os.close(fd)
            self._done.set()

    def _session(self, wake_read: int) -> bool:
        """One connection's life; False when it could not even start listening."""
        try:
            self._connection = self._connect()
        except psycopg2.Error as error:
            log.warning("listener: cannot connect to PostgreSQL: %s", str(error).strip())
            return False
        try:
            self._call(self._on_reconnect)
            self._deliver_until_stopped(self._connection, wake_read)
        except (psycopg2.Error, OSError) as error:
            log.warning("listener: connection lost, reconnecting: %s", str(error).strip())
        finally:
            self._close()
        return True

    def _connect(self) -> psycopg2.extensions.connection:
        connection = psycopg2.connect(
            self._dsn, application_name=APPLICATION_NAME, **POSTGRES_CONNECT_ARGS
        )
        try:
            connection.autocommit = True  # notifications arrive outside any transaction
            with connection.cursor() as cursor:
                cursor.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except psycopg2.Error:
            connection.close()
            raise
        return connection

    def _deliver_until_stopped(
        self, connection: psycopg2.extensions.connection, wake_read: int
    ) -> None:
        """Wait on the socket; each wake-up delivers every change that arrived, as one batch."""
        while not self._stopping.is_set():
            readable, _, _ = select.select([connection, wake_read], [], [])
            if wake_read in readable:
                return
            changes = self._drain(connection)
            if changes:
                self._call(self._on_change, changes)

    def _drain(self, connection: psycopg2.extensions.connection) -> list[JobChange]:
        """One change per job of all notifications readable now, in order of each job's
        first arrival; a job's last notification wins (they arrive in commit order)."""
        changes: dict[int, JobChange] = {}
        released: list[JobChange] = []
        while True:
            connection.poll()  # raises OperationalError when the server has gone
            while connection.notifies:
                notify = connection.notifies.pop(0)
                try:
                    parsed = parse_payload(notify.payload)
                except ValueError:
                    log.warning("listener: ignoring payload %r on %s", notify.payload,
                                notify.channel)
                    continue
                for change in parsed:
                    if isinstance(change, Released):
                        released.append(change)
                    else:
                        changes[change if isinstance(change, int) else change.id] = change
            readable, _, _ = select.select([connection], [], [], 0)
            if not readable:
                return [*changes.values(), *released]

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run a callback; its failure is logged, never the end of the listener."""
        try:
            callback(*args)
        except Exception:
            log.exception("listener: %s failed", getattr(callback, "__name__", "callback"))

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.closed:
            try:
                connection.close()
            except psycopg2.Error:
                pass
