"""Scheduler nodes are running or stopped: no process ever wrote the status 'draining' (a
draining node keeps 'running' until it stops), so the CHECK constraint stops allowing it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

CONSTRAINT = 'ck_scheduler_nodes_status'


def _allow(statuses):
    listed = ", ".join(f"'{status}'" for status in statuses)
    with op.batch_alter_table('scheduler_nodes', schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CONSTRAINT), type_='check')
        batch_op.create_check_constraint(op.f(CONSTRAINT), f"status IN ({listed})")


def upgrade():
    _allow(('running', 'stopped'))


def downgrade():
    _allow(('running', 'draining', 'stopped'))
