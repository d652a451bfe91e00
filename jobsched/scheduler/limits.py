"""A job's field limits and defaults (SPEC §4), one definition each: the model's CHECK
constraints, the service's cleaning, the job form and the API schema all read them here."""
from __future__ import annotations

NAME_MAX = 200  # characters, at least 1
ATTEMPTS_MIN, ATTEMPTS_MAX = 1, 25
TIMEOUT_MIN, TIMEOUT_MAX = 1, 86_400  # seconds
PROGRESS_MIN, PROGRESS_MAX = 0, 100  # percent
OUTPUT_LIMIT_BYTES = 64 * 1024  # an execution keeps the last 64 KiB of output

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_TIMEOUT_SECONDS = 3600

ATTEMPTS_RANGE = (ATTEMPTS_MIN, ATTEMPTS_MAX)
TIMEOUT_RANGE = (TIMEOUT_MIN, TIMEOUT_MAX)


def clamp_progress(percent: float) -> int:
    """A progress report as stored: a whole percent within PROGRESS_MIN..PROGRESS_MAX."""
    return int(max(PROGRESS_MIN, min(PROGRESS_MAX, percent)))


def between_sql(expression: str, low: int, high: int) -> str:
    """The CHECK constraint text for `low <= expression <= high`."""
    return f"{expression} BETWEEN {low} AND {high}"
