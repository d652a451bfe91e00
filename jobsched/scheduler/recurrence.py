"""Recurring jobs (SPEC §12): when a schedule fires, in plain Python.

Fire times come from cronsim (Debian cron's semantics, including its DST rules: a daily job
in the hour a spring-forward skips runs right after the change, and once on a fall-back
day) evaluated in the schedule's IANA time zone (zoneinfo), and are handed on in UTC.

`due_tick` is the one rule of firing: a schedule whose `next_run_at` has come fires its
latest fire time not after now, once — after downtime the missed ones before it are dropped
— unless it is overlap="skip" and its previous job is still pending or running; either way
its next run becomes the first fire time after now.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

CRON_FIELDS = 5
CRON_MAX = 200  # characters; longer is no cron a person writes
TIMEZONE_MAX = 64
PREVIEW_COUNT = 5
DEFAULT_TIMEZONE = "UTC"


class Overlap(str, Enum):
    """What a fire time does while the schedule's previous job is pending or running."""

    ALLOW = "allow"
    SKIP = "skip"


class CronError(ValueError):
    """Not a 5-field cron expression that ever fires."""


class TimezoneError(ValueError):
    """Not an IANA time zone name."""


def parse_timezone(name: object) -> ZoneInfo:
    """The zone called `name`, e.g. "Europe/Berlin"; TimezoneError otherwise."""
    if not isinstance(name, str) or not 1 <= len(name) <= TIMEZONE_MAX:
        raise TimezoneError(f"Use an IANA time zone name of 1–{TIMEZONE_MAX} characters, "
                            "e.g. Europe/Berlin.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a path-like key such as "../x"
        raise TimezoneError(f"Unknown time zone {name!r}; use an IANA name such as "
                            "Europe/Berlin.") from None


def check_cron(expression: object, now: datetime) -> str:
    """`expression` as stored (fields separated by one space) if it is a 5-field cron that
    fires at least once in the next 50 years; CronError saying why not otherwise.

    Cost is bounded: cronsim refuses a day that no chosen month has (`0 0 30 2 *`) while
    parsing, and gives up on a search after 50 years, skipping whole days and months.
    """
    if not isinstance(expression, str) or len(expression) > CRON_MAX:
        raise CronError(f"Use a cron expression of at most {CRON_MAX} characters.")
    fields = expression.split()
    if len(fields) != CRON_FIELDS:
        raise CronError("Use 5 fields: minute hour day-of-month month day-of-week, "
                        "e.g. */5 * * * *.")
    normalised = " ".join(fields)
    try:
        next(CronSim(normalised, now.astimezone(UTC)))
    except CronSimError as error:
        raise CronError(f"Not a valid cron expression: {error}.") from None
    except StopIteration:
        raise CronError("This cron expression never fires.") from None
    return normalised


def fire_times(cron: str, zone: str, after: datetime) -> Iterator[datetime]:
    """The fire times strictly after `after`, in UTC, earliest first (ends after 50 years
    without one)."""
    local = after.astimezone(ZoneInfo(zone))
    for fire in CronSim(cron, local):
        yield fire.astimezone(UTC)


def next_fire_times(cron: str, zone: str, after: datetime,
                    count: int = PREVIEW_COUNT) -> list[datetime]:
    """The next `count` fire times strictly after `after`, in UTC."""
    times = fire_times(cron, zone, after)
    return [fire for fire, _ in zip(times, range(count), strict=False)]


def next_fire(cron: str, zone: str, after: datetime) -> datetime | None:
    """The first fire time strictly after `after`, in UTC; None if there is none."""
    return next(fire_times(cron, zone, after), None)


def latest_fire(cron: str, zone: str, at: datetime) -> datetime | None:
    """The last fire time at or before `at`, in UTC; None if there is none."""
    # cronsim steps back from the whole second: start one second later so `at` counts.
    start = at.astimezone(ZoneInfo(zone)).replace(microsecond=0) + timedelta(seconds=1)
    fire = next(CronSim(cron, start, reverse=True), None)
    return None if fire is None else fire.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What the rule needs of a schedule."""

    cron: str
    timezone: str
    next_run_at: datetime | None
    overlap: Overlap
    previous_active: bool  # its last job is pending or running


@dataclass(frozen=True, slots=True)
class Tick:
    """One decision: fire a job for `fire_at`, or skip `skipped`; next run at `next_run_at`."""

    fire_at: datetime | None
    skipped: datetime | None
    next_run_at: datetime | None


def due_tick(state: ScheduleState, now: datetime) -> Tick | None:
    """What a schedule does at `now`: None until its next run has come (see module doc)."""
    if state.next_run_at is None or now < state.next_run_at:
        return None
    latest = latest_fire(state.cron, state.timezone, now)
    due = latest if latest is not None and latest >= state.next_run_at else None
    following = next_fire(state.cron, state.timezone, now)
    if due is not None and state.overlap is Overlap.SKIP and state.previous_active:
        return Tick(fire_at=None, skipped=due, next_run_at=following)
    return Tick(fire_at=due, skipped=None, next_run_at=following)
