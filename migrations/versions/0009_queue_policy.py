"""The queue policy (SPEC §10): `jobs.queued_at`, and notifications that carry what it orders by.

Aging counts from when a job last joined the queue (created, or retried by its owner) or its
run_at, whichever is later: `jobs.queued_at`, filled with `created_at` for the jobs there
are. feasible_first reads a job's expected run time (its timeout_seconds). A pending job's
notification now carries both, in its run_at field, so a scheduler re-keys its heap without
reading the job again:

    <id>:pending:<priority>:<deadline_us>:<run_at_us>,<queued_at_us>,<timeout_s>:<owner>:<freed>:<key>@<n>

A scheduler of 0007's reads that field as no number and re-reads the job: a rolling upgrade
stays correct. The update trigger also fires when a pending job's timeout changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _revision(name: str) -> ModuleType:
    """An earlier revision's module, for its SQL pieces and to restore its function."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_0007 = _revision("0007_notify_released_slots")
_micros, _tail, UNIQUE = _0007._micros, _0007._tail, _0007.UNIQUE


def _function(times: str, finite: str) -> str:
    """The notify function, with a pending job's run_at field as `times` makes it; a job
    with a time outside `finite` is notified by its id alone."""
    return f"""
CREATE OR REPLACE FUNCTION jobsched_notify_job() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('jobsched_jobs', OLD.id || ':' || 'deleted' || {_tail('OLD')} || {UNIQUE});
        RETURN OLD;
    END IF;
    IF NEW.status <> 'pending' THEN
        PERFORM pg_notify('jobsched_jobs',
                          NEW.id || ':' || NEW.status || {_tail('NEW')} || {UNIQUE});
    ELSIF NOT ({finite}) THEN
        PERFORM pg_notify('jobsched_jobs', NEW.id::text);
    ELSE
        PERFORM pg_notify('jobsched_jobs', concat_ws(':', NEW.id, NEW.status, NEW.priority,
                                                     {_micros('NEW.deadline')}, {times})
                                           || {_tail('NEW')} || {UNIQUE});
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


POLICY_FUNCTION = _function(
    f"{_micros('NEW.run_at')} || ',' || {_micros('NEW.queued_at')} || ',' || NEW.timeout_seconds",
    "coalesce(isfinite(NEW.deadline), true) AND coalesce(isfinite(NEW.run_at), true) "
    "AND isfinite(NEW.queued_at)")


CHANGED = """(OLD.status IS DISTINCT FROM NEW.status
                  OR OLD.priority IS DISTINCT FROM NEW.priority
                  OR OLD.deadline IS DISTINCT FROM NEW.deadline
                  OR OLD.run_at IS DISTINCT FROM NEW.run_at
                  OR OLD.concurrency_key IS DISTINCT FROM NEW.concurrency_key
                  OR OLD.queued_at IS DISTINCT FROM NEW.queued_at
                  OR OLD.timeout_seconds IS DISTINCT FROM NEW.timeout_seconds)"""
UPDATE_WHEN = ("((OLD.status = 'pending' OR NEW.status = 'pending' OR OLD.status = 'running') "
               f"AND {CHANGED})")


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # In place (a batch copy of `jobs` would lose its partial indexes' conditions); the
        # constant default only lets SQLite add a NOT NULL column, the UPDATE sets it.
        op.execute("ALTER TABLE jobs ADD COLUMN queued_at DATETIME NOT NULL "
                   "DEFAULT '1970-01-01 00:00:00.000000'")
        op.execute('UPDATE jobs SET queued_at = created_at')
        return
    op.add_column('jobs', sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True))
    op.execute('UPDATE jobs SET queued_at = created_at')
    # now() for rows older code inserts without it, during a rolling upgrade.
    op.alter_column('jobs', 'queued_at', nullable=False, server_default=sa.text('now()'))
    op.execute(POLICY_FUNCTION)
    op.execute('DROP TRIGGER jobs_notify_update ON jobs')
    op.execute(_0007._update_trigger(UPDATE_WHEN))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE jobs DROP COLUMN queued_at')
        return
    op.execute('DROP TRIGGER jobs_notify_update ON jobs')
    op.execute(_0007._update_trigger(_0007.UPDATE_WHEN))
    op.execute(_0007.GROUPS_FUNCTION)
    op.drop_column('jobs', 'queued_at')
