"""How big user input may be (SPEC §14): one named number per rule, shared by the API, the
pages and the job service, so every way in refuses the same input with the same bound.

Request sizes (MAX_CONTENT_LENGTH, MAX_FORM_MEMORY_SIZE) are Flask settings in config.py.
"""
from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 32  # containers inside containers, in any JSON document or value we accept
MAX_DESCRIPTION = 10_000  # characters of a job's description
MAX_ARGS_BYTES = 64 * 1024  # a job's args as compact UTF-8 JSON
MAX_EMAIL = 254  # characters: the longest address SMTP can carry (RFC 5321)
MAX_PASSWORD = 1024  # characters: hashing is slow on purpose; refuse megabyte "passwords"


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
