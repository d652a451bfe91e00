"""GET /jobs/api/jobs/: filters, text search, pagination and every sort (SPEC §6)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from jobsched.scheduler.clock import utcnow
from jobsched.scheduler.ordering import queue_key
from jobsched.scheduler.states import Priority
from jobsched.scheduler.store import QueuedJob
from tests.api.conftest import make_running, set_job


def names(page: dict) -> list[str]:
    return [job["name"] for job in page["items"]]


def test_the_list_is_paginated_newest_first(app, alice):
    base = utcnow() - timedelta(hours=1)
    for n in range(5):
        job = alice.create(name=f"j{n}")
        set_job(app, job["id"], created_at=base + timedelta(minutes=n))
    page = alice.get("/jobs/?per_page=2")
    assert (page["total"], page["page"], page["per_page"]) == (5, 1, 2)
    assert names(page) == ["j4", "j3"]
    assert names(alice.get("/jobs/?per_page=2&page=3")) == ["j0"]
    assert alice.get("/jobs/?per_page=2&page=4") == {"items": [], "total": 5, "page": 4,
                                                      "per_page": 2}
    assert alice.get("/jobs/?page=999999999999999999999")["items"] == []
    assert alice.get("/jobs/")["per_page"] == 50


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("page=-1", "page"), ("page=x", "page"), ("page=1.5", "page"),
    ("per_page=0", "per_page"), ("per_page=201", "per_page"), ("per_page=ten", "per_page"),
    ("sort=name", "sort"), ("status=done", "status"), ("status=pending,nope", "status"),
    ("priority=urgent", "priority"), ("q=a%00b", "q"), ("stauts=failed", "stauts"),
    ("page=", "page"), ("per_page=", "per_page"), ("sort=", "sort"),
])
def test_bad_query_parameters_are_a_400_naming_them(alice, query, field):
    error = alice.get(f"/jobs/?{query}", 400)
    assert field in error["errors"], error


def test_per_page_bounds_are_inclusive(alice):
    assert alice.get("/jobs/?per_page=1")["per_page"] == 1
    assert alice.get("/jobs/?per_page=200")["per_page"] == 200


def test_filters_by_status_priority_and_task(app, alice):
    jobs = {name: alice.create(name=name, priority=prio, task=task, args=args)
            for name, prio, task, args in [
                ("a", "high", "sleep", {}), ("b", "low", "echo", {"message": 1}),
                ("c", "medium", "fail", {}), ("d", "high", "echo", {"message": 2})]}
    set_job(app, jobs["b"]["id"], status="completed")
    make_running(app, jobs["c"]["id"])
    assert sorted(names(alice.get("/jobs/?status=pending"))) == ["a", "d"]
    assert sorted(names(alice.get("/jobs/?status=running,completed"))) == ["b", "c"]
    assert sorted(names(alice.get("/jobs/?priority=high"))) == ["a", "d"]
    assert sorted(names(alice.get("/jobs/?priority=low,medium"))) == ["b", "c"]
    assert sorted(names(alice.get("/jobs/?task=echo"))) == ["b", "d"]
    assert names(alice.get("/jobs/?task=echo&priority=high&status=pending")) == ["d"]
    assert alice.get("/jobs/?status=&priority=&task=&q=")["total"] == 4  # empty: no filter


def test_q_matches_names_case_insensitively_and_literally(alice):
    for name in ("Nightly REPORT", "report_2", "50% off", "backup", "report-2"):
        alice.create(name=name)
    assert sorted(names(alice.get("/jobs/?q=report"))) == ["Nightly REPORT", "report-2",
                                                           "report_2"]
    assert names(alice.get("/jobs/?q=t_2")) == ["report_2"]  # "_" is no wildcard
    assert names(alice.get("/jobs/?q=50%25")) == ["50% off"]  # neither is "%"
    assert names(alice.get("/jobs/?q=%5C")) == []  # a backslash matches only itself


def test_owner_filter_lets_admins_pick_a_user(alice, bob, root):
    alice.create(name="a1")
    bob.create(name="b1")
    assert sorted(names(root.get("/jobs/"))) == ["a1", "b1"]
    assert names(root.get("/jobs/?owner=ALICE")) == ["a1"]
    assert names(root.get("/jobs/?owner=nobody")) == []
    # A user's list is theirs whatever the filter says.
    assert names(alice.get("/jobs/?owner=bob")) == []
    assert names(alice.get("/jobs/?owner=alice")) == ["a1"]


def test_sort_by_creation_both_ways(app, alice):
    base = utcnow()
    for n, offset in enumerate((2, 0, 1)):
        job = alice.create(name=f"j{n}")
        set_job(app, job["id"], created_at=base - timedelta(minutes=offset))
    assert names(alice.get("/jobs/?sort=created_at")) == ["j0", "j2", "j1"]
    assert names(alice.get("/jobs/?sort=-created_at")) == ["j1", "j2", "j0"]
    assert names(alice.get("/jobs/")) == ["j1", "j2", "j0"]


def test_sort_by_deadline_puts_jobs_without_one_last(alice):
    alice.create(name="none")
    alice.create(name="late", deadline="2032-01-01T00:00:00Z")
    alice.create(name="soon", deadline="2031-01-01T00:00:00+05:00")
    assert names(alice.get("/jobs/?sort=deadline")) == ["soon", "late", "none"]


def test_sort_by_priority_is_high_medium_low(alice):
    for name, prio in (("l", "low"), ("h", "high"), ("m", "medium"), ("h2", "high")):
        alice.create(name=name, priority=prio)
    assert names(alice.get("/jobs/?sort=priority")) == ["h", "h2", "m", "l"]


def test_sort_queue_is_the_schedulers_order(app, alice):
    """Pending jobs only: the eligible ones exactly as queue_key orders them, then those
    waiting for their run_at, soonest first."""
    now = utcnow()
    specs = [
        ("m-none", "medium", None, None), ("h-late", "high", "2031-06-01T00:00:00Z", None),
        ("h-soon", "high", "2031-01-01T00:00:00Z", None), ("h-none", "high", None, None),
        ("l-soon", "low", "2030-01-01T00:00:00Z", None), ("m-none-2", "medium", None, None),
        ("wait-far", "high", None, (now + timedelta(hours=2)).isoformat()),
        ("wait-near", "low", None, (now + timedelta(hours=1)).isoformat()),
        ("due", "low", None, (now - timedelta(minutes=1)).isoformat()),
    ]
    created = {name: alice.create(name=name, priority=prio, deadline=deadline, run_at=run_at)
               for name, prio, deadline, run_at in specs}
    done = alice.create(name="done", priority="high")
    set_job(app, done["id"], status="completed")
    make_running(app, alice.create(name="busy", priority="high")["id"])

    eligible = [job for name, job in created.items() if not name.startswith("wait")]
    expected = sorted(eligible, key=lambda j: queue_key(QueuedJob(
        j["id"], Priority(j["priority"]), parse_or_none(j["deadline"]), None)))
    assert names(alice.get("/jobs/?sort=queue")) == [j["name"] for j in expected] + [
        "wait-near", "wait-far"]
    assert names(alice.get("/jobs/?sort=queue"))[:4] == ["h-soon", "h-late", "h-none", "m-none"]
    assert names(alice.get("/jobs/?sort=queue&per_page=2&page=2")) == ["h-none", "m-none"]


def parse_or_none(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
