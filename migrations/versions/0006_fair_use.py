"""Fair use (SPEC §10): concurrency keys on jobs and a per-user cap on running jobs.

`jobs.concurrency_key` / `jobs.concurrency_limit`: at most that many of one owner's jobs with
that key run at once. `users.max_running`: an admin's cap for one user (NULL: the
deployment's JOBSCHED_MAX_RUNNING_PER_USER). The claim counts running jobs per owner and key,
so running jobs get an index on exactly those.

SQLite adds the columns in place, with their CHECK constraints inline (a batch copy of
`jobs` would lose what SQLite cannot reflect, such as its partial indexes' conditions).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

LIMIT_CHECK = 'concurrency_limit BETWEEN 1 AND 1000'
KEY_CHECK = 'concurrency_key IS NULL OR length(concurrency_key) BETWEEN 1 AND 100'
RUNNING = "status = 'running'"


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE jobs ADD COLUMN concurrency_key VARCHAR(100) '
                   f'CONSTRAINT ck_jobs_concurrency_key CHECK ({KEY_CHECK})')
        op.execute("ALTER TABLE jobs ADD COLUMN concurrency_limit INTEGER DEFAULT '1' NOT NULL "
                   f'CONSTRAINT ck_jobs_concurrency_limit CHECK ({LIMIT_CHECK})')
    else:
        op.add_column('jobs', sa.Column('concurrency_key', sa.String(length=100), nullable=True))
        op.add_column('jobs', sa.Column('concurrency_limit', sa.Integer(), server_default='1',
                                        nullable=False))
        op.create_check_constraint(op.f('ck_jobs_concurrency_key'), 'jobs', KEY_CHECK)
        op.create_check_constraint(op.f('ck_jobs_concurrency_limit'), 'jobs', LIMIT_CHECK)
    op.add_column('users', sa.Column('max_running', sa.Integer(), nullable=True))
    op.create_index('ix_jobs_running_owner_key', 'jobs', ['owner_id', 'concurrency_key'],
                    postgresql_where=sa.text(RUNNING), sqlite_where=sa.text(RUNNING))


def downgrade():
    op.drop_index('ix_jobs_running_owner_key', table_name='jobs')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite ≥ 3.35 drops a column itself (a batch drop would copy the tables).
        op.execute('ALTER TABLE users DROP COLUMN max_running')
        op.execute('ALTER TABLE jobs DROP COLUMN concurrency_limit')
        op.execute('ALTER TABLE jobs DROP COLUMN concurrency_key')
        return
    op.drop_column('users', 'max_running')
    op.drop_constraint(op.f('ck_jobs_concurrency_limit'), 'jobs', type_='check')
    op.drop_constraint(op.f('ck_jobs_concurrency_key'), 'jobs', type_='check')
    op.drop_column('jobs', 'concurrency_limit')
    op.drop_column('jobs', 'concurrency_key')
