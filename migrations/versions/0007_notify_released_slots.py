"""Notifications say whose slot a job frees and carry a pending job's fair-use groups.

Schedulers set aside the jobs of an owner at its cap, or of a concurrency key at its limit
(SPEC §10), and offer them again when a job of that owner or key stops running anywhere:
the payload now names the owner, whether the job just left `running` (`1`: a slot is
free) and its concurrency key (last, as it may contain ':' or '@'):

    <id>:pending:<priority>:<deadline_us>:<run_at_us>:<owner>:<freed>:<key>@<n>
    <id>:<status>:<owner>:<freed>:<key>@<n>          not pending (running, ..., deleted)

Jobs leaving `running` now notify too (completed, failed: 0001 notified only cancels), and so
does an edit of a pending job's concurrency key.

0003's payloads (`<id>:pending:<priority>:<deadline_us>:<run_at_us>@<n>`, `<id>:<status>@<n>`)
are still understood, during a rolling upgrade. PostgreSQL only: SQLite has no NOTIFY.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

def _micros(column: str) -> str:
    """Exact microseconds since the epoch of a timestamptz, as text ('' for NULL)."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (f"coalesce((EXTRACT(EPOCH FROM date_trunc('second', {utc}))::bigint * 1000000"
            f" + EXTRACT(MICROSECONDS FROM {utc})::bigint % 1000000)::text, '')")


UNIQUE = "'@' || (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint"
FREED = "CASE WHEN TG_OP <> 'INSERT' AND OLD.status = 'running' THEN '1' ELSE '0' END"


def _tail(row: str) -> str:
    """`:<owner>:<freed>:<key>`, the key '' when NULL."""
    return f"':' || {row}.owner_id || ':' || {FREED} || ':' || coalesce({row}.concurrency_key, '')"


GROUPS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION jobsched_notify_job() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('jobsched_jobs', OLD.id || ':' || 'deleted' || {_tail('OLD')} || {UNIQUE});
        RETURN OLD;
    END IF;
    IF NEW.status <> 'pending' THEN
        PERFORM pg_notify('jobsched_jobs',
                          NEW.id || ':' || NEW.status || {_tail('NEW')} || {UNIQUE});
    ELSIF NOT (coalesce(isfinite(NEW.deadline), true) AND coalesce(isfinite(NEW.run_at), true))
    THEN
        PERFORM pg_notify('jobsched_jobs', NEW.id::text);
    ELSE
        PERFORM pg_notify('jobsched_jobs', concat_ws(':', NEW.id, NEW.status, NEW.priority,
                                                     {_micros('NEW.deadline')},
                                                     {_micros('NEW.run_at')})
                                           || {_tail('NEW')} || {UNIQUE});
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""

# 0003's function, exactly.
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


def _update_trigger(when: str) -> str:
    return (f"CREATE TRIGGER jobs_notify_update AFTER UPDATE ON jobs FOR EACH ROW WHEN ({when}) "
            "EXECUTE FUNCTION jobsched_notify_job()")


CHANGED = """(OLD.status IS DISTINCT FROM NEW.status
                  OR OLD.priority IS DISTINCT FROM NEW.priority
                  OR OLD.deadline IS DISTINCT FROM NEW.deadline
                  OR OLD.run_at IS DISTINCT FROM NEW.run_at{more})"""
UPDATE_WHEN = ("((OLD.status = 'pending' OR NEW.status = 'pending' OR OLD.status = 'running') AND "
               + CHANGED.format(more=" OR OLD.concurrency_key IS DISTINCT FROM NEW.concurrency_key")
               + ")")
# 0001's condition, exactly.
UPDATE_WHEN_0001 = ("((OLD.status = 'pending' OR NEW.status = 'pending' "
                    "OR (OLD.status = 'running' AND NEW.status = 'cancelled')) AND "
                    + CHANGED.format(more="") + ")")


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(GROUPS_FUNCTION)
        op.execute('DROP TRIGGER jobs_notify_update ON jobs')
        op.execute(_update_trigger(UPDATE_WHEN))


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER jobs_notify_update ON jobs')
        op.execute(_update_trigger(UPDATE_WHEN_0001))
        op.execute(QUEUE_STATE_FUNCTION)
