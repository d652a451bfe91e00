"""The JSON shapes the API answers with (SPEC §4 and §11), as typed dictionaries."""
from __future__ import annotations

from typing import Any, TypedDict

# A job in one of these states changes no more unless someone retries it.
FINISHED = frozenset({"completed", "failed", "cancelled"})


class Job(TypedDict, total=False):
    """A job as the API and the Socket.IO events send it (SPEC §4; later fields optional)."""

    id: int
    name: str
    description: str
    task: str
    args: dict[str, Any]
    priority: str
    effective_priority: str
    deadline: str | None
    run_at: str | None
    status: str
    attempts: int
    max_attempts: int
    timeout_seconds: int
    progress: int | None
    result: Any
    error: str | None
    owner: str
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None
    deadline_missed: bool
    concurrency_key: str | None
    concurrency_limit: int
    unique_key: str | None
    depends_on: list[int]
    schedule_id: int | None
    queue_position: int | None
    forecast_start_at: str | None
    deadline_risk: str | None


class Waiting(TypedDict):
    code: str
    text: str


class ForecastBasis(TypedDict):
    task_run_seconds_p50: float | None
    task_run_seconds_p90: float | None
    samples: int


class Forecast(TypedDict):
    """Where a job stands (SPEC §11's GET /jobs/api/jobs/{id}/forecast/)."""

    queue_position: int | None
    jobs_ahead: int | None
    forecast_start_at: str | None
    forecast_finish_at: str | None
    deadline_risk: str
    waiting: Waiting | None
    basis: ForecastBasis
