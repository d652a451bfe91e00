"""The coalescer's timing rules, on a fake clock (no server, no sockets)."""
from __future__ import annotations

import pytest

from jobsched.realtime.coalescer import Coalescer
from jobsched.scheduler.events import JobChanged, JobDeleted


def test_facts_wait_for_the_interval_and_the_latest_fact_per_job_wins():
    coalescer = Coalescer(interval=0.25, stats_interval=1.0)
    assert coalescer.due_in(0.0) is None
    coalescer.add(JobChanged(1, owner_id=10))
    first = coalescer.take(0.0)
    assert first.changed == {1: 10} and first.stats_owners == {10}
    coalescer.sent(first, 0.0)
    coalescer.add(JobChanged(2, owner_id=10))
    coalescer.add(JobChanged(2, owner_id=10))
    coalescer.add(JobDeleted(1, owner_id=10))
    assert coalescer.due_in(0.1) == pytest.approx(0.15)
    assert not coalescer.take(0.1)
    second = coalescer.take(0.25)
    assert (second.changed, second.deleted) == ({2: 10}, {1: 10})
    assert second.stats_owners == set()  # stats wait a full second


def test_the_next_batch_waits_a_full_interval_after_the_last_one_went_out():
    """Reading and serialising jobs takes time; it must not eat into the gap between sends."""
    coalescer = Coalescer(interval=0.25, stats_interval=1.0)
    coalescer.add(JobChanged(1, owner_id=10))
    batch = coalescer.take(0.0)
    coalescer.add(JobChanged(2, owner_id=10))
    coalescer.sent(batch, 0.2)  # the send took 200 ms
    assert coalescer.due_in(0.3) == pytest.approx(0.15)
    assert coalescer.take(0.44).changed == {}
    assert coalescer.take(0.45).changed == {2: 10}


def test_stats_go_out_at_most_once_a_second():
    coalescer = Coalescer(interval=0.25, stats_interval=1.0)
    coalescer.add(JobChanged(1, owner_id=10))
    coalescer.sent(coalescer.take(0.0), 0.0)
    coalescer.add(JobChanged(1, owner_id=11))
    coalescer.sent(coalescer.take(0.3), 0.3)
    assert coalescer.due_in(0.5) == pytest.approx(0.5)
    assert coalescer.take(1.0).stats_owners == {11}


def test_stats_another_process_just_sent_are_tried_again_a_second_later():
    coalescer = Coalescer(interval=0.25, stats_interval=1.0)
    coalescer.add(JobChanged(1, owner_id=10))
    batch = coalescer.take(0.0)
    coalescer.defer_stats(batch.stats_owners, 0.0)
    assert coalescer.take(0.5).stats_owners == set()
    assert coalescer.take(1.0).stats_owners == {10}
