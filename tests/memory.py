"""`MemoryStore`: `InMemoryJobStore` plus what tests do from outside the scheduler.

Play the web side (add, update, cancel, retry, delete), read snapshots (get, jobs, node)
and make time pass for leases (expire_leases). A subclass in the tests, so the core ships
only the JobStore contract; it works on the store's state under the store's lock.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from typing import Any

from jobsched.scheduler.clock import as_utc
from jobsched.scheduler.memory import InMemoryJobStore, JobRecord, NodeRecord
from jobsched.scheduler.states import ExecutionStatus, JobStatus, Priority
from jobsched.scheduler.store import QueuedJob


class MemoryStore(InMemoryJobStore):
    """The in-memory store with the helpers tests use to drive and inspect it."""

    def add(
        self, *, name: str = "job", task: str = "sleep", args: dict[str, Any] | None = None,
        priority: Priority | str = Priority.MEDIUM, deadline: datetime | None = None,
        run_at: datetime | None = None, max_attempts: int = 3, timeout_seconds: int = 3600,
        owner_id: int = 1, description: str = "", concurrency_key: str | None = None,
        concurrency_limit: int = 1,
    ) -> QueuedJob:
        """Create a pending job and return its queue view (`.id` is the new job's id)."""
        with self._lock:
            now = self._clock()
            job = JobRecord(
                self._next_job_id, name, task, dict(args or {}), Priority(priority),
                as_utc(deadline), as_utc(run_at), max_attempts, timeout_seconds, owner_id,
                now, now, description, concurrency_key=concurrency_key,
                concurrency_limit=concurrency_limit,
            )
            self._jobs[job.id] = job
            self._next_job_id += 1
            return job.queued()

    def get(self, job_id: int) -> JobRecord:
        """A snapshot of the job with its executions (KeyError when there is none)."""
        with self._lock:
            return copy.deepcopy(self._jobs[job_id])

    def jobs(self) -> list[JobRecord]:
        """Snapshots of every job, by id."""
        with self._lock:
            return [copy.deepcopy(j) for _, j in sorted(self._jobs.items())]

    def node(self, name: str) -> NodeRecord | None:
        """A snapshot of a node's row."""
        with self._lock:
            record = self._nodes.get(name)
            return None if record is None else replace(record)

    def update(self, job_id: int, **fields: Any) -> QueuedJob:
        """Change fields of a job as the edit API would (no state checks: tests' power)."""
        with self._lock:
            job = self._jobs[job_id]
            for name, value in fields.items():
                if not hasattr(job, name):
                    raise AttributeError(f"a job has no field {name!r}")
                setattr(job, name, _coerce(name, value))
            job.updated_at = self._clock()
            return job.queued()

    def cancel(self, job_id: int) -> None:
        """User cancel: pending|running -> cancelled; the lease and running execution end."""
        with self._lock:
            job = self._jobs[job_id]
            now = self._clock()
            self._close_running(job, ExecutionStatus.CANCELLED, now, "cancelled")
            self._end(job, JobStatus.CANCELLED, now)

    def retry(self, job_id: int) -> None:
        """Manual retry: failed|cancelled -> pending with attempts starting again from 0."""
        with self._lock:
            job = self._jobs[job_id]
            self._set_status(job, JobStatus.PENDING, self._clock())
            job.attempts, job.finished_at, job.deadline_missed = 0, None, False
            job.run_at = None

    def delete(self, job_id: int) -> None:
        """Delete a job with its executions (a running job's lease is then lost)."""
        with self._lock:
            del self._jobs[job_id]

    def expire_leases(self, node: str | None = None) -> int:
        """Make time pass for leases: every running lease (of `node`, if given) expires now."""
        with self._lock:
            now = self._clock()
            running = [j for j in self._jobs.values() if j.status is JobStatus.RUNNING]
            hit = [j for j in running if node is None or j.node == node]
            for job in hit:
                job.lease_expires_at = now
            return len(hit)


def _coerce(name: str, value: Any) -> Any:
    if name == "priority":
        return Priority(value)
    if name == "status":
        return JobStatus(value)
    if name in ("deadline", "run_at"):
        return as_utc(value)
    return value

