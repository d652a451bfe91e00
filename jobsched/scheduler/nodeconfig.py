"""What a `SchedulerNode` is told (settings) and what it is given to run with (runtime).

Two frozen values instead of sixteen keyword arguments: the CLI and the web build the
settings from the app's config; tests swap the runtime (a fake clock, a synchronous spawn).
"""
from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import retry
from .chores import Chore, Spawn, start_thread
from .clock import Clock, utcnow
from .policy import STRICT, QueuePolicy
from .store import Backoff, NodeInfo, Outcome

Offload = Callable[[Callable[[], Outcome]], Outcome]  # runs a blocking call elsewhere, waits


def default_node_name() -> str:
    """host:pid, unique per process on a host."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class NodeSettings:
    """How many attempts, how long a lease, how long to wait on stop, how often to resync."""

    name: str = field(default_factory=default_node_name)
    concurrency: int = 3  # slots of this node
    limit: int = 3  # attempts running at once across all nodes
    lease_seconds: int = 30
    grace_seconds: float = 30.0  # on stop: how long running attempts may finish
    reconcile_seconds: float = 30.0  # how often the heap is resynced with the store
    max_running_per_user: int | None = None  # SPEC §10's default cap; None: no cap
    queue_policy: QueuePolicy = STRICT  # SPEC §10's aging and overload policy

    def node_info(self) -> NodeInfo:
        """The node's row as this process registers it."""
        return NodeInfo(self.name, socket.gethostname(), os.getpid(), self.concurrency,
                        {"limit": self.limit, "lease_seconds": self.lease_seconds})


@dataclass(frozen=True)
class NodeRuntime:
    """The node's injected machinery: time, workers, waiting, locks, periodic chores."""

    clock: Clock = utcnow
    spawn: Spawn = start_thread
    backoff: Backoff = retry.backoff
    wake: Callable[[], Any] = threading.Event  # makes the events the node waits on
    # Runs a CPU-bound task body elsewhere (web mode: a real OS thread); None: in place.
    offload: Offload | None = None
    # Called with `now` on every healthy tick; it decides itself when it is due and must
    # not block (e.g. the retention prune spawns its own worker).
    housekeeping: Chore | None = None
    # Attempts may run on reused workers (WorkerThreads) rather than one spawn each.
    spawn_attempt: Spawn | None = None
    # The lock an attempt's context uses: it must work between `offload`'s threads and the
    # node's (under eventlet, the unpatched threading.Lock).
    os_lock: Callable[[], Any] = threading.Lock
