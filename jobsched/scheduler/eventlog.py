"""Structured fields for the log line of a job event (one line per event, SPEC §9).

The core logs each event once, as a readable message, and passes these fields as the
record's `extra`: the text format shows the message, the JSON format (JOBSCHED_LOG_FORMAT=
json) emits the fields as keys, so logs can be searched by job, node or transition.
"""
from __future__ import annotations

from typing import Any


def event_fields(
    job_id: int, node: str, event: str, *, transition: str | None = None,
    attempt: int | None = None, duration_seconds: float | None = None,
) -> dict[str, Any]:
    """`extra=` for a job event: job id, node, event name, and what is known of the rest."""
    fields: dict[str, Any] = {"job_id": job_id, "node": node, "event": event}
    if transition is not None:
        fields["transition"] = transition
    if attempt is not None:
        fields["attempt"] = attempt
    if duration_seconds is not None:
        fields["duration_seconds"] = round(duration_seconds, 3)
    return fields


def moved(source: str, target: str) -> str:
    """A job's status change as one token, e.g. `running->completed`."""
    return f"{source}->{target}"
