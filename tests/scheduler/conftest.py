"""Fixtures shared by the scheduler core's tests: a fake clock, an in-memory store on it, a
spawn that runs attempts in place, and a factory of nodes wired to them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import pytest

from jobsched.scheduler.node import SchedulerNode
from jobsched.scheduler.nodeconfig import NodeRuntime, NodeSettings
from jobsched.tasks.builtin import build_registry
from tests.helpers import FakeClock, RecordingSink, run_in_place
from tests.memory import MemoryStore

SETTINGS_FIELDS = frozenset(f.name for f in fields(NodeSettings))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock) -> MemoryStore:
    return MemoryStore(clock)


@pytest.fixture
def sync_spawn() -> Callable[..., Any]:
    """Run the attempt right away, on the caller's thread: ticks become deterministic."""
    return run_in_place


@pytest.fixture
def make_node() -> Callable[..., SchedulerNode]:
    return build_node


def build_node(store, clock=None, registry=None, sink=None, **options: Any) -> SchedulerNode:
    """A node named n1 on the store's clock, attempts run in place, backoff 2**attempt;
    `options` are fields of NodeSettings or NodeRuntime."""
    options = {"name": "n1", "clock": clock or store.now, "spawn": run_in_place,
               "backoff": lambda attempt: 2.0**attempt, **options}
    settings = {k: options.pop(k) for k in list(options) if k in SETTINGS_FIELDS}
    registry = registry or build_registry(enable_shell=False, modules=[])
    return SchedulerNode(store, registry, sink or RecordingSink(),
                         NodeSettings(**settings), NodeRuntime(**options))
