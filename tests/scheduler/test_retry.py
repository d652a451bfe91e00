"""Retry backoff (SPEC §4): 2 s × 2^(n−1), ±20 % jitter, never above 300 s."""
from __future__ import annotations

import random

import pytest

from jobsched.scheduler.retry import MAX_SECONDS, backoff


@pytest.mark.parametrize(("attempt", "base"), [(1, 2), (2, 4), (3, 8), (4, 16), (7, 128)])
def test_backoff_doubles_within_twenty_percent(attempt, base):
    rng = random.Random(attempt)
    delays = [backoff(attempt, rng) for _ in range(500)]
    assert all(0.8 * base <= d <= 1.2 * base for d in delays)
    assert max(delays) - min(delays) > 0.2 * base  # it really is jittered


@pytest.mark.parametrize("attempt", [8, 9, 10, 25, 10_000])
def test_backoff_is_capped_after_jitter(attempt):
    rng = random.Random(0)
    assert all(backoff(attempt, rng) <= MAX_SECONDS for _ in range(500))
    assert max(backoff(attempt, rng) for _ in range(500)) == MAX_SECONDS


def test_attempt_below_one_is_treated_as_the_first():
    rng = random.Random(1)
    assert all(1.6 <= backoff(0, rng) <= 2.4 for _ in range(100))


def test_same_seed_same_delay():
    assert backoff(3, random.Random(42)) == backoff(3, random.Random(42))
    assert isinstance(backoff(2), float)
