"""This process's scheduler metrics: histograms and counters labelled by node name.

They describe what the schedulers *in this process* did, so each process exposes its own:
the web process on `/metrics` (its embedded scheduler, if any), a `flask run-scheduler`
process on `--metrics-port`. Prometheus sums them across processes by the `node` label.
What describes the queue itself comes from the database instead (metrics/database.py).
"""
from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Histogram

CLAIM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
                14_400.0, 86_400.0)
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0,
                    14_400.0, 86_400.0)


class SchedulerMetrics:
    """The per-process series, registered on one registry (tests pass their own)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.claim_seconds = Histogram(
            "jobsched_claim_duration_seconds",
            "Time one atomic claim (the database transaction) took, by node.",
            ["node"], registry=registry, buckets=CLAIM_BUCKETS)
        self.queue_wait_seconds = Histogram(
            "jobsched_queue_wait_seconds",
            "Time a job waited between becoming eligible (created, or its run_at or retry "
            "time) and an attempt starting, by the node that started it.",
            ["node"], registry=registry, buckets=WAIT_BUCKETS)
        self.job_seconds = Histogram(
            "jobsched_job_duration_seconds",
            "Run time of attempts this node ended, by task and outcome.",
            ["node", "task", "outcome"], registry=registry, buckets=DURATION_BUCKETS)
        self.executions = Counter(
            "jobsched_executions_ended",
            "Attempts this node ended, by outcome (completed, failed, timed_out, cancelled; "
            "lost = handed back at shutdown).",
            ["node", "outcome"], registry=registry)
        self.rescues = Counter(
            "jobsched_rescues",
            "Running jobs whose expired lease this node rescued (their scheduler died).",
            ["node"], registry=registry)


_lock = threading.Lock()
_process_metrics: SchedulerMetrics | None = None


def process_metrics() -> SchedulerMetrics:
    """This process's one set of scheduler metrics, made on first use."""
    global _process_metrics
    with _lock:
        if _process_metrics is None:
            _process_metrics = SchedulerMetrics(CollectorRegistry(auto_describe=True))
        return _process_metrics
