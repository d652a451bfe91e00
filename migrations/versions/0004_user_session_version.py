"""Session versions: a per-user counter that is part of every login cookie's user id.

"Log out everywhere" and a password change raise it, so every session and remember cookie
issued before stops working (Flask-Login's alternative id).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # A plain-string default: SQLite then adds the column in place (an SQL expression
    # default would make the batch copy the table, losing the lower(username) index).
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(),
                                      server_default='0', nullable=False))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # A batch drop would copy the table, and SQLite cannot reflect the expression index
        # on lower(username): the copy would lose it. SQLite ≥ 3.35 drops a column itself.
        op.execute('ALTER TABLE users DROP COLUMN session_version')
        return
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
