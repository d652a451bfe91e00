"""Lease arithmetic."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jobsched.scheduler.leases import (
    RESCUE_SLACK_SECONDS,
    heartbeat_interval,
    is_expired,
    lease_expires_at,
    rescue_interval,
)
from tests.helpers import T0


def test_lease_expires_lease_seconds_after_now():
    assert lease_expires_at(T0, 30) == T0 + timedelta(seconds=30)


def test_expiry_is_inclusive_and_no_lease_counts_as_expired():
    expires = T0 + timedelta(seconds=30)
    assert not is_expired(expires, T0 + timedelta(seconds=29.999))
    assert is_expired(expires, expires)
    assert is_expired(None, T0)
    assert is_expired(expires, expires + timedelta(seconds=1))


@pytest.mark.parametrize(("lease", "interval"), [(30, 10), (3, 1), (2, 2 / 3), (0.3, 0.2),
                                                  (3600, 30)])
def test_heartbeat_is_a_third_of_the_lease_within_bounds(lease, interval):
    assert heartbeat_interval(lease) == pytest.approx(interval)


def test_rescue_interval_meets_the_spec_deadline():
    for lease in (2, 30, 300, 3600):
        assert rescue_interval(lease) <= 5
        assert rescue_interval(lease) <= heartbeat_interval(lease)
    assert RESCUE_SLACK_SECONDS == 10  # SPEC §5: rescued within lease + 10 s of a crash
