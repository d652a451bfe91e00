"""The closed table of job transitions (SPEC §4 lifecycle), checked for every pair."""
from __future__ import annotations

import itertools

import pytest

from jobsched.scheduler.states import (
    PRIORITY_RANK,
    InvalidTransition,
    JobStatus,
    Priority,
    transition,
)

P, R, C, F, X = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.COMPLETED, JobStatus.FAILED,
                 JobStatus.CANCELLED)
ALLOWED = {(P, R), (P, X), (R, C), (R, F), (R, P), (R, X), (F, P), (X, P)}
PAIRS = list(itertools.product(JobStatus, repeat=2))


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_pair_follows_the_table(current, target):
    if (current, target) in ALLOWED:
        assert transition(current, target) is target
        assert transition(current.value, target.value) is target
    else:
        with pytest.raises(InvalidTransition) as caught:
            transition(current, target)
        assert caught.value.current is current and caught.value.target is target
        assert f"a {current} job cannot become {target}" == str(caught.value)
        with pytest.raises(InvalidTransition):
            transition(current.value, target.value)


def test_strings_are_accepted_and_values_are_specs_strings():
    assert transition("pending", "running") is JobStatus.RUNNING
    assert [s.value for s in JobStatus] == ["pending", "running", "completed", "failed",
                                            "cancelled"]
    assert str(JobStatus.CANCELLED) == "cancelled"


def test_priority_rank_is_high_medium_low_not_alphabetical():
    assert sorted(Priority, key=PRIORITY_RANK.__getitem__) == [Priority.HIGH, Priority.MEDIUM,
                                                              Priority.LOW]
