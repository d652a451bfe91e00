"""How big and how long each field may be, one definition each.

A job's field limits and defaults (SPEC §4): the model's CHECK constraints, the service's
cleaning, the job form and the API schema all read them here. How big user input may be
(SPEC §14): shared by the API, the pages and the job service, so every way in refuses the
same input with the same bound. Request sizes (MAX_CONTENT_LENGTH, MAX_FORM_MEMORY_SIZE)
are Flask settings in config.py.
"""
from __future__ import annotations

from typing import Any

NAME_MAX = 200  # characters, at least 1
ATTEMPTS_MIN, ATTEMPTS_MAX = 1, 25
TIMEOUT_MIN, TIMEOUT_MAX = 1, 86_400  # seconds
PROGRESS_MIN, PROGRESS_MAX = 0, 100  # percent
OUTPUT_LIMIT_BYTES = 64 * 1024  # an execution keeps the last 64 KiB of output

CONCURRENCY_KEY_MAX = 100  # characters, at least 1 (SPEC §10)
UNIQUE_KEY_MAX = 200  # characters, at least 1 (SPEC §12)
CONCURRENCY_LIMIT_MIN, CONCURRENCY_LIMIT_MAX = 1, 1000

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_TIMEOUT_SECONDS = 3600
DEFAULT_CONCURRENCY_LIMIT = 1

ATTEMPTS_RANGE = (ATTEMPTS_MIN, ATTEMPTS_MAX)
TIMEOUT_RANGE = (TIMEOUT_MIN, TIMEOUT_MAX)
CONCURRENCY_LIMIT_RANGE = (CONCURRENCY_LIMIT_MIN, CONCURRENCY_LIMIT_MAX)
MAX_RUNNING_PER_USER_RANGE = (1, 10_000)  # JOBSCHED_MAX_RUNNING_PER_USER and users.max_running
# JOBSCHED_MAX_PENDING_PER_USER and users.max_pending (SPEC §10)
MAX_PENDING_PER_USER_RANGE = (1, 10_000_000)
DEFAULT_MAX_PENDING_PER_USER = 10_000

MAX_JSON_DEPTH = 32  # containers inside containers, in any JSON document or value we accept
MAX_DESCRIPTION = 10_000  # characters of a job's description
MAX_ARGS_BYTES = 64 * 1024  # a job's args as compact UTF-8 JSON
MAX_EMAIL = 254  # characters: the longest address SMTP can carry (RFC 5321)
MAX_PASSWORD = 1024  # characters: hashing is slow on purpose; refuse megabyte "passwords"


def clamp_progress(percent: float) -> int:
    """A progress report as stored: a whole percent within PROGRESS_MIN..PROGRESS_MAX."""
    return int(max(PROGRESS_MIN, min(PROGRESS_MAX, percent)))


def between_sql(expression: str, low: int, high: int) -> str:
    """The CHECK constraint text for `low <= expression <= high`."""
    return f"{expression} BETWEEN {low} AND {high}"


def nests_deeper_than(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parsed JSON value nests more than `limit` containers deep (a scalar is 0,
    `[]` is 1). Walked without recursion, so a deep value costs no stack."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children)
    return False
