"""Every page at desktop and phone width: it fits the screen without sideways scrolling, loads
without a browser problem, and is saved as a screenshot in test-artifacts/screenshots/."""
from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, ARTIFACTS, DESKTOP, PHONE
from tests.browser.test_journeys import log_in
from tests.helpers import wait_until
from tests.realtime.server import Api, issue_token

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LOGGED_OUT = [("login", "/auth/login"), ("register", "/auth/register")]
LOGGED_IN = [("dashboard", "/"), ("new-job", "/jobs/new"), ("job-completed", "/jobs/{completed}"),
             ("job-failed", "/jobs/{failed}"), ("job-running", "/jobs/{running}"),
             ("account", "/account"), ("nodes", "/admin/nodes")]


def has_status(api: Api, job_id: int, status: str) -> bool:
    return api.job(job_id)["status"] == status


@pytest.fixture(scope="module")
def sample_jobs(site) -> Iterator[dict[str, int]]:
    """Jobs in the states the pages show: completed, failed (with its error), running,
    and pending with a deadline and a start time far ahead."""
    api = Api(site.url, issue_token(site.url, ADMIN))
    jobs = {
        "completed": api.create(name="Monthly invoices", task="echo",
                                args={"message": {"sent": 42}}),
        "failed": api.create(name="Flaky import", task="fail", max_attempts=1,
                             args={"message": "upstream returned 503"}),
        "running": api.create(name="Rebuild search index", task="sleep", args={"seconds": 300},
                              priority="high"),
        "pending": api.create(name="Quarterly archive with a rather long descriptive name",
                              priority="low", deadline="2031-03-31T23:00:00Z",
                              run_at="2031-03-01T00:00:00Z"),
    }
    want = {"completed": "completed", "failed": "failed", "running": "running"}
    for key, status in want.items():
        wait_until(partial(has_status, api, jobs[key]["id"], status), timeout=15,
                   message=f"the {key} sample job did not become {status}")
    yield {key: job["id"] for key, job in jobs.items()}
    api.call("POST", f"/jobs/{jobs['running']['id']}/cancel/", 200)


def settle(page: Page) -> None:
    """Wait until a live page is connected and has drawn what it re-read."""
    if page.locator("#live-status").count():
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    if page.locator("#dashboard").count():
        expect(page.locator("#jobs-body .placeholder-row")).to_have_count(0)
        # Two samples make a line on each chart. (Polled from here: wait_for_function would
        # evaluate a string inside the page, which its Content-Security-Policy forbids.)
        wait_until(lambda: page.evaluate(
            "Chart.getChart('chart-queue').data.labels.length") >= 2, timeout=10)


def shoot(page: Page, name: str, size: str) -> int:
    """Save the page as test-artifacts/screenshots/<name>-<size>.png; its sideways overflow."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("load")  # images (the logo) included
    page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"), full_page=True)
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_page_fits_the_screen_and_is_saved(browse, sample_jobs, size):
    page = browse({"desktop": DESKTOP, "phone": PHONE}[size]).page
    overflow: dict[str, int] = {}
    for name, path in LOGGED_OUT:
        page.goto(path)
        overflow[name] = shoot(page, name, size)
    log_in(page, ADMIN)
    for name, path in LOGGED_IN:
        page.goto(path.format(**sample_jobs))
        settle(page)
        overflow[name] = shoot(page, name, size)
    page.goto("/jobs/new")
    page.get_by_label("Seconds", exact=True).fill("-3")
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#name-error")).to_be_visible()
    overflow["new-job-errors"] = shoot(page, "new-job-errors", size)
    assert {name: px for name, px in overflow.items() if px > 0} == {}, "pages scroll sideways"
