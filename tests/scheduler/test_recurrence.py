"""The firing rule (SPEC §12) in plain Python: cron and time zone checks, DST-correct fire
times, and what a due schedule does (latest missed tick only, overlap=skip)."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from jobsched.scheduler.recurrence import (
    CronError,
    Overlap,
    ScheduleState,
    TimezoneError,
    check_cron,
    due_tick,
    latest_fire,
    next_fire_times,
    parse_timezone,
)

NOW = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def state(cron: str = "*/5 * * * *", next_run_at: datetime | None = None, *,
          overlap: Overlap = Overlap.SKIP, previous_active: bool = False,
          zone: str = "UTC") -> ScheduleState:
    return ScheduleState(cron=cron, timezone=zone, next_run_at=next_run_at, overlap=overlap,
                         previous_active=previous_active)


def test_check_cron_normalises_the_spacing():
    assert check_cron("  */5  *  * * 1-5 ", NOW) == "*/5 * * * 1-5"


@pytest.mark.parametrize("bad", [
    "* * * *", "* * * * * *", "", "61 * * * *", "* * * * MONDAY", "not a cron at all",
    "0 0 30 2 *", "0 0 31 4,6,9,11 *", 5, None, "* " * 150,
])
def test_check_cron_refuses_what_is_no_5_field_cron_that_fires(bad):
    with pytest.raises(CronError):
        check_cron(bad, NOW)


@pytest.mark.parametrize("expression", [
    "0 0 30 2 *", "0 0 * 2 MON#5", "59 23 * 2 6#5", "0 0 29 2 MON", "0 0 L 2 SUN#5",
    "0-59 0-23 1-31 1-12 0-7",
])
def test_no_cron_costs_more_than_a_fraction_of_a_second(expression):
    """Rare or impossible days are refused while parsing or found by skipping whole days."""
    started = time.process_time()
    try:
        checked = check_cron(expression, NOW)
        next_fire_times(checked, "Europe/Berlin", NOW)
        latest_fire(checked, "Europe/Berlin", NOW)
    except CronError:
        pass
    assert time.process_time() - started < 0.5


@pytest.mark.parametrize("bad", ["", "Mars/Olympus", "../../etc/passwd", "Europe/", 3, None,
                                 "x" * 65])
def test_parse_timezone_refuses_what_is_no_iana_zone(bad):
    with pytest.raises(TimezoneError):
        parse_timezone(bad)


def test_parse_timezone_accepts_iana_names():
    assert parse_timezone("Europe/Berlin").key == "Europe/Berlin"
    assert parse_timezone("UTC").key == "UTC"


def test_fire_times_follow_berlin_across_spring_forward():
    """02:30 does not exist on 2026-03-29 in Berlin: Debian cron runs it right after the
    change (03:00 CEST = 01:00 UTC); the offset then moves from +1 to +2."""
    fires = next_fire_times("30 2 * * *", "Europe/Berlin", utc(2026, 3, 27), 4)
    assert fires == [utc(2026, 3, 27, 1, 30), utc(2026, 3, 28, 1, 30),
                     utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]


def test_fire_times_follow_berlin_across_fall_back():
    """02:30 happens twice on 2026-10-25 in Berlin: a daily job runs once (the first), an
    hourly one in each real hour."""
    daily = next_fire_times("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24), 3)
    assert daily == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30),
                     utc(2026, 10, 26, 1, 30)]
    hourly = next_fire_times("0 * * * *", "Europe/Berlin", utc(2026, 10, 24, 23, 30), 4)
    assert hourly == [utc(2026, 10, 25, 0), utc(2026, 10, 25, 1), utc(2026, 10, 25, 2),
                      utc(2026, 10, 25, 3)]


def test_latest_fire_counts_the_instant_itself():
    assert latest_fire("0 12 * * *", "UTC", utc(2030, 1, 1, 12)) == utc(2030, 1, 1, 12)
    assert latest_fire("0 12 * * *", "UTC", utc(2030, 1, 1, 11, 59)) == utc(2029, 12, 31, 12)


def test_a_schedule_is_not_due_before_its_next_run():
    assert due_tick(state(next_run_at=NOW + timedelta(seconds=1)), NOW) is None
    assert due_tick(state(next_run_at=None), NOW) is None


def test_a_due_schedule_fires_its_fire_time_and_moves_to_the_next():
    tick = due_tick(state(next_run_at=utc(2030, 1, 1, 12)), NOW)
    assert tick.fire_at == utc(2030, 1, 1, 12)
    assert tick.skipped is None
    assert tick.next_run_at == utc(2030, 1, 1, 12, 5)


def test_after_downtime_only_the_latest_missed_fire_time_fires():
    """Down from 09:00 to 12:00:30: 36 fire times were missed; one job, for 12:00."""
    tick = due_tick(state(next_run_at=utc(2030, 1, 1, 9)), NOW)
    assert tick.fire_at == utc(2030, 1, 1, 12)
    assert tick.next_run_at == utc(2030, 1, 1, 12, 5)


def test_overlap_skip_skips_while_the_previous_job_is_active():
    skipping = state(next_run_at=utc(2030, 1, 1, 12), previous_active=True)
    tick = due_tick(skipping, NOW)
    assert (tick.fire_at, tick.skipped) == (None, utc(2030, 1, 1, 12))
    assert tick.next_run_at == utc(2030, 1, 1, 12, 5)


def test_overlap_skip_fires_once_the_previous_job_is_done():
    tick = due_tick(state(next_run_at=utc(2030, 1, 1, 12), previous_active=False), NOW)
    assert tick.fire_at == utc(2030, 1, 1, 12)


def test_overlap_allow_fires_while_the_previous_job_is_active():
    allowing = state(next_run_at=utc(2030, 1, 1, 12), overlap=Overlap.ALLOW,
                     previous_active=True)
    assert due_tick(allowing, NOW).fire_at == utc(2030, 1, 1, 12)


def test_fire_times_are_computed_in_the_schedules_zone():
    """09:00 in Tokyo (UTC+9, no DST) is 00:00 UTC."""
    tick = due_tick(state("0 9 * * *", utc(2030, 1, 1), zone="Asia/Tokyo"), NOW)
    assert tick.fire_at == utc(2030, 1, 1)
    assert tick.next_run_at == utc(2030, 1, 2)
