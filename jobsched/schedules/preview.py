"""The next fire times of a cron in a zone, for the form's preview (computed server-side)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..jobs.errors import ValidationFailed
from ..jobs.serialize import iso
from ..scheduler.recurrence import (
    CronError,
    TimezoneError,
    check_cron,
    next_fire_times,
    parse_timezone,
)

LOCAL_FORMAT = "%a %Y-%m-%d %H:%M %Z"  # e.g. "Sun 2026-03-29 03:00 CEST"


def preview(cron: Any, zone: Any, now: datetime) -> dict[str, Any]:
    """The next 5 fire times after `now`, in UTC and as local text; ValidationFailed naming
    `cron` and/or `timezone`."""
    errors: dict[str, str] = {}
    try:
        cron = check_cron(cron, now)
    except CronError as error:
        errors["cron"] = str(error)
    try:
        zone = parse_timezone(zone).key
    except TimezoneError as error:
        errors["timezone"] = str(error)
    if errors:
        raise ValidationFailed(errors, "Invalid cron or time zone.")
    fires = next_fire_times(cron, zone, now)
    local = [fire.astimezone(ZoneInfo(zone)).strftime(LOCAL_FORMAT) for fire in fires]
    return {"cron": cron, "timezone": zone, "next": [iso(f) for f in fires], "local": local}
