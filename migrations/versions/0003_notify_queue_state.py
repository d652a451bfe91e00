"""Queue-state notifications: the NOTIFY payload carries the job's queue state, not only its id.

Schedulers keep their heap from these notifications; with the state in the payload they no
longer re-read each notified job (one transaction per wake-up, and with two schedulers every
job the other one claims). Payloads on channel `jobsched_jobs`:

    <id>:pending:<priority>:<deadline_us>:<run_at_us>@<n>   a pending job's queue key
    <id>:<status>@<n>                                       not pending any more (running, ...)
    <id>:deleted@<n>                                        gone

(`@<n>` makes every payload unique; see UNIQUE.)

Times are exact integer microseconds since the epoch (UTC), empty for NULL; computed from
the whole seconds and the microsecond field separately, because EXTRACT(EPOCH) is a double
before PostgreSQL 14. A time that is not finite sends the bare id, which listeners answer by
re-reading the job (as they do for every payload of 0001's function). PostgreSQL only:
SQLite has no NOTIFY.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _micros(column: str) -> str:
    """Exact microseconds since the epoch of a timestamptz, as text ('' for NULL)."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (f"coalesce((EXTRACT(EPOCH FROM date_trunc('second', {utc}))::bigint * 1000000"
            f" + EXTRACT(MICROSECONDS FROM {utc})::bigint % 1000000)::text, '')")


# Every state ends with `@<clock µs>`: PostgreSQL delivers identical payloads of one
# transaction once, so a job going pending → running → pending (same key) within one
# transaction would otherwise arrive as pending, running and be lost from the heaps.
UNIQUE = "'@' || (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint"

QUEUE_STATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION jobsched_notify_job() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('jobsched_jobs', concat_ws(':', OLD.id, 'deleted') || {UNIQUE});
        RETURN OLD;
    END IF;
    IF NEW.status <> 'pending' THEN
        PERFORM pg_notify('jobsched_jobs', concat_ws(':', NEW.id, NEW.status) || {UNIQUE});
    ELSIF NOT (coalesce(isfinite(NEW.deadline), true) AND coalesce(isfinite(NEW.run_at), true))
    THEN
        PERFORM pg_notify('jobsched_jobs', NEW.id::text);
    ELSE
        PERFORM pg_notify('jobsched_jobs', concat_ws(':', NEW.id, NEW.status, NEW.priority,
                                                     {_micros('NEW.deadline')},
                                                     {_micros('NEW.run_at')}) || {UNIQUE});
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""

# 0001's function, exactly: the payload is the job id.
ID_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION jobsched_notify_job() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('jobsched_jobs', OLD.id::text);
        RETURN OLD;
    END IF;
    PERFORM pg_notify('jobsched_jobs', NEW.id::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(QUEUE_STATE_FUNCTION)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(ID_ONLY_FUNCTION)
