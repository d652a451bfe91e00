"""How big and how long: the full benchmark's sizes, and the smoke run's tiny ones."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plan:
    """Every size and duration the figures use."""

    smoke: bool
    runs: int  # each figure's value is the median of this many runs
    budget_seconds: float  # the whole run; past it everything is stopped
    # 1. throughput
    throughput_jobs: int
    throughput_limit: int
    throughput_timeout: float
    # 2. submit rate
    submit_seconds: float
    submit_clients: tuple[int, ...]
    # 3. latency
    latency_jobs: int
    gap_jobs: int
    event_jobs: int
    event_spacing: float
    # 4. scale
    scale_sizes: tuple[int, ...]
    claim_samples: int
    history_jobs: int
    page_samples: int
    # 5. scheduling quality (simulated seconds of arrivals)
    sim_seconds: float


FULL = Plan(
    smoke=False, runs=3, budget_seconds=1500.0,
    throughput_jobs=20_000, throughput_limit=32, throughput_timeout=90.0,
    submit_seconds=5.0, submit_clients=(1, 16),
    latency_jobs=200, gap_jobs=200, event_jobs=40, event_spacing=0.5,
    scale_sizes=(1_000, 10_000, 100_000, 1_000_000), claim_samples=200,
    history_jobs=1_000_000, page_samples=20,
    sim_seconds=600.0,
)

SMOKE = Plan(
    smoke=True, runs=1, budget_seconds=110.0,
    throughput_jobs=300, throughput_limit=32, throughput_timeout=30.0,
    submit_seconds=0.5, submit_clients=(1, 16),
    latency_jobs=10, gap_jobs=10, event_jobs=3, event_spacing=0.3,
    scale_sizes=(100, 1_000), claim_samples=10,
    history_jobs=2_000, page_samples=3,
    sim_seconds=60.0,
)
