"""jobsched: a web job scheduler. `create_app()` (jobsched/app.py) wires the pieces.

Importing the package imports nothing else, so the scheduler core and the storage layer
load without the web side; `create_app` is looked up on first use (`flask --app jobsched`
and `from jobsched import create_app` both find it).
"""
from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
