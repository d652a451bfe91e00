"""Timestamps in and out of the JSON form: ISO-8601, naive means UTC, answers carry offsets."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from jobsched.jobs.serialize import iso, parse_datetime

UTC = UTC


@pytest.mark.parametrize("text, expected", [
    ("2031-01-02T03:04:05", datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2031-01-02T03:04:05Z", datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2031-01-02T03:04:05.250+02:00", datetime(2031, 1, 2, 1, 4, 5, 250000, tzinfo=UTC)),
    ("2031-01-02T03:04:05-0530", datetime(2031, 1, 2, 8, 34, 5, tzinfo=UTC)),
    ("2031-01-02 03:04", datetime(2031, 1, 2, 3, 4, tzinfo=UTC)),
    ("2031-01-02", datetime(2031, 1, 2, tzinfo=UTC)),
    (" 2031-01-02T03:04:05Z ", datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)),
    (None, None),
])
def test_iso_8601_in_with_or_without_an_offset(text, expected):
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed is None or parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["", "soon", "2031-02-30T00:00:00", "0000-01-01T00:00:00",
                                   "0001-01-01T00:00:00+01:00", 1700000000, 1.5, [], {}])
def test_anything_else_is_refused_with_a_reason(value):
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_datetime(value)


def test_answers_always_carry_an_offset():
    assert iso(datetime(2031, 1, 2, 3, 4, 5)) == "2031-01-02T03:04:05+00:00"
    plus_two = timezone(timedelta(hours=2))
    assert iso(datetime(2031, 1, 2, 3, 4, 5, tzinfo=plus_two)) == "2031-01-02T01:04:05+00:00"
    assert iso(None) is None
