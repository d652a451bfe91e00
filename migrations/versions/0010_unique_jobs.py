"""Unique jobs (SPEC §12): `jobs.unique_key`, one pending-or-running job per owner and key.

A partial unique index over (owner_id, unique_key) while the job is pending or running makes
"at most one" hold by construction, however many creates race; a finished job frees its key.
SQLite adds the column in place, the CHECK inline (a batch copy of `jobs` would lose what
SQLite cannot reflect, such as its partial indexes' conditions).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

KEY_CHECK = 'unique_key IS NULL OR length(unique_key) BETWEEN 1 AND 200'
WHILE_QUEUED = "unique_key IS NOT NULL AND status IN ('pending', 'running')"


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE jobs ADD COLUMN unique_key VARCHAR(200) '
                   f'CONSTRAINT ck_jobs_unique_key CHECK ({KEY_CHECK})')
    else:
        op.add_column('jobs', sa.Column('unique_key', sa.String(length=200), nullable=True))
        op.create_check_constraint(op.f('ck_jobs_unique_key'), 'jobs', KEY_CHECK)
    op.create_index('uq_jobs_owner_unique_key', 'jobs', ['owner_id', 'unique_key'], unique=True,
                    postgresql_where=sa.text(WHILE_QUEUED), sqlite_where=sa.text(WHILE_QUEUED))


def downgrade():
    op.drop_index('uq_jobs_owner_unique_key', table_name='jobs')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE jobs DROP COLUMN unique_key')
        return
    op.drop_constraint(op.f('ck_jobs_unique_key'), 'jobs', type_='check')
    op.drop_column('jobs', 'unique_key')
