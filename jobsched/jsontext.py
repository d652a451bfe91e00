"""JSON from users (API bodies, the job form's JSON fields): strict, and bounded before it is
parsed.

Python's parser recurses once per nesting level, so a body of 10,000 brackets would end in
a RecursionError deep inside it; the nesting is measured first, by a linear scan of the
text, and anything deeper than MAX_JSON_DEPTH is refused without being parsed.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from .scheduler.limits import MAX_JSON_DEPTH

# One token at a time: a whole string literal (so brackets inside strings do not count), a
# bracket, or a quote that starts no complete string. The string part is possessive and
# its two alternatives start differently, so a failed match costs one pass, never more.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"|[\[\]{}]|"', re.DOTALL)
TOO_DEEP = f"nests deeper than {MAX_JSON_DEPTH} levels"


class JsonTooDeep(ValueError):
    """JSON nested deeper than MAX_JSON_DEPTH (refused before parsing)."""

    def __init__(self) -> None:
        super().__init__(TOO_DEEP)


def loads(text: str | bytes) -> Any:
    """Parse strict JSON: no NaN/Infinity, finite numbers, at most MAX_JSON_DEPTH deep.
    Raises ValueError (JsonTooDeep for the depth) saying what is wrong."""
    if text_nests_deeper_than(text, MAX_JSON_DEPTH):
        raise JsonTooDeep()
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def text_nests_deeper_than(text: str | bytes, limit: int) -> bool:
    """Whether JSON text opens more than `limit` brackets at once; linear in its length."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")  # brackets and quotes are ASCII in any case
    if text.count("[") + text.count("{") <= limit:
        return False  # the usual body: too few brackets to matter, so skip the walk
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token in ("]", "}"):
            depth -= 1
        elif token == '"':
            return False  # a string that never ends: not JSON, which the parser will say
    return False


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value
