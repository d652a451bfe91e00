"""GroupCommit: concurrent callers share one write, and each gets its own answer."""
from __future__ import annotations

import threading

import pytest

from jobsched.storage.group_commit import BatchFailed, GroupCommit


class GatedWriter:
    """write_batch that records its batches; the first call waits until `gate` opens."""

    def __init__(self, fail_on: object = None) -> None:
        self.batches: list[list[int]] = []
        self.entered, self.gate = threading.Event(), threading.Event()
        self.fail_on = fail_on

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.gate.wait(10)
        if self.fail_on in items:
            raise ValueError(f"cannot store {self.fail_on}")
        return [item * 10 for item in items]


def submit_in_thread(group: GroupCommit, item: int, answers: dict[int, object]) -> threading.Thread:
    def run() -> None:
        try:
            answers[item] = group.submit(item)
        except Exception as exc:
            answers[item] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_for_waiters(group: GroupCommit, count: int) -> None:
    """Poll until `count` callers are queued behind the write in flight."""
    for _ in range(1000):
        with group._cond:
            if len(group._waiting) >= count:
                return
        threading.Event().wait(0.01)
    raise AssertionError(f"{count} callers never queued")


def test_a_lone_caller_writes_at_once_and_gets_its_answer():
    writer = GatedWriter()
    writer.gate.set()
    group = GroupCommit(writer)
    assert group.submit(4) == 40
    assert writer.batches == [[4]]


def test_callers_arriving_during_a_write_share_the_next_one():
    writer = GatedWriter()
    group = GroupCommit(writer)
    answers: dict[int, object] = {}
    first = submit_in_thread(group, 1, answers)
    assert writer.entered.wait(10)
    others = [submit_in_thread(group, item, answers) for item in (2, 3, 4)]
    wait_for_waiters(group, 3)
    writer.gate.set()
    for thread in (first, *others):
        thread.join(10)
    assert writer.batches[0] == [1]
    assert sorted(writer.batches[1]) == [2, 3, 4] and len(writer.batches) == 2
    assert answers == {1: 10, 2: 20, 3: 30, 4: 40}


def test_a_batch_never_exceeds_max_batch():
    writer = GatedWriter()
    group = GroupCommit(writer, max_batch=2)
    answers: dict[int, object] = {}
    first = submit_in_thread(group, 1, answers)
    assert writer.entered.wait(10)
    others = [submit_in_thread(group, item, answers) for item in (2, 3, 4, 5, 6)]
    wait_for_waiters(group, 5)
    writer.gate.set()
    for thread in (first, *others):
        thread.join(10)
    assert all(len(batch) <= 2 for batch in writer.batches)
    assert answers == {item: item * 10 for item in range(1, 7)}


def test_a_failed_shared_write_tells_each_caller_it_may_retry_alone():
    writer = GatedWriter(fail_on=3)
    group = GroupCommit(writer)
    answers: dict[int, object] = {}
    first = submit_in_thread(group, 1, answers)
    assert writer.entered.wait(10)
    others = [submit_in_thread(group, item, answers) for item in (2, 3)]
    wait_for_waiters(group, 2)
    writer.gate.set()
    for thread in (first, *others):
        thread.join(10)
    assert answers[1] == 10
    assert isinstance(answers[2], BatchFailed) and isinstance(answers[3], BatchFailed)
    assert isinstance(answers[2].__cause__, ValueError)
    assert group.submit(2) == 20  # the writer stepped down: later writes go ahead


def test_a_failed_write_of_one_item_raises_its_own_error():
    writer = GatedWriter(fail_on=7)
    writer.gate.set()
    group = GroupCommit(writer)
    with pytest.raises(ValueError, match="cannot store 7"):
        group.submit(7)


def test_a_writer_answering_the_wrong_count_fails_the_write():
    group: GroupCommit[int, int] = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        group.submit(1)
