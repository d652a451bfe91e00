"""Database models (SPEC §4): columns, constraints and indexes, with tiny helpers only."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .orm import db
from .scheduler.clock import as_utc, utcnow
from .scheduler.limits import (
    ATTEMPTS_RANGE,
    CONCURRENCY_KEY_MAX,
    CONCURRENCY_LIMIT_RANGE,
    DEFAULT_CONCURRENCY_LIMIT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_PENDING_PER_USER_RANGE,
    NAME_MAX,
    PROGRESS_MAX,
    PROGRESS_MIN,
    TIMEOUT_RANGE,
    UNIQUE_KEY_MAX,
    between_sql,
)
from .scheduler.recurrence import CRON_MAX, DEFAULT_TIMEZONE, TIMEZONE_MAX, Overlap
from .scheduler.states import PRIORITY_RANK, ExecutionStatus, JobStatus, NodeStatus, Priority


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out; SQLite hands back naive values, read here as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        value = as_utc(value)
        if value is not None and dialect.name == "sqlite":
            return value.replace(tzinfo=None)  # stored as naive UTC so text order is time order
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value)


JsonValue = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _in(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("length(username) BETWEEN 3 AND 32", name="username_length"),
        Index("uq_users_username_lower", func.lower(text("username")), unique=True),
        CheckConstraint("max_pending IS NULL OR "
                        + between_sql("max_pending", *MAX_PENDING_PER_USER_RANGE),
                        name="max_pending"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Part of every login's user id (get_id): raising it ends every session and remember
    # cookie issued before ("log out everywhere", a password change).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Limits an admin set for this user (SPEC §10); None: the deployment's default.
    max_running: Mapped[int | None] = mapped_column(Integer)
    max_pending: Mapped[int | None] = mapped_column(Integer)
    may_use_high: Mapped[bool | None] = mapped_column(Boolean)

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def get_id(self) -> str:
        """Flask-Login's id for sessions and remember cookies: "<id>:<session version>"."""
        return f"{self.id}:{self.session_version}"

    def set_password(self, password: str, method: str = "scrypt") -> None:
        self.password_hash = generate_password_hash(password, method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, the prefix lets a user recognise it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")


def _priority_rank_sql() -> str:
    """PRIORITY_RANK as SQL (the stored priority_rank column): the last rank is the ELSE."""
    *ranked, (_, last) = sorted(PRIORITY_RANK.items(), key=lambda item: item[1])
    whens = " ".join(f"WHEN '{priority.value}' THEN {rank}" for priority, rank in ranked)
    return f"CASE priority {whens} ELSE {last} END"


PRIORITY_RANK_SQL = _priority_rank_sql()


# While a job holds its unique key (SPEC §12).
UNIQUE_WHILE = "unique_key IS NOT NULL AND status IN ('pending', 'running')"
UNIQUE_INDEX = "uq_jobs_owner_unique_key"


class Job(db.Model):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_in("priority", Priority), name="priority"),
        CheckConstraint(_in("status", JobStatus), name="status"),
        CheckConstraint(between_sql("length(name)", 1, NAME_MAX), name="name_length"),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint(between_sql("max_attempts", *ATTEMPTS_RANGE), name="max_attempts"),
        CheckConstraint(between_sql("timeout_seconds", *TIMEOUT_RANGE), name="timeout_seconds"),
        CheckConstraint("progress IS NULL OR "
                        + between_sql("progress", PROGRESS_MIN, PROGRESS_MAX), name="progress"),
        CheckConstraint(between_sql("concurrency_limit", *CONCURRENCY_LIMIT_RANGE),
                        name="concurrency_limit"),
        CheckConstraint("concurrency_key IS NULL OR "
                        + between_sql("length(concurrency_key)", 1, CONCURRENCY_KEY_MAX),
                        name="concurrency_key"),
        CheckConstraint("waiting_on >= 0", name="waiting_on"),
        CheckConstraint("unique_key IS NULL OR "
                        + between_sql("length(unique_key)", 1, UNIQUE_KEY_MAX),
                        name="unique_key"),
        # The scheduler's queue order (SPEC §5) over pending jobs only; deadline ASC puts
        # NULLs last on PostgreSQL, which matches "no deadline after any deadline".
        # Both partial indexes also carry what the stats' live count reads (jobs/queries.py
        # `_live_query`), so it never visits the table's pages on PostgreSQL.
        Index(
            "ix_jobs_queue", "priority_rank", "deadline", "id",
            postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'"),
            postgresql_include=["run_at", "deadline_missed", "owner_id", "waiting_on"],
        ),
        Index(
            "ix_jobs_running_lease", "lease_expires_at",
            postgresql_where=text("status = 'running'"), sqlite_where=text("status = 'running'"),
            postgresql_include=["deadline", "deadline_missed", "owner_id"],
        ),
        # The claim counts running jobs per owner and concurrency key (SPEC §10).
        Index(
            "ix_jobs_running_owner_key", "owner_id", "concurrency_key",
            postgresql_where=text("status = 'running'"), sqlite_where=text("status = 'running'"),
        ),
        # SPEC §12: one pending-or-running job per (owner, unique key), by construction.
        Index("uq_jobs_owner_unique_key", "owner_id", "unique_key", unique=True,
              postgresql_where=text(UNIQUE_WHILE), sqlite_where=text(UNIQUE_WHILE)),
        Index("ix_jobs_owner_id_id", "owner_id", "id"),
        Index("ix_jobs_status_priority", "status", "priority"),
        Index("ix_jobs_created_at", "created_at"),
        # SPEC §12: one job per schedule and fire time, however many schedulers race to
        # make it. NULLs are distinct, so jobs of no schedule (and run-now's) never collide.
        Index("uq_jobs_schedule_id_scheduled_for", "schedule_id", "scheduled_for", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    task: Mapped[str] = mapped_column(String(100), default="sleep")
    args: Mapped[dict[str, Any]] = mapped_column(JsonValue, default=dict)
    priority: Mapped[str] = mapped_column(String(6), default=Priority.MEDIUM.value)
    priority_rank: Mapped[int] = mapped_column(
        SmallInteger, Computed(PRIORITY_RANK_SQL, persisted=True)
    )
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_attempts: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_MAX_ATTEMPTS, server_default=str(DEFAULT_MAX_ATTEMPTS))
    timeout_seconds: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_TIMEOUT_SECONDS, server_default=str(DEFAULT_TIMEOUT_SECONDS))
    # SPEC §10: at most concurrency_limit of the owner's jobs with this key run at once.
    concurrency_key: Mapped[str | None] = mapped_column(String(CONCURRENCY_KEY_MAX))
    # The database's default only: statements written for older schemas leave it out.
    concurrency_limit: Mapped[int] = mapped_column(
        Integer, server_default=str(DEFAULT_CONCURRENCY_LIMIT))
    # SPEC §12: while a job of the owner with this key is pending or running, no other.
    unique_key: Mapped[str | None] = mapped_column(String(UNIQUE_KEY_MAX))
    # SPEC §12: how many of the jobs it depends on have not completed yet; eligible at 0.
    waiting_on: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress: Mapped[int | None] = mapped_column(SmallInteger)
    result: Mapped[Any] = mapped_column(JsonValue, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When it last joined the queue (created, or retried by its owner): aging counts from
    # the later of this and run_at (SPEC §10).
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_missed: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # The running attempt's lease: who holds it, the fencing token, and when it expires.
    node: Mapped[str | None] = mapped_column(String(200))
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The schedule that made it (SPEC §12) and the fire time it was made for (NULL for a
    # schedule's run-now). No foreign key: deleting a schedule clears it on its jobs itself
    # (schedules/service.py), and SQLite cannot reflect an ON DELETE added to `jobs` in place.
    schedule_id: Mapped[int | None] = mapped_column(Integer)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)

    owner: Mapped[User] = relationship(lazy="joined")
    # What it depends on (SPEC §12), loaded for a whole page of jobs in one query.
    dependencies: Mapped[list[JobDependency]] = relationship(
        primaryjoin="Job.id == JobDependency.job_id", viewonly=True, lazy="selectin",
        order_by="JobDependency.depends_on_id")
    executions: Mapped[list[Execution]] = relationship(
        back_populates="job", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Execution.id",
    )


class Schedule(db.Model):
    """A recurring job (SPEC §12): a cron in a time zone, and the job each fire time makes."""

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint(_in("overlap", Overlap), name="overlap"),
        CheckConstraint(between_sql("length(name)", 1, NAME_MAX), name="name_length"),
        Index("ix_schedules_owner_id_id", "owner_id", "id"),
        # What every scheduler asks each second: the enabled schedules due first.
        Index("ix_schedules_due", "next_run_at",
              postgresql_where=text("enabled"), sqlite_where=text("enabled")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    cron: Mapped[str] = mapped_column(String(CRON_MAX))
    timezone: Mapped[str] = mapped_column(String(TIMEZONE_MAX), default=DEFAULT_TIMEZONE)
    # The create fields of a job but run_at and deadline, plus deadline_seconds (relative to
    # each fire time), checked when the schedule is saved.
    job: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    overlap: Mapped[str] = mapped_column(String(5), default=Overlap.SKIP.value)
    # The next fire time still to handle (NULL: the cron fires no more).
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # No foreign key: the job may be deleted while the schedule remembers it.
    last_job_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship(lazy="joined")


class JobCount(db.Model):
    """Running totals behind the stats (jobs/counts.py): rows of changes per (owner, status,
    priority), appended by database triggers on `jobs` in the same transaction as the change
    and folded into one row per key now and then. Appending instead of updating one row per
    key means concurrent writers never wait on each other here."""

    __tablename__ = "job_counts"
    __table_args__ = (Index("ix_job_counts_owner_id", "owner_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    # No foreign key: the rows that take a deleted owner's jobs away are written while the
    # owner's row goes.
    owner_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    priority: Mapped[str] = mapped_column(String(6))
    jobs: Mapped[int] = mapped_column(BigInteger)
    waited: Mapped[int] = mapped_column(BigInteger)  # jobs with started_at
    wait_us: Mapped[int] = mapped_column(BigInteger)  # sum of started_at - created_at
    ran: Mapped[int] = mapped_column(BigInteger)  # jobs with started_at and finished_at
    run_us: Mapped[int] = mapped_column(BigInteger)  # sum of finished_at - started_at
    missed: Mapped[int] = mapped_column(BigInteger)  # jobs flagged deadline_missed


class JobDependency(db.Model):
    """`job_id` may run only once `depends_on_id` completed (SPEC §12). Deleting either job
    deletes the edge; the service settles the dependents first (storage/dependencies.py)."""

    __tablename__ = "job_dependencies"
    __table_args__ = (
        CheckConstraint("job_id <> depends_on_id", name="not_itself"),
        Index("ix_job_dependencies_depends_on_id", "depends_on_id"),
    )

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                        primary_key=True)
    depends_on_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                               primary_key=True)


class Execution(db.Model):
    """One attempt of a job (SPEC §4)."""

    __tablename__ = "executions"
    __table_args__ = (
        CheckConstraint(_in("status", ExecutionStatus), name="status"),
        CheckConstraint("attempt >= 1", name="attempt"),
        Index("ix_executions_job_id_id", "job_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=ExecutionStatus.RUNNING.value)
    node: Mapped[str] = mapped_column(String(200))
    lease_token: Mapped[str | None] = mapped_column(String(36))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    output: Mapped[str] = mapped_column(Text, default="", server_default="")
    error: Mapped[str | None] = mapped_column(Text)

    job: Mapped[Job] = relationship(back_populates="executions")


class SchedulerNode(db.Model):
    """A scheduler process: its heartbeat keeps its row, and its jobs' leases, alive."""

    __tablename__ = "scheduler_nodes"
    __table_args__ = (
        CheckConstraint(_in("status", NodeStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=NodeStatus.RUNNING.value)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
