"""Retry backoff (SPEC §4): 2 s × 2^(n−1) before attempt n+1, ±20 % jitter, at most 300 s."""
from __future__ import annotations

import random

BASE_SECONDS = 2.0
JITTER = 0.2
MAX_SECONDS = 300.0
# 2 s × 2^8 is already past the cap; a larger exponent only risks float overflow.
_MAX_EXPONENT = 8


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based) before the next one.

    Jitter spreads retries of jobs that failed together; the cap applies after the jitter,
    so the delay never exceeds MAX_SECONDS.
    """
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    base = BASE_SECONDS * 2**exponent
    factor = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return min(base * factor, MAX_SECONDS)
