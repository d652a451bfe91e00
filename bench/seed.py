"""Seeding a benchmark database: an owner with a password and a token, and jobs in bulk.

Jobs go in with set-based `INSERT … SELECT … FROM generate_series` statements (one
statement per 100,000 rows, no API call per job). The session runs with
`session_replication_role = replica`, which skips the queue's NOTIFY triggers: nothing
listens while a benchmark seeds, and a scheduler loads its heap from the table at start.
The stats' counting triggers are skipped too, so the jobs are counted once afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .harness import connect

USERNAME = "bench"
PASSWORD = "bench-password-1"
BATCH_ROWS = 100_000

COLUMNS = (
    "name, description, task, args, priority, deadline, run_at, status, attempts, "
    "max_attempts, timeout_seconds, owner_id, created_at, updated_at, started_at, "
    "finished_at, deadline_missed, result"
)

# Pending jobs, priorities in rotation, a quarter with a deadline a day or so away.
PENDING_ROWS = """
SELECT 'bench ' || i, '', %(task)s, %(args)s::jsonb, (ARRAY['high','medium','low'])[1 + i %% 3],
       CASE WHEN i %% 4 = 0 THEN now() + interval '1 day' + (i %% 3600) * interval '1 second' END,
       NULL, 'pending', 0, 3, 3600, %(owner)s, now(), now(), NULL, NULL, false, NULL
FROM generate_series(%(first)s, %(last)s) AS i
"""

# A table that has lived: created over ~23 days, 90 % completed, 4 % failed, 3 % cancelled,
# 3 % pending; a quarter had a deadline and one in fifty missed it.
HISTORY_ROWS = """
SELECT 'bench ' || i, '', 'echo', jsonb_build_object('message', i),
       (ARRAY['high','medium','low'])[1 + i %% 3],
       CASE WHEN i %% 4 = 0 THEN t.created + interval '10 minutes' END, NULL,
       t.status, CASE WHEN t.status IN ('completed', 'failed') THEN 1 ELSE 0 END, 3, 3600,
       %(owner)s, t.created, t.created + interval '3 seconds',
       CASE WHEN t.status IN ('completed', 'failed') THEN t.created + interval '1 second' END,
       CASE WHEN t.status <> 'pending' THEN t.created + interval '3 seconds' END,
       i %% 50 = 0 AND t.status <> 'pending',
       CASE WHEN t.status = 'completed' THEN to_jsonb(i) END
FROM generate_series(%(first)s, %(last)s) AS i,
     LATERAL (SELECT now() - (%(total)s - i) * interval '2 seconds' AS created,
                     CASE WHEN i %% 100 < 90 THEN 'completed' WHEN i %% 100 < 94 THEN 'failed'
                          WHEN i %% 100 < 97 THEN 'cancelled' ELSE 'pending' END AS status) t
"""


@dataclass(frozen=True, slots=True)
class Owner:
    """The benchmark's user (an admin: it sees every job) and its API token."""

    id: int
    username: str
    password: str
    token: str


def create_owner(url: str) -> Owner:
    """Create the owner with jobsched's own account and token code."""
    from config import normalize_database_url
    from jobsched import create_app
    from jobsched.auth.service import create_account
    from jobsched.auth.tokens import issue_token
    from jobsched.extensions import db

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(url),
        "SOCKETIO_ASYNC_MODE": "threading", "SOCKETIO_MESSAGE_QUEUE": None,
    }, env={"JOBSCHED_ENV": "testing"})
    with app.app_context():
        user = create_account(db.session, USERNAME, PASSWORD, admin=True)
        _, token = issue_token(db.session, user, "bench")
        owner = Owner(user.id, USERNAME, PASSWORD, token)
        db.session.remove()
        db.engine.dispose()
    return owner


def add_pending(url: str, owner: Owner, count: int, first: int = 1, task: str = "echo",
                args: str = '{"message": "bench"}') -> None:
    """Insert `count` pending jobs numbered from `first` (names only; ids are the table's)."""
    _insert(url, PENDING_ROWS, first, count, {"owner": owner.id, "task": task, "args": args})


def add_history(url: str, owner: Owner, count: int) -> None:
    """Insert `count` jobs with a lived-in mix of states (see HISTORY_ROWS)."""
    _insert(url, HISTORY_ROWS, 1, count, {"owner": owner.id, "total": count})


def _insert(url: str, rows: str, first: int, count: int, params: dict[str, Any]) -> None:
    conn = connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            for start in range(first, first + count, BATCH_ROWS):
                last = min(start + BATCH_ROWS, first + count) - 1
                cursor.execute(f"INSERT INTO jobs ({COLUMNS}) {rows}",
                               {**params, "first": start, "last": last})
    finally:
        conn.close()
    recount_jobs(url)


def recount_jobs(url: str) -> None:
    """The stats' counts of the jobs just loaded (their triggers were off), as `flask
    recount-jobs` would."""
    from sqlalchemy import create_engine

    from config import normalize_database_url
    from jobsched.storage.counts import recount

    engine = create_engine(normalize_database_url(url))
    try:
        recount(engine)
    finally:
        engine.dispose()


def reset_jobs(url: str) -> None:
    """Empty jobs (and their counts), executions and scheduler nodes (users and tokens
    stay)."""
    execute(url, "TRUNCATE jobs, executions, scheduler_nodes, job_counts RESTART IDENTITY CASCADE")


def analyze(url: str, vacuum: bool = False) -> None:
    """Refresh the planner's statistics (and the visibility map with `vacuum`), as
    autovacuum would have done on a table that grew over time."""
    execute(url, "VACUUM ANALYZE jobs" if vacuum else "ANALYZE jobs")


def execute(url: str, statement: str, params: Any = None) -> None:
    """Run one statement in autocommit mode."""
    conn = connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement, params)
    finally:
        conn.close()


def query(url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Rows of one query."""
    conn = connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()
    finally:
        conn.close()


def scalar(url: str, statement: str, params: Any = None) -> Any:
    """The first column of the first row of one query."""
    rows = query(url, statement, params)
    return rows[0][0] if rows else None


class Reader:
    """One kept-open connection for polling: a new connection per poll would fork a
    PostgreSQL backend each time and weigh on what is being measured."""

    def __init__(self, url: str) -> None:
        self._conn = connect(url)

    def scalar(self, statement: str, params: Any = None) -> Any:
        """The first column of the first row of one query."""
        with self._conn.cursor() as cursor:
            cursor.execute(statement, params)
            row = cursor.fetchone()
        return row[0] if row else None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

