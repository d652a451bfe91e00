"""Fair use across processes (SPEC §10): two `flask run-scheduler` sharing one PostgreSQL
never let one owner run more than its cap, nor one concurrency key more than its limit,
and the slots a capped owner cannot use go to everyone else's jobs."""
from __future__ import annotations

import threading
from collections import Counter, defaultdict
from datetime import datetime

import pytest
from sqlalchemy import Engine, text

from tests.helpers import wait_until
from tests.process.jobs_db import (
    add_jobs,
    closed_intervals,
    count_where,
    job_rows,
    max_overlap,
    runs,
    seed_user,
)
from tests.process.procs import wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LIMIT, PER_USER, KEY_LIMIT = 4, 2, 1
SAMPLE_SECONDS = 0.05


class RunningSampler:
    """Reads what runs, per owner and per key, every 50 ms while the schedulers work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.most_by_owner: Counter[int] = Counter()
        self.most_by_key: Counter[tuple[int, str]] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RunningSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        query = text("SELECT owner_id, concurrency_key, count(*) FROM jobs "
                     "WHERE status = 'running' GROUP BY owner_id, concurrency_key")
        while not self._stop.wait(SAMPLE_SECONDS):
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            owners: Counter[int] = Counter()
            for owner, key, n in rows:
                owners[owner] += n
                if key is not None:
                    self.most_by_key[(owner, key)] = max(self.most_by_key[(owner, key)], n)
            for owner, n in owners.items():
                self.most_by_owner[owner] = max(self.most_by_owner[owner], n)
            self.samples += 1


def overlaps_by(engine: Engine, ids: list[int], group) -> dict[object, int]:
    """The most executions of one group open at once, from the recorded intervals."""
    rows = job_rows(engine, ids)
    intervals: dict[object, list[tuple[datetime, datetime]]] = defaultdict(list)
    for run in runs(engine, ids):
        [interval] = closed_intervals([run])
        intervals[group(rows[run.job_id])].append(interval)
    return {key: max_overlap(found) for key, found in intervals.items()}


def test_caps_and_keys_hold_across_two_schedulers(engine, procs, pg_url):
    flooder, deployer, other = (seed_user(engine, name) for name in ("flood", "deploy", "other"))
    floods = add_jobs(engine, flooder, 30, task="sleep", args={"seconds": 0.2}, priority="high")
    deploys = add_jobs(engine, deployer, 12, task="sleep", args={"seconds": 0.1},
                       concurrency_key="deploy-prod", concurrency_limit=KEY_LIMIT)
    others = add_jobs(engine, other, 12, task="sleep", args={"seconds": 0.1}, priority="low")
    every = floods + deploys + others
    settings = {"JOBSCHED_MAX_CONCURRENT_JOBS": LIMIT, "JOBSCHED_MAX_RUNNING_PER_USER": PER_USER}
    with RunningSampler(engine) as sampler:
        a = procs.scheduler(pg_url, "a", **settings)
        b = procs.scheduler(pg_url, "b", **settings)
        wait_ready(engine, a, b)
        wait_until(lambda: count_where(engine, "status = 'completed'") == len(every),
                   timeout=120, interval=0.2, message="not every job completed")
    assert sampler.samples > 20
    assert max(sampler.most_by_owner.values()) <= PER_USER
    assert sampler.most_by_key[(deployer, "deploy-prod")] == KEY_LIMIT
    assert max(overlaps_by(engine, every, lambda job: job.owner_id).values()) <= PER_USER
    assert overlaps_by(engine, deploys, lambda job: job.concurrency_key) == {
        "deploy-prod": KEY_LIMIT}
    assert max_overlap(closed_intervals(runs(engine, every))) <= LIMIT
    # The flood at high priority did not keep the low-priority jobs of someone else waiting
    # until it was over: the slots its cap left free went to them meanwhile.
    rows = job_rows(engine, every)
    assert min(rows[i].started_at for i in others) < max(rows[i].started_at for i in floods)
    assert {run.node for run in runs(engine, every)} == {"a", "b"}
