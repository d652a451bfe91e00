"""Initial schema: users, API tokens, jobs, executions, scheduler nodes.

On PostgreSQL a trigger notifies `jobsched_jobs` with the job id whenever a change matters to
the schedulers' queues (a job created, edited or re-queued while pending, leaving pending, or
a running job cancelled or deleted), so every writer is covered without calling NOTIFY itself.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


NOTIFY_FUNCTION = """
CREATE FUNCTION jobsched_notify_job() RETURNS trigger AS $$
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

# Only what changes a queue (pending rows coming, going or re-ordered) or must stop a running
# attempt (cancel, delete) notifies; heartbeats, progress and completions do not.
NOTIFY_TRIGGERS = [
    """CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs FOR EACH ROW
       WHEN (NEW.status = 'pending') EXECUTE FUNCTION jobsched_notify_job()""",
    """CREATE TRIGGER jobs_notify_update AFTER UPDATE ON jobs FOR EACH ROW
       WHEN ((OLD.status = 'pending' OR NEW.status = 'pending'
              OR (OLD.status = 'running' AND NEW.status = 'cancelled'))
             AND (OLD.status IS DISTINCT FROM NEW.status
                  OR OLD.priority IS DISTINCT FROM NEW.priority
                  OR OLD.deadline IS DISTINCT FROM NEW.deadline
                  OR OLD.run_at IS DISTINCT FROM NEW.run_at))
       EXECUTE FUNCTION jobsched_notify_job()""",
    """CREATE TRIGGER jobs_notify_delete AFTER DELETE ON jobs FOR EACH ROW
       WHEN (OLD.status IN ('pending', 'running')) EXECUTE FUNCTION jobsched_notify_job()""",
]


def upgrade():
    op.create_table('scheduler_nodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('concurrency', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('running', 'draining', 'stopped')", name=op.f('ck_scheduler_nodes_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_nodes')),
    sa.UniqueConstraint('name', name=op.f('uq_scheduler_nodes_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_admin', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(username) BETWEEN 3 AND 32', name=op.f('ck_users_username_length')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('uq_users_username_lower', [sa.text('lower(username)')], unique=True)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('task', sa.String(length=100), nullable=False),
    sa.Column('args', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('priority', sa.String(length=6), nullable=False),
    sa.Column('priority_rank', sa.SmallInteger(), sa.Computed("CASE priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END", persisted=True), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_attempts', sa.Integer(), server_default='3', nullable=False),
    sa.Column('timeout_seconds', sa.Integer(), server_default='3600', nullable=False),
    sa.Column('progress', sa.SmallInteger(), nullable=True),
    sa.Column('result', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_missed', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('node', sa.String(length=200), nullable=True),
    sa.Column('lease_token', sa.String(length=36), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("priority IN ('high', 'medium', 'low')", name=op.f('ck_jobs_priority')),
    sa.CheckConstraint("status IN ('pending', 'running', 'completed', 'failed', 'cancelled')", name=op.f('ck_jobs_status')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_jobs_attempts')),
    sa.CheckConstraint('length(name) BETWEEN 1 AND 200', name=op.f('ck_jobs_name_length')),
    sa.CheckConstraint('max_attempts BETWEEN 1 AND 25', name=op.f('ck_jobs_max_attempts')),
    sa.CheckConstraint('progress IS NULL OR progress BETWEEN 0 AND 100', name=op.f('ck_jobs_progress')),
    sa.CheckConstraint('timeout_seconds BETWEEN 1 AND 86400', name=op.f('ck_jobs_timeout_seconds')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_jobs_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_jobs_owner_id_id', ['owner_id', 'id'], unique=False)
        batch_op.create_index('ix_jobs_queue', ['priority_rank', 'deadline', 'id'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.create_index('ix_jobs_running_lease', ['lease_expires_at'], unique=False, postgresql_where=sa.text("status = 'running'"), sqlite_where=sa.text("status = 'running'"))
        batch_op.create_index('ix_jobs_status_priority', ['status', 'priority'], unique=False)

    op.create_table('executions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('node', sa.String(length=200), nullable=False),
    sa.Column('lease_token', sa.String(length=36), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.Column('output', sa.Text(), server_default='', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('running', 'completed', 'failed', 'timed_out', 'cancelled', 'lost')", name=op.f('ck_executions_status')),
    sa.CheckConstraint('attempt >= 1', name=op.f('ck_executions_attempt')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_executions_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_executions'))
    )
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.create_index('ix_executions_job_id_id', ['job_id', 'id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(NOTIFY_FUNCTION)
        for trigger in NOTIFY_TRIGGERS:
            op.execute(trigger)



def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for event in ('insert', 'update', 'delete'):
            op.execute(f"DROP TRIGGER IF EXISTS jobs_notify_{event} ON jobs")
        op.execute("DROP FUNCTION IF EXISTS jobsched_notify_job()")
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_index('ix_executions_job_id_id')

    op.drop_table('executions')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_status_priority')
        batch_op.drop_index('ix_jobs_running_lease', postgresql_where=sa.text("status = 'running'"), sqlite_where=sa.text("status = 'running'"))
        batch_op.drop_index('ix_jobs_queue', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_jobs_owner_id_id')
        batch_op.drop_index('ix_jobs_created_at')

    op.drop_table('jobs')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('uq_users_username_lower')

    op.drop_table('users')
    op.drop_table('scheduler_nodes')
