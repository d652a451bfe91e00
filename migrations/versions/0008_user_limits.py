"""Per-user limits an admin sets (SPEC §10): `users.max_pending` and `users.may_use_high`.

NULL in either means the deployment's default (JOBSCHED_MAX_PENDING_PER_USER,
JOBSCHED_HIGH_PRIORITY). SQLite adds the columns in place, the CHECK inline: a batch copy of
`users` would lose the expression index on lower(username), which SQLite cannot reflect.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

PENDING_CHECK = 'max_pending IS NULL OR max_pending BETWEEN 1 AND 10000000'


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE users ADD COLUMN max_pending INTEGER '
                   f'CONSTRAINT ck_users_max_pending CHECK ({PENDING_CHECK})')
        op.execute('ALTER TABLE users ADD COLUMN may_use_high BOOLEAN')
        return
    op.add_column('users', sa.Column('max_pending', sa.Integer(), nullable=True))
    op.add_column('users', sa.Column('may_use_high', sa.Boolean(), nullable=True))
    op.create_check_constraint(op.f('ck_users_max_pending'), 'users', PENDING_CHECK)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite ≥ 3.35 drops a column itself, but not one a CHECK names: the constraint is
        # the column's own here, so it goes with it.
        op.execute('ALTER TABLE users DROP COLUMN may_use_high')
        op.execute('ALTER TABLE users DROP COLUMN max_pending')
        return
    op.drop_constraint(op.f('ck_users_max_pending'), 'users', type_='check')
    op.drop_column('users', 'may_use_high')
    op.drop_column('users', 'max_pending')
