"""Dependencies (SPEC §12): `job_dependencies` edges and `jobs.waiting_on`.

A job may run only once every job it depends on completed: `waiting_on` counts those not
completed yet, and the transaction that completes a job counts its dependents down
(storage/dependencies.py), so eligibility needs no polling. A pending job still waiting is
notified as `waiting`, not `pending`, so schedulers keep it out of their heaps until its
count reaches 0 — the update that does so notifies it as pending, with its queue state.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""
import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _revision(name: str) -> ModuleType:
    """An earlier revision's module, for its SQL pieces and to restore its function."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_0007 = _revision("0007_notify_released_slots")
_0009 = _revision("0009_queue_policy")

# 0009's function, with a pending job that still waits for others notified as `waiting`.
DEPENDENCIES_FUNCTION = _0009.POLICY_FUNCTION.replace(
    "    IF NEW.status <> 'pending' THEN\n"
    "        PERFORM pg_notify('jobsched_jobs',\n"
    "                          NEW.id || ':' || NEW.status ||",
    "    IF NEW.status <> 'pending' OR NEW.waiting_on > 0 THEN\n"
    "        PERFORM pg_notify('jobsched_jobs',\n"
    "                          NEW.id || ':' || CASE WHEN NEW.status = 'pending' THEN 'waiting'"
    " ELSE NEW.status END ||")
assert DEPENDENCIES_FUNCTION != _0009.POLICY_FUNCTION
UPDATE_WHEN = _0009.UPDATE_WHEN.replace(
    "OR OLD.timeout_seconds IS DISTINCT FROM NEW.timeout_seconds)",
    "OR OLD.timeout_seconds IS DISTINCT FROM NEW.timeout_seconds\n"
    "                  OR OLD.waiting_on IS DISTINCT FROM NEW.waiting_on)")
assert UPDATE_WHEN != _0009.UPDATE_WHEN


# The queue's partial index carries what the stats' live count of eligible jobs reads (0002),
# now `waiting_on` too, so that count stays an index-only scan (PostgreSQL only).
QUEUE_INCLUDE = ['run_at', 'deadline_missed', 'owner_id']


def _queue_index(include: list[str]) -> None:
    op.drop_index('ix_jobs_queue', table_name='jobs')
    op.create_index('ix_jobs_queue', 'jobs', ['priority_rank', 'deadline', 'id'],
                    postgresql_where=sa.text("status = 'pending'"), postgresql_include=include)


def upgrade():
    op.create_table(
        'job_dependencies',
        sa.Column('job_id', sa.Integer(), nullable=False),
        sa.Column('depends_on_id', sa.Integer(), nullable=False),
        sa.CheckConstraint('job_id <> depends_on_id', name=op.f('ck_job_dependencies_not_itself')),
        sa.ForeignKeyConstraint(['depends_on_id'], ['jobs.id'],
                                name=op.f('fk_job_dependencies_depends_on_id_jobs'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_dependencies_job_id_jobs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('job_id', 'depends_on_id', name=op.f('pk_job_dependencies')),
    )
    op.create_index('ix_job_dependencies_depends_on_id', 'job_dependencies', ['depends_on_id'])
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE jobs ADD COLUMN waiting_on INTEGER DEFAULT '0' NOT NULL "
                   "CONSTRAINT ck_jobs_waiting_on CHECK (waiting_on >= 0)")
        return
    op.add_column('jobs', sa.Column('waiting_on', sa.Integer(), server_default='0',
                                    nullable=False))
    op.create_check_constraint(op.f('ck_jobs_waiting_on'), 'jobs', 'waiting_on >= 0')
    _queue_index(QUEUE_INCLUDE + ['waiting_on'])
    op.execute(DEPENDENCIES_FUNCTION)
    op.execute('DROP TRIGGER jobs_notify_update ON jobs')
    op.execute(_0007._update_trigger(UPDATE_WHEN))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE jobs DROP COLUMN waiting_on')
    else:
        op.execute('DROP TRIGGER jobs_notify_update ON jobs')
        op.execute(_0007._update_trigger(_0009.UPDATE_WHEN))
        op.execute(_0009.POLICY_FUNCTION)
        _queue_index(QUEUE_INCLUDE)
        op.drop_constraint(op.f('ck_jobs_waiting_on'), 'jobs', type_='check')
        op.drop_column('jobs', 'waiting_on')
    op.drop_index('ix_job_dependencies_depends_on_id', table_name='job_dependencies')
    op.drop_table('job_dependencies')
