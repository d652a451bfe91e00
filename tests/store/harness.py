"""One face for the three stores under the contract suite: memory, SQLite and PostgreSQL.

A `Backend` holds the store under test plus what the web side does to jobs (add, edit,
cancel, delete) and a way to make leases run out, so each contract test is written once.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, create_engine, delete, insert, select, text, update

from jobsched.database import engine_options
from jobsched.models import User
from jobsched.scheduler.clock import utcnow
from jobsched.scheduler.states import ExecutionStatus, JobStatus, Priority
from jobsched.storage.store import SqlJobStore, executions, jobs, nodes
from tests.helpers import FakeClock
from tests.memory import MemoryStore

TABLES = "executions, jobs, scheduler_nodes, api_tokens, users"


@dataclass
class MemoryBackend:
    """The in-memory store; its own helpers play the web side."""

    store: MemoryStore
    clock: FakeClock
    name: str = "memory"

    def add(self, **fields: Any) -> int:
        return self.store.add(**fields).id

    def user(self, name: str, max_running: int | None = None) -> int:
        """Another owner (an id of its own), with an admin's cap when given."""
        owner_id = 100 + len(name) * 1000 + sum(map(ord, name))
        if max_running is not None:
            self.store.max_running[owner_id] = max_running
        return owner_id

    def job(self, job_id: int) -> Any:
        return self.store.get(job_id)

    def executions(self, job_id: int) -> list[Any]:
        return self.store.get(job_id).executions

    def update(self, job_id: int, **fields: Any) -> None:
        self.store.update(job_id, **fields)

    def cancel(self, job_id: int) -> None:
        self.store.cancel(job_id)

    def delete(self, job_id: int) -> None:
        self.store.delete(job_id)

    def expire_leases(self) -> None:
        self.store.expire_leases()

    def other_store(self) -> MemoryStore:
        """The store as another scheduler sees it (the same object: one process's memory)."""
        return self.store

    def node(self, name: str) -> Any:
        record = self.store.node(name)
        return None if record is None else SimpleNamespace(
            status=record.status, heartbeat_at=record.heartbeat_at,
            lease_expires_at=record.lease_expires_at, stopped_at=record.stopped_at)

    def close(self) -> None:
        return None


class SqlBackend:
    """SqlJobStore on a migrated database; the web side is written here in plain SQL."""

    def __init__(self, engine: Engine, clock: FakeClock | None) -> None:
        self.engine = engine
        self.clock = clock
        self.store = SqlJobStore(engine, clock=clock or utcnow)
        self._others: list[Engine] = []
        self.name = engine.dialect.name
        with engine.begin() as conn:
            self.owner_id = conn.scalar(insert(User.__table__).values(
                username="owner", password_hash="x", created_at=utcnow(),
            ).returning(User.__table__.c.id))

    def user(self, name: str, max_running: int | None = None) -> int:
        """Another owner, with an admin's cap (users.max_running) when given."""
        with self.engine.begin() as conn:
            return conn.scalar(insert(User.__table__).values(
                username=name, password_hash="x", created_at=utcnow(), max_running=max_running,
            ).returning(User.__table__.c.id))

    def add(self, *, priority: Priority | str = Priority.MEDIUM, **fields: Any) -> int:
        values = {"name": "job", "task": "sleep", "args": {}, "max_attempts": 3,
                  "timeout_seconds": 3600, "owner_id": self.owner_id, **fields}
        with self.engine.begin() as conn:
            return conn.scalar(insert(jobs).values(
                priority=Priority(priority).value, status=JobStatus.PENDING.value,
                created_at=utcnow(), updated_at=utcnow(), **values,
            ).returning(jobs.c.id))

    def job(self, job_id: int) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
        return SimpleNamespace(**{**row._asdict(), "status": JobStatus(row.status),
                                  "priority": Priority(row.priority)})

    def executions(self, job_id: int) -> list[Any]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(executions).where(
                executions.c.job_id == job_id).order_by(executions.c.id)).all()
        return [SimpleNamespace(**{**row._asdict(), "status": ExecutionStatus(row.status)})
                for row in rows]

    def update(self, job_id: int, **fields: Any) -> None:
        if "priority" in fields:
            fields["priority"] = Priority(fields["priority"]).value
        if "status" in fields:
            fields["status"] = JobStatus(fields["status"]).value
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**fields))

    def cancel(self, job_id: int, close_execution: bool = True) -> None:
        """What the service's cancel does: the lease ends with the running execution."""
        now = self.store.now()
        with self.engine.begin() as conn:
            if close_execution:
                conn.execute(update(executions).where(
                    executions.c.job_id == job_id,
                    executions.c.status == ExecutionStatus.RUNNING.value,
                ).values(status=ExecutionStatus.CANCELLED.value, finished_at=now,
                         error="cancelled"))
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(
                status=JobStatus.CANCELLED.value, finished_at=now, node=None,
                lease_token=None, lease_expires_at=None))

    def delete(self, job_id: int) -> None:
        # The foreign key's ON DELETE CASCADE takes the executions (SQLite: PRAGMA on).
        with self.engine.begin() as conn:
            conn.execute(delete(jobs).where(jobs.c.id == job_id))

    def expire_leases(self) -> None:
        """Every running lease ends now (the next store call is at or after it)."""
        now = self.store.now()
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.status == JobStatus.RUNNING.value).values(
                lease_expires_at=now))

    def other_store(self) -> SqlJobStore:
        """A store on its own engine and connections, as another scheduler process has."""
        engine = create_engine(self.engine.url, **engine_options(str(self.engine.url)))
        self._others.append(engine)
        return SqlJobStore(engine, clock=self.clock or utcnow)

    def node(self, name: str) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(select(nodes).where(nodes.c.name == name)).first()
        return None if row is None else SimpleNamespace(**row._asdict())

    def close(self) -> None:
        for engine in self._others:
            engine.dispose()
        if self.name == "postgresql":
            with self.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        self.engine.dispose()

