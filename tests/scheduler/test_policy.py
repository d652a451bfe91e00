"""The queue policy's rule (SPEC §10), at its exact boundaries."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobsched.scheduler.policy import STRICT, Overload, Place, QueuePolicy, Tier, eligible_since
from jobsched.scheduler.states import Priority

T0 = datetime(2031, 6, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
AGING = QueuePolicy(aging_seconds=60)
FEASIBLE = QueuePolicy(overload=Overload.FEASIBLE_FIRST)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_strict_order_never_changes_over_time():
    assert not STRICT.changes_over_time
    assert STRICT.place(2, at(5), 3600, T0, at(10**6)) == Place(2, Tier.FEASIBLE, None)
    assert STRICT.place(1, None, 3600, T0, at(10**6)) == Place(1, Tier.NONE, None)


def test_a_job_rises_one_class_at_n_seconds_and_another_at_2n():
    assert AGING.place(2, None, None, T0, at(60) - US) == Place(2, Tier.NONE, at(60))
    assert AGING.place(2, None, None, T0, at(60)) == Place(1, Tier.NONE, at(120))
    assert AGING.place(2, None, None, T0, at(120)) == Place(0, Tier.NONE, None)
    assert AGING.place(2, None, None, T0, at(10**6)) == Place(0, Tier.NONE, None)


def test_a_medium_job_rises_once_and_a_high_one_never():
    assert AGING.place(1, None, None, T0, at(60)) == Place(0, Tier.NONE, None)
    assert AGING.place(0, None, None, T0, at(10**6)) == Place(0, Tier.NONE, None)


def test_a_job_not_yet_eligible_or_of_unknown_age_does_not_age():
    assert AGING.place(2, None, None, at(100), at(50)) == Place(2, Tier.NONE, at(160))
    assert AGING.place(2, None, None, None, at(10**6)) == Place(2, Tier.NONE, None)


def test_feasible_first_makes_a_job_late_once_its_deadline_is_within_its_run_time():
    deadline = at(100)
    assert FEASIBLE.place(1, deadline, 30, T0, at(70)) == Place(1, Tier.FEASIBLE, at(70) + US)
    assert FEASIBLE.place(1, deadline, 30, T0, at(70) + US) == Place(1, Tier.LATE, None)
    assert FEASIBLE.place(1, deadline, None, T0, at(100) + US) == Place(1, Tier.LATE, None)
    assert FEASIBLE.place(1, None, 30, T0, at(10**6)) == Place(1, Tier.NONE, None)


def test_the_next_change_is_the_earlier_of_aging_and_lateness():
    both = QueuePolicy(aging_seconds=60, overload=Overload.FEASIBLE_FIRST)
    assert both.place(2, at(100), 50, T0, at(10)).changes_at == at(50) + US
    assert both.place(2, at(500), 50, T0, at(10)).changes_at == at(60)


@pytest.mark.parametrize(("waited", "effective"), [(59, "low"), (60, "medium"), (120, "high")])
def test_effective_priority_is_the_class_aging_gave(waited, effective):
    assert AGING.effective_priority(Priority.LOW, T0, at(waited)) == effective
    assert STRICT.effective_priority("low", T0, at(waited)) == "low"


def test_a_job_is_eligible_from_the_later_of_its_queueing_and_its_run_at():
    assert eligible_since(T0, None) == T0
    assert eligible_since(T0, at(5)) == at(5)
    assert eligible_since(at(5), T0) == at(5)
    assert eligible_since(None, at(5)) is None
