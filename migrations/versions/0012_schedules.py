"""Schedules (SPEC §12): the `schedules` table, and on jobs the schedule and fire time each
was made for, unique together so that a fire time makes one job however many schedulers
race to make it.

SQLite adds the columns of `jobs` in place (a batch copy of `jobs` would lose what SQLite
cannot reflect, such as its partial indexes' conditions). `jobs.schedule_id` has no foreign
key: deleting a schedule clears it on its jobs in the same transaction, and SQLite could not
reflect an ON DELETE added in place (the schema check would see drift).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

ENABLED = 'enabled'


def _create_schedules():
    op.create_table(
        'schedules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('cron', sa.String(length=200), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('job', sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql'),
                  nullable=False),
        sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('overlap', sa.String(length=5), nullable=False),
        sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_job_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("overlap IN ('allow', 'skip')", name=op.f('ck_schedules_overlap')),
        sa.CheckConstraint('length(name) BETWEEN 1 AND 200',
                           name=op.f('ck_schedules_name_length')),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE',
                                name=op.f('fk_schedules_owner_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_schedules')),
    )
    op.create_index('ix_schedules_owner_id_id', 'schedules', ['owner_id', 'id'])
    op.create_index('ix_schedules_due', 'schedules', ['next_run_at'],
                    postgresql_where=sa.text(ENABLED), sqlite_where=sa.text(ENABLED))


def upgrade():
    _create_schedules()
    op.add_column('jobs', sa.Column('schedule_id', sa.Integer(), nullable=True))
    op.add_column('jobs', sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True))
    op.create_index('uq_jobs_schedule_id_scheduled_for', 'jobs',
                    ['schedule_id', 'scheduled_for'], unique=True)


def downgrade():
    op.drop_index('uq_jobs_schedule_id_scheduled_for', table_name='jobs')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite ≥ 3.35 drops a column itself (a batch drop would copy the table).
        op.execute('ALTER TABLE jobs DROP COLUMN scheduled_for')
        op.execute('ALTER TABLE jobs DROP COLUMN schedule_id')
    else:
        op.drop_column('jobs', 'scheduled_for')
        op.drop_column('jobs', 'schedule_id')
    op.drop_index('ix_schedules_due', table_name='schedules')
    op.drop_index('ix_schedules_owner_id_id', table_name='schedules')
    op.drop_table('schedules')
