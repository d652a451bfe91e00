"""The lease-fenced writes of a running job, as SQL statements and column values.

Every write to a running job goes through `fence(claim)`: the UPDATE matches only while the
job is still running under the claim's lease token, so a rescued, cancelled or deleted job
is never overwritten by a stale worker. The row lock that UPDATE takes lasts until commit,
so what follows it in the same transaction (closing the execution) cannot race a rescuer.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, text, update

from ..scheduler.limits import OUTPUT_LIMIT_BYTES, clamp_progress
from ..scheduler.states import ExecutionStatus, JobStatus
from ..scheduler.store import ClaimedJob, Outcome
from .queue import Instant, executions, jobs

NO_LEASE = {"node": None, "lease_token": None, "lease_expires_at": None}
# Lease bookkeeping is no change a user sees: keep updated_at (the model's onupdate would
# otherwise stamp it with the host's clock on every heartbeat).
LEASE_ONLY = {"updated_at": jobs.c.updated_at}


def fence(claim: ClaimedJob) -> ColumnElement[bool]:
    """The lease fence: this job, still running, still under this claim's token."""
    return (
        (jobs.c.id == claim.id) & (jobs.c.status == JobStatus.RUNNING.value)
        & (jobs.c.lease_token == claim.lease_token)
    )


def next_status(claim: ClaimedJob, outcome: Outcome) -> JobStatus:
    """Where the job goes after this attempt (attempts are only edited while pending)."""
    if outcome.status is ExecutionStatus.COMPLETED:
        return JobStatus.COMPLETED
    if outcome.status is ExecutionStatus.CANCELLED:
        return JobStatus.CANCELLED
    return JobStatus.PENDING if claim.attempt < claim.max_attempts else JobStatus.FAILED


def job_end_values(status: JobStatus, outcome: Outcome, now: Instant) -> dict[str, Any]:
    """The job's new columns when an attempt ends in `status`."""
    values: dict[str, Any] = {"status": status.value, "updated_at": now.sql, **NO_LEASE}
    if outcome.progress is not None:
        values["progress"] = clamp_progress(outcome.progress)
    if status is JobStatus.COMPLETED:
        values.update(result=outcome.result, error=None)
    elif status is not JobStatus.CANCELLED:
        values["error"] = outcome.error
    if status is JobStatus.PENDING:
        values["run_at"] = now.plus(outcome.retry_delay)
    else:
        values.update(ended_values(now))
    return values


def ended_values(now: Instant) -> dict[str, Any]:
    """A job that ends now: finished_at, and whether that was after its deadline."""
    missed = jobs.c.deadline.is_not(None) & (jobs.c.deadline < now.sql)
    return {"finished_at": now.sql, "deadline_missed": missed}


def close_execution(
    claim: ClaimedJob, status: ExecutionStatus, now: Instant, error: str | None,
    output: str | None, fenced: bool = False,
) -> Any:
    """UPDATE closing the claim's execution; `fenced` also requires it open and ours."""
    where = executions.c.id == claim.execution_id
    if fenced:
        where = where & (executions.c.status == ExecutionStatus.RUNNING.value) & (
            executions.c.lease_token == claim.lease_token)
    values = closed_values(status, now, error)
    if output is not None:
        values["output"] = tail_output(output)
    return update(executions).where(where).values(values)


def closed_values(status: ExecutionStatus, now: Instant, error: Any) -> dict[str, Any]:
    return {
        "status": status.value, "finished_at": now.sql, "error": error,
        "duration_seconds": now.seconds_since(executions.c.started_at),
    }


def lost_error(node: ColumnElement[str]) -> ColumnElement[str]:
    return "lost: node " + func.coalesce(node, "?") + " stopped renewing the lease"


def rescue_statement(now: Instant, skip_locked: bool) -> Any:
    """One conditional UPDATE taking every expired lease: pending if attempts remain, else
    failed. A job finished or renewed meanwhile no longer matches, so a rescue never
    overwrites a newer state.

    With `skip_locked` (PostgreSQL) the expired rows are locked in id order in a
    MATERIALIZED CTE that skips rows other transactions hold (a finish, a cancel, another
    rescuer): no waiting, no deadlock, and a skipped job is looked at again next pass.
    """
    expired = (jobs.c.status == JobStatus.RUNNING.value) & (jobs.c.lease_expires_at <= now.sql)
    where = expired
    if skip_locked:
        locked = (select(jobs.c.id).where(expired).order_by(jobs.c.id)
                  .with_for_update(skip_locked=True).cte("expired").prefix_with("MATERIALIZED"))
        where = expired & (jobs.c.id == locked.c.id)
    retry = jobs.c.attempts < jobs.c.max_attempts
    ended = ended_values(now)
    return update(jobs).where(where).values(
        status=case((retry, JobStatus.PENDING.value), else_=JobStatus.FAILED.value),
        finished_at=case((retry, None), else_=ended["finished_at"]),
        deadline_missed=case((retry, jobs.c.deadline_missed), else_=ended["deadline_missed"]),
        error=lost_error(jobs.c.node), updated_at=now.sql, **NO_LEASE,
    ).returning(jobs.c.id, jobs.c.owner_id, jobs.c.status, jobs.c.attempts)


def tail_output(output: str) -> str:
    """The last 64 KiB of a task's output (SPEC §4), cut on a character boundary."""
    data = output.encode("utf-8", "replace")
    if len(data) <= OUTPUT_LIMIT_BYTES:
        return output
    return data[-OUTPUT_LIMIT_BYTES:].decode("utf-8", "ignore")


# -- PostgreSQL: many attempts ended in one statement --------------------------------------

# One row per attempt, as parallel arrays (one bound parameter each, so the statement's text
# and its prepared form never change with the batch size). `locked` takes the fenced job
# rows in id order, so two such batches, or a batch and a heartbeat, never deadlock; `ended`
# is the fence per row (still running, still this token); `closed` closes the executions
# of the jobs ended, and for a `cancelled` outcome whose lease a user's cancel already
# ended, the execution if it is still open under its own token (as `finish` does).
FINISH_BATCH_SQL = """
WITH v AS (
    SELECT * FROM unnest(
        CAST(:job_ids AS bigint[]), CAST(:tokens AS text[]), CAST(:execution_ids AS bigint[]),
        CAST(:job_statuses AS text[]), CAST(:execution_statuses AS text[]),
        CAST(:results AS text[]), CAST(:errors AS text[]), CAST(:outputs AS text[]),
        CAST(:progresses AS integer[]), CAST(:retry_delays AS double precision[])
    ) AS v(job_id, token, execution_id, job_status, execution_status, result, error, output,
           progress, retry_delay)
),
locked AS MATERIALIZED (
    SELECT jobs.id FROM jobs JOIN v ON jobs.id = v.job_id AND jobs.lease_token = v.token
    WHERE jobs.status = 'running'
    ORDER BY jobs.id
    FOR UPDATE OF jobs
),
ended AS (
    UPDATE jobs SET
        status = v.job_status,
        updated_at = now(),
        node = NULL, lease_token = NULL, lease_expires_at = NULL,
        progress = COALESCE(v.progress, jobs.progress),
        result = CASE WHEN v.job_status = 'completed' THEN CAST(v.result AS jsonb)
                      ELSE jobs.result END,
        error = CASE WHEN v.job_status = 'completed' THEN NULL
                     WHEN v.job_status = 'cancelled' THEN jobs.error
                     ELSE v.error END,
        run_at = CASE WHEN v.job_status = 'pending'
                      THEN now() + make_interval(secs => v.retry_delay)
                      ELSE jobs.run_at END,
        finished_at = CASE WHEN v.job_status = 'pending' THEN jobs.finished_at
                           ELSE now() END,
        deadline_missed = CASE WHEN v.job_status = 'pending' THEN jobs.deadline_missed
                               ELSE (jobs.deadline IS NOT NULL AND jobs.deadline < now()) END
    FROM v
    WHERE jobs.id = v.job_id AND jobs.id IN (SELECT id FROM locked)
      AND jobs.status = 'running' AND jobs.lease_token = v.token
    RETURNING jobs.id, jobs.owner_id, jobs.status, v.token
),
closed AS (
    UPDATE executions SET
        status = v.execution_status,
        finished_at = now(),
        error = v.error,
        duration_seconds = EXTRACT(epoch FROM now() - executions.started_at),
        output = COALESCE(v.output, executions.output)
    FROM v
    WHERE executions.id = v.execution_id
      AND (v.token IN (SELECT token FROM ended)
           OR (v.execution_status = 'cancelled' AND executions.status = 'running'
               AND executions.lease_token = v.token))
    RETURNING executions.id
)
SELECT ended.id, ended.owner_id, ended.status, ended.token,
       EXISTS (SELECT 1 FROM job_dependencies d WHERE d.depends_on_id = ended.id)
           AS has_dependents
FROM ended
"""
FINISH_BATCH = text(FINISH_BATCH_SQL)


def finish_batch_params(items: list[tuple[ClaimedJob, Outcome]]) -> dict[str, list[Any]]:
    """FINISH_BATCH's parallel arrays for these attempts (same order as `items`)."""
    params: dict[str, list[Any]] = {name: [] for name in (
        "job_ids", "tokens", "execution_ids", "job_statuses", "execution_statuses", "results",
        "errors", "outputs", "progresses", "retry_delays")}
    for claim, outcome in items:
        status = next_status(claim, outcome)
        params["job_ids"].append(claim.id)
        params["tokens"].append(claim.lease_token)
        params["execution_ids"].append(claim.execution_id)
        params["job_statuses"].append(status.value)
        params["execution_statuses"].append(outcome.status.value)
        params["results"].append(_json_text(outcome.result, status))
        params["errors"].append(outcome.error)
        params["outputs"].append(None if outcome.output is None else tail_output(outcome.output))
        params["progresses"].append(
            None if outcome.progress is None else clamp_progress(outcome.progress))
        params["retry_delays"].append(float(outcome.retry_delay))
    return params


def _json_text(result: Any, status: JobStatus) -> str | None:
    """The result as JSON text for a completed job (None stays SQL NULL, as the JSON
    column's none_as_null stores it); other statuses keep the job's result."""
    if status is not JobStatus.COMPLETED or result is None:
        return None
    return json.dumps(result, allow_nan=False)
