"""Lease arithmetic: when a running job's lease ends, and how often it must be renewed.

A lease is renewed by the node's heartbeat every `heartbeat_interval`; a node that stops
heartbeating loses its jobs once the lease expires, and any live node rescues them within
`rescue_interval` of that (SPEC §5: within lease + 10 s of a crash).
"""
from __future__ import annotations

from datetime import datetime, timedelta

# SPEC §5 promises a rescue within lease + this many seconds of a crash.
RESCUE_SLACK_SECONDS = 10.0
# Never heartbeat more often than this, nor less often than MAX (long leases still get a
# steady heartbeat, so an operator's node page stays fresh).
MIN_HEARTBEAT_SECONDS = 0.2
MAX_HEARTBEAT_SECONDS = 30.0
# How often a node looks for expired leases; half the slack leaves room for a slow store.
MAX_RESCUE_INTERVAL_SECONDS = RESCUE_SLACK_SECONDS / 2


def lease_expires_at(now: datetime, lease_seconds: float) -> datetime:
    """When a lease taken or renewed at `now` ends."""
    return now + timedelta(seconds=lease_seconds)


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    """True when the lease no longer protects the job (no lease at all counts as expired)."""
    return expires_at is None or expires_at <= now


def heartbeat_interval(lease_seconds: float) -> float:
    """Renew three times per lease, so two missed heartbeats still keep the lease."""
    return min(max(lease_seconds / 3, MIN_HEARTBEAT_SECONDS), MAX_HEARTBEAT_SECONDS)


def rescue_interval(lease_seconds: float) -> float:
    """How often to look for expired leases: often enough to meet the rescue deadline."""
    return min(heartbeat_interval(lease_seconds), MAX_RESCUE_INTERVAL_SECONDS)
