"""Process logging: one line per record on stderr, as text or JSON (JOBSCHED_LOG_FORMAT).

Entry points call `configure_logging` (wsgi.py, `flask run-scheduler`); importing the
package configures nothing. Job events carry structured fields (job_id, node, event,
transition, attempt, duration_seconds; see scheduler/eventlog.py): the JSON format emits
them as keys, the text format shows the message, which already names the job and node.
"""
from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import Flask
from flask.logging import default_handler

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_MARK = "_jobsched_handler"  # set on the handler this module installs, to replace it later


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, extra fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single line of JSON (newlines in values are escaped)."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(extra_fields(record))
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The human format, with UTC ISO-8601 times so lines from several machines compare."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """The record's time in UTC, to the millisecond."""
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a log call passed with `extra=` (not the record's own attributes)."""
    return {k: v for k, v in vars(record).items()
            if k not in _RECORD_ATTRIBUTES and not k.startswith("_")}


def make_formatter(log_format: str) -> logging.Formatter:
    """The formatter for a JOBSCHED_LOG_FORMAT value (`text` or `json`)."""
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return TextFormatter()
    raise ValueError(f"JOBSCHED_LOG_FORMAT must be text or json, not {log_format!r}")


def configure_logging(
    source: Flask | Mapping[str, Any], stream: TextIO | None = None, level: int = logging.INFO,
) -> logging.Handler:
    """Send every record to `stream` (stderr) in the configured format; returns the handler.

    Calling it again replaces the handler it installed before. Given the app, Flask's own
    handler on the app's logger (the parent of every `jobsched.*` logger) is removed, or
    each record would be printed twice.
    """
    settings = source.config if isinstance(source, Flask) else source
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(make_formatter(settings.get("JOBSCHED_LOG_FORMAT", "text")))
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    if isinstance(source, Flask):
        source.logger.removeHandler(default_handler)
    return handler
