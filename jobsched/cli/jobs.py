"""`flask prune-jobs` (delete finished jobs older than an age, with their executions) and
`flask recount-jobs`."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from ..realtime.emitter import external_sink
from ..scheduler.clock import utcnow
from ..scheduler.events import EventSink, NullSink
from ..storage.counts import recount
from ..storage.retention import BATCH_SIZE, count_prunable, prune_jobs

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
MAX_AGE = timedelta(days=36_500)  # beyond a century is a typo, and overflows datetimes
_AGE = re.compile(r"(\d{1,12})\s*([smhd])")


class Age(click.ParamType):
    """A positive age such as `30d`, `12h`, `90m` or `3600s`."""

    name = "age"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> timedelta:
        """Parse NUMBER+UNIT (s, m, h, d); anything else is a usage error (exit status 2)."""
        if isinstance(value, timedelta):
            return value
        match = _AGE.fullmatch(str(value).strip().lower())
        if match is None:
            self.fail(f"{value!r} is not an age like 30d, 12h, 90m or 3600s", param, ctx)
        amount, unit = int(match.group(1)), UNITS[match.group(2)]
        if amount == 0:
            self.fail("the age must be more than zero", param, ctx)
        if amount > MAX_AGE / timedelta(**{unit: 1}):
            self.fail(f"{value!r} is more than {MAX_AGE.days} days", param, ctx)
        return timedelta(**{unit: amount})


@click.command("prune-jobs")
@with_appcontext
@click.option("--older-than", "older_than", type=Age(), default=None,
              help="Delete jobs finished longer ago than this, e.g. 30d, 12h "
                   "(default: JOBSCHED_RETENTION_DAYS).")
@click.option("--dry-run", is_flag=True, default=False,
              help="Only count the jobs that would be deleted.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=BATCH_SIZE,
              show_default=True, help="Jobs deleted per transaction.")
def prune_jobs_command(older_than: timedelta | None, dry_run: bool, batch_size: int) -> None:
    """Delete completed, failed and cancelled jobs (with their executions) that finished
    longer ago than --older-than; pending and running jobs are never touched."""
    older_than = older_than or _configured_age()
    now = utcnow()
    cutoff = f"finished before {(now - older_than).isoformat(timespec='seconds')}"
    if dry_run:
        count = count_prunable(db.engine, older_than, now)
        click.echo(f"Would delete {count} finished jobs ({cutoff}).")
        return
    sink = _sink()
    try:
        deleted = prune_jobs(db.engine, older_than, now, batch_size=batch_size, sink=sink)
    finally:
        close = getattr(sink, "close", None)
        if close is not None:
            close()
    click.echo(f"Deleted {deleted} finished jobs ({cutoff}).")


def _configured_age() -> timedelta:
    days = current_app.config.get("JOBSCHED_RETENTION_DAYS")
    if not days:
        raise click.UsageError("give --older-than (e.g. 30d) or set JOBSCHED_RETENTION_DAYS")
    return timedelta(days=days)


def _sink() -> EventSink:
    """Open dashboards hear about the deletions through Redis, when there is one."""
    if not current_app.config.get("REDIS_URL"):
        return NullSink()
    return external_sink(current_app._get_current_object())


@click.command("recount-jobs")
@with_appcontext
def recount_jobs_command() -> None:
    """Count every job again for the stats (after loading jobs with triggers disabled)."""
    counted = recount(db.engine)
    click.echo(f"Counted {counted} jobs.")
