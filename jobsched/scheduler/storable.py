"""Text every store accepts: PostgreSQL refuses NUL characters and lone surrogates (SQLite
takes them), and JSON has no NaN or Infinity. One check for what users send, one repair for
what tasks write (output or an error no store takes could never be recorded)."""
from __future__ import annotations

import math
from typing import Any


def storable_problem(value: Any) -> str | None:
    """Why a JSON value cannot be stored as is (both databases), or None.

    Walked without recursion, so depth costs no stack.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "Text may not contain NUL characters."
            if not item.isascii() and not _encodable(item):
                return "Text must be valid Unicode (no lone surrogates)."
        elif isinstance(item, float) and not math.isfinite(item):
            return "Numbers must be finite."
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return None


def storable_text(text: str) -> str:
    """`text` with what no store takes replaced by U+FFFD."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
