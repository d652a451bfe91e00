"""Job counts: the totals behind the stats, kept by triggers instead of counted on demand.

Every change to `jobs` appends what it changed in `job_counts` (per owner, status and
priority: jobs, time waited and run, deadlines missed), in the same transaction. On
PostgreSQL one statement-level trigger per event adds one row per key a statement touched,
however many jobs it changed (and TRUNCATE empties the counts); SQLite has row-level
triggers only. Existing jobs are counted once, here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

COLUMNS = "owner_id, status, priority, jobs, waited, wait_us, ran, run_us, missed"
EVENTS = ("insert", "update", "delete", "truncate")


def _pg_microseconds(start: str, end: str) -> str:
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) * 1000000)::bigint"


def _pg_sums(source: str, sign: str) -> str:
    """The counts of the rows of `source` (a transition table), times `sign`, per key."""
    wait = _pg_microseconds("created_at", "started_at")
    run = f"CASE WHEN finished_at IS NOT NULL THEN {_pg_microseconds('started_at', 'finished_at')} END"
    return f"""
        SELECT owner_id, status, priority, {sign} * count(*) AS jobs,
               {sign} * count(started_at) AS waited, {sign} * coalesce(sum({wait}), 0) AS wait_us,
               {sign} * count({run}) AS ran, {sign} * coalesce(sum({run}), 0) AS run_us,
               {sign} * count(*) FILTER (WHERE deadline_missed) AS missed
        FROM {source} GROUP BY owner_id, status, priority"""


def _pg_append(*parts: str) -> str:
    """Append the sums of `parts` per key, leaving out keys where nothing changed (an update
    of progress or a heartbeat adds no row)."""
    union = " UNION ALL ".join(parts)
    return f"""
        INSERT INTO job_counts ({COLUMNS})
        SELECT owner_id, status, priority, sum(jobs), sum(waited), sum(wait_us), sum(ran),
               sum(run_us), sum(missed)
        FROM ({union}) AS changes GROUP BY owner_id, status, priority
        HAVING sum(jobs) <> 0 OR sum(waited) <> 0 OR sum(wait_us) <> 0 OR sum(ran) <> 0
            OR sum(run_us) <> 0 OR sum(missed) <> 0;"""


PG_FUNCTION = f"""
CREATE FUNCTION jobsched_count_jobs() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM job_counts;
    ELSIF TG_OP = 'INSERT' THEN
        {_pg_append(_pg_sums('new_rows', '1'))}
    ELSIF TG_OP = 'DELETE' THEN
        {_pg_append(_pg_sums('old_rows', '-1'))}
    ELSE
        {_pg_append(_pg_sums('old_rows', '-1'), _pg_sums('new_rows', '1'))}
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""

PG_TRIGGERS = [
    """CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION jobsched_count_jobs()""",
    """CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION jobsched_count_jobs()""",
    """CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
       FOR EACH STATEMENT EXECUTE FUNCTION jobsched_count_jobs()""",
    """CREATE TRIGGER jobs_count_truncate AFTER TRUNCATE ON jobs
       FOR EACH STATEMENT EXECUTE FUNCTION jobsched_count_jobs()""",
]


def _sqlite_microseconds(start: str, end: str) -> str:
    return f"CAST(round((julianday({end}) - julianday({start})) * 86400000000.0) AS INTEGER)"


def _sqlite_row(row: str, sign: str) -> str:
    """The INSERT that counts one row (NEW or OLD) times `sign`."""
    wait = _sqlite_microseconds(f"{row}.created_at", f"{row}.started_at")
    run = (f"CASE WHEN {row}.finished_at IS NOT NULL THEN "
           f"{_sqlite_microseconds(f'{row}.started_at', f'{row}.finished_at')} END")
    return f"""
        INSERT INTO job_counts ({COLUMNS}) VALUES (
            {row}.owner_id, {row}.status, {row}.priority, {sign},
            {sign} * ({row}.started_at IS NOT NULL), {sign} * coalesce({wait}, 0),
            {sign} * (({run}) IS NOT NULL), {sign} * coalesce({run}, 0),
            {sign} * {row}.deadline_missed);"""


COUNTED = ("owner_id", "status", "priority", "created_at", "started_at", "finished_at",
           "deadline_missed")

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
        {_sqlite_row('NEW', '1')}
    END""",
    f"""CREATE TRIGGER jobs_count_update AFTER UPDATE OF {', '.join(COUNTED)} ON jobs
    WHEN {' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in COUNTED)} BEGIN
        {_sqlite_row('OLD', '-1')}
        {_sqlite_row('NEW', '1')}
    END""",
    f"""CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
        {_sqlite_row('OLD', '-1')}
    END""",
]


def _backfill(dialect: str) -> str:
    """The counts of the jobs already there."""
    if dialect == 'postgresql':
        return _pg_append(_pg_sums('jobs', '1'))
    wait = _sqlite_microseconds("created_at", "started_at")
    run = f"CASE WHEN finished_at IS NOT NULL THEN {_sqlite_microseconds('started_at', 'finished_at')} END"
    return f"""
        INSERT INTO job_counts ({COLUMNS})
        SELECT owner_id, status, priority, count(*), count(started_at),
               coalesce(sum({wait}), 0), count({run}), coalesce(sum({run}), 0),
               sum(deadline_missed)
        FROM jobs GROUP BY owner_id, status, priority"""


# The partial indexes of pending and running jobs carry the columns the stats' live count
# reads, so that count is an index-only scan (PostgreSQL; SQLite has no INCLUDE).
PARTIAL_INDEXES = {
    'ix_jobs_queue': (['priority_rank', 'deadline', 'id'], 'pending',
                      ['run_at', 'deadline_missed', 'owner_id']),
    'ix_jobs_running_lease': (['lease_expires_at'], 'running',
                              ['deadline', 'deadline_missed', 'owner_id']),
}


def _recreate_partial_indexes(include: bool) -> None:
    for name, (columns, status, extra) in PARTIAL_INDEXES.items():
        op.drop_index(name, table_name='jobs')
        op.create_index(name, 'jobs', columns, postgresql_where=sa.text(f"status = '{status}'"),
                        postgresql_include=extra if include else [])


def upgrade():
    op.create_table('job_counts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('priority', sa.String(length=6), nullable=False),
    sa.Column('jobs', sa.BigInteger(), nullable=False),
    sa.Column('waited', sa.BigInteger(), nullable=False),
    sa.Column('wait_us', sa.BigInteger(), nullable=False),
    sa.Column('ran', sa.BigInteger(), nullable=False),
    sa.Column('run_us', sa.BigInteger(), nullable=False),
    sa.Column('missed', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_counts'))
    )
    with op.batch_alter_table('job_counts', schema=None) as batch_op:
        batch_op.create_index('ix_job_counts_owner_id', ['owner_id'], unique=False)

    # Triggers first: creating them locks out writers to `jobs` until this migration
    # commits, so no change falls between the backfill and the first trigger.
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(PG_FUNCTION)
    for trigger in PG_TRIGGERS if dialect == 'postgresql' else SQLITE_TRIGGERS:
        op.execute(trigger)
    op.execute(_backfill(dialect))
    if dialect == 'postgresql':
        _recreate_partial_indexes(include=True)


def downgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for event in EVENTS:
        op.execute(f"DROP TRIGGER IF EXISTS jobs_count_{event}{' ON jobs' if postgresql else ''}")
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS jobsched_count_jobs()")
        _recreate_partial_indexes(include=False)
    with op.batch_alter_table('job_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_job_counts_owner_id')

    op.drop_table('job_counts')
