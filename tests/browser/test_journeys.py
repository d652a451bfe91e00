"""What a person does in a real browser: register, log in, submit a job from the form, watch
it run and finish on the dashboard without reloading, cancel a running job from the table,
read its executions."""
from __future__ import annotations

import itertools
import re

import pytest
import requests
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from tests.conftest import PASSWORD
from tests.realtime.server import WebSession

pytestmark = [pytest.mark.slow, pytest.mark.browser]

_names = itertools.count(1)


def fresh_name(stem: str) -> str:
    return f"{stem}{next(_names)}"


def register(page: Page, username: str) -> None:
    page.goto("/auth/register")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email (optional)").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/$"))


def log_in(page: Page, username: str) -> None:
    page.goto("/auth/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))


def submit_sleep(page: Page, name: str, seconds: int, concurrency_key: str = "",
                 priority: str = "Medium", depends_on: str = "") -> int:
    """Fill in and send the job form; the id of the job whose page it lands on."""
    page.goto("/jobs/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Task").select_option("sleep")
    page.get_by_label("Seconds", exact=True).fill(str(seconds))
    page.get_by_label("Priority").select_option(label=priority)
    page.get_by_label("Concurrency key (optional)").fill(concurrency_key)
    page.get_by_label("Depends on (optional)").fill(depends_on)
    page.get_by_role("button", name="Submit job").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def row_status(page: Page, job_id: int):
    return page.locator(f'#jobs-body tr[data-job-id="{job_id}"] .status-badge')


def test_a_new_user_submits_a_job_and_watches_it_run_and_finish_live(browse):
    browsing = browse()
    dashboard = browsing.page
    register(dashboard, fresh_name("carol"))
    expect(dashboard.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(dashboard.locator("#jobs-body")).to_contain_text("No jobs yet")
    dashboard.evaluate("window.stillTheSamePage = true")  # gone if the page reloads

    form = browsing.new_page()
    job_id = submit_sleep(form, "watch me", seconds=2)
    expect(form.get_by_role("alert").first).to_contain_text(f"Job {job_id} is in the queue.")

    expect(row_status(dashboard, job_id)).to_have_text("running")
    expect(row_status(dashboard, job_id)).to_have_text("completed")
    assert dashboard.evaluate("window.stillTheSamePage") is True
    expect(dashboard.locator('[data-stat="completed"]')).to_have_text("1")
    expect(dashboard.locator("#jobs-count")).to_have_text("1 job")

    # The job's own page followed along too, executions included.
    expect(form.locator("#job-status")).to_have_text("completed")
    expect(form.locator('[data-field="result"]')).to_contain_text('"slept": 2')
    expect(form.locator("#executions .execution")).to_have_count(1)
    expect(form.locator("#executions .execution .status-badge")).to_have_text("completed")


def test_cancel_retry_and_delete_from_the_table_and_the_executions_say_what_happened(
        browse, site):
    username = fresh_name("dave")
    WebSession(site.url).register(username)
    page = browse().page
    log_in(page, username)
    job_id = submit_sleep(page, "long one", seconds=600)
    page.goto("/")
    status = row_status(page, job_id)
    row = page.locator(f'#jobs-body tr[data-job-id="{job_id}"]')
    expect(status).to_have_text("running")
    row.get_by_role("button", name=f"Cancel job {job_id}: long one").click()  # confirm: yes
    expect(status).to_have_text("cancelled")
    expect(row.get_by_role("button", name=re.compile("^Cancel"))).to_be_hidden()
    row.get_by_role("button", name=f"Retry job {job_id}: long one").click()
    expect(status).to_have_text("running")  # queued again, and taken at once
    row.get_by_role("button", name=f"Cancel job {job_id}: long one").click()
    expect(status).to_have_text("cancelled")

    row.get_by_role("link", name="long one").click()
    expect(page).to_have_url(re.compile(rf"/jobs/{job_id}$"))
    expect(page.locator("#job-status")).to_have_text("cancelled")
    executions = page.locator("#executions .execution")
    expect(executions).to_have_count(2)
    for execution in executions.all():  # a retry starts the attempts over
        expect(execution).to_contain_text("Attempt 1")
        expect(execution.locator(".status-badge")).to_have_text("cancelled")
        expect(execution).to_contain_text(f"cancelled by {username}")
    expect(executions.nth(1)).to_contain_text("after a retry")

    page.get_by_role("link", name="Dashboard").first.click()
    row.get_by_role("button", name=f"Delete job {job_id}: long one").click()
    expect(row).to_have_count(0)
    expect(page.locator("#jobs-body")).to_contain_text("No jobs yet")
    expect(page.locator("#jobs-count")).to_have_text("0 jobs")


def test_a_job_page_follows_its_latest_attempts_across_the_executions_pages(browse, site):
    """More attempts than one page of the executions API: the page shows the latest 50, and
    keeps showing the latest as a retry adds one (read from the API's last two pages)."""
    username = fresh_name("erin")
    WebSession(site.url).register(username)
    page = browse().page
    log_in(page, username)
    job_id = submit_sleep(page, "many tries", seconds=600)
    expect(page.locator("#job-status")).to_have_text("running")
    page.get_by_role("button", name="Cancel").first.click()
    expect(page.locator("#job-status")).to_have_text("cancelled")
    engine = create_engine(site.database_url)
    with engine.begin() as conn:  # 59 more finished attempts after the cancelled one
        conn.execute(text(
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 59) "
            "INSERT INTO executions (job_id, attempt, status, node, started_at, output) "
            "SELECT :job, n, 'failed', 'old', CURRENT_TIMESTAMP, '' FROM c"), {"job": job_id})
    engine.dispose()
    page.reload()
    cards = page.locator("#executions .execution")
    expect(cards).to_have_count(50)
    expect(cards.first).to_contain_text("Attempt 10")
    expect(page.locator("#executions-older")).to_contain_text("The latest 50 of 60 attempts")

    page.get_by_role("button", name="Retry").first.click()
    expect(page.locator("#job-status")).to_have_text("running")
    expect(cards.last.locator(".status-badge")).to_have_text("running")
    expect(cards).to_have_count(50)
    expect(cards.first).to_contain_text("Attempt 11")
    expect(page.locator("#executions-older")).to_contain_text("The latest 50 of 61 attempts")


def test_a_job_waiting_past_the_aging_time_shows_the_class_it_is_ordered_in(browse, site):
    """SPEC §10: a low job held back by its concurrency key, waiting over 2 hours, is
    ordered as high; the job page and the dashboard say so beside its own priority."""
    username = fresh_name("fay")
    WebSession(site.url).register(username)
    page = browse().page
    log_in(page, username)
    blocker = submit_sleep(page, "holds the key", seconds=600, concurrency_key="deploy")
    expect(page.locator("#job-status")).to_have_text("running")
    waiting = submit_sleep(page, "waits", seconds=1, concurrency_key="deploy", priority="Low")
    aged = page.locator('[data-field="priority-badge"] .aged-badge')
    expect(aged).to_be_hidden()
    engine = create_engine(site.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET queued_at = :at WHERE id = :id"),
                     {"at": "2000-01-01 00:00:00.000000", "id": waiting})
    engine.dispose()
    page.reload()
    expect(page.locator("#job-status")).to_have_text("pending")
    expect(aged).to_have_text("\u2191 high")
    page.goto("/")
    row = page.locator(f'#jobs-body tr[data-job-id="{waiting}"]')
    expect(row.locator(".priority-badge")).to_have_text("low")
    expect(row.locator(".aged-badge")).to_have_text("\u2191 high")
    expect(page.locator(f'#jobs-body tr[data-job-id="{blocker}"] .aged-badge')).to_be_hidden()
    page.goto(f"/jobs/{blocker}")
    page.get_by_role("button", name="Cancel").first.click()
    expect(page.locator("#job-status")).to_have_text("cancelled")


def test_a_pipeline_runs_in_order_and_a_failure_in_the_middle_cancels_the_rest(browse, site):
    """SPEC §12, as a user builds it on the form: extract → transform → load. Transform
    fails; load is cancelled with the reason, and its page shows what it waited for, live."""
    username = fresh_name("gus")
    WebSession(site.url).register(username)
    page = browse().page
    log_in(page, username)
    extract = submit_sleep(page, "extract", seconds=4)  # time to submit the other two
    page.goto("/jobs/new")
    page.get_by_label("Name").fill("transform")
    page.get_by_label("Task").select_option("fail")
    page.get_by_label("Max attempts").fill("1")
    page.get_by_label("Depends on (optional)").fill(str(extract))
    page.get_by_role("button", name="Submit job").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"))
    transform = int(page.url.rsplit("/", 1)[1])
    submit_sleep(page, "load", seconds=1, depends_on=str(transform))  # lands on its page
    waits_for = page.locator(f'#dependencies [data-related-job="{transform}"] .status-badge')
    expect(page.locator("#job-status")).to_have_text("cancelled")
    expect(waits_for).to_have_text("failed")
    expect(page.locator('[data-field="error"]')).to_have_text(
        f"Cancelled because job {transform}, which it depends on, failed.")
    page.goto(f"/jobs/{extract}")
    expect(page.locator("#job-status")).to_have_text("completed")
    needed_by = page.locator(f'#dependencies [data-related-job="{transform}"] .status-badge')
    expect(needed_by).to_have_text("failed")


def test_selecting_every_job_matching_a_filter_and_cancelling_them_in_one_go(browse, site):
    """SPEC §13 on the dashboard: row checkboxes, "select all N matching", the action and a
    confirmation saying how many jobs it will touch."""
    username = fresh_name("hal")
    WebSession(site.url).register(username)
    token = requests.post(f"{site.url}/jobs/api/auth/token", timeout=10, json={
        "username": username, "password": PASSWORD}).json()["token"]
    later = {"run_at": "2099-01-01T00:00:00Z"}  # they wait: nothing runs them meanwhile
    batch = [{"name": f"nightly {i}", **later} for i in range(25)] + [{"name": "keep", **later}]
    created = requests.post(f"{site.url}/jobs/api/jobs/batch/", timeout=30, json={"jobs": batch},
                            headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.text
    page = browse().page
    questions: list[str] = []
    page.on("dialog", lambda dialog: questions.append(dialog.message))
    log_in(page, username)
    page.get_by_label("Name contains").fill("nightly")
    expect(page.locator("#jobs-count")).to_have_text("25 jobs match")
    page.get_by_label("Select every job on this page").check()
    expect(page.locator("#bulk-selected")).to_have_text("20 jobs selected")
    page.get_by_role("button", name="Select all 25 jobs matching these filters").click()
    expect(page.locator("#bulk-selected")).to_have_text("All 25 matching jobs selected")
    page.get_by_role("button", name="Cancel selected").click()  # confirm: yes
    expect(page.locator("#bulk-result")).to_have_text("Cancelled 25 of 25 jobs.")
    assert questions[-1] == ("Cancel all 25 jobs matching these filters? Jobs in a state "
                             "that does not allow it are skipped.")
    expect(page.locator("#bulk-bar")).to_be_hidden()
    expect(page.locator("#jobs-body .status-badge").first).to_have_text("cancelled")
    page.get_by_label("Name contains").fill("keep")
    expect(page.locator("#jobs-count")).to_have_text("1 job match")
    expect(page.locator("#jobs-body .status-badge")).to_have_text("pending")
    row = page.locator("#jobs-body tr").first
    row.locator(".job-select").check()
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator("#bulk-result")).to_have_text("Deleted 1 of 1 job.")
    expect(page.locator("#jobs-count")).to_have_text("0 jobs match")


def test_a_schedule_made_on_the_form_shows_its_fire_times_and_its_last_job_live(browse, site):
    """SPEC §12 as a new user meets it: the form previews the next fire times computed by
    the server; the dashboard lists the schedule and follows its last job's status."""
    username = fresh_name("ida")
    WebSession(site.url).register(username)
    page = browse().page
    log_in(page, username)
    page.goto("/schedules/new")
    page.get_by_label("Name").fill("every minute")
    page.get_by_label("Cron").fill("* * * * *")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    expect(page.locator("#cron-preview [data-preview-list] li")).to_have_count(5)
    page.get_by_label("Task").select_option("sleep")
    page.get_by_label("Args as JSON").fill('{"seconds": 2}')
    page.get_by_role("button", name="Save schedule").click()
    expect(page).to_have_url(re.compile(r"/schedules/?$"))
    dashboard = browse().page
    log_in(dashboard, username)
    item = dashboard.locator("#schedule-list .schedule-item")
    expect(item).to_contain_text("every minute")
    expect(item.locator(".schedule-next")).to_contain_text("next ")
    page.get_by_role("button", name="Run every minute now").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"))
    job_id = page.url.rsplit("/", 1)[1]
    expect(item).to_contain_text(f"last #{job_id}")
    expect(item.locator(".status-badge")).to_have_text("completed", timeout=15_000)
    assert dashboard.evaluate("document.getElementById('dashboard-schedules').hidden") is False


def test_the_form_describes_the_chosen_task_and_shows_errors_inline(browse):
    page = browse().page
    register(page, fresh_name("erin"))
    page.goto("/jobs/new")
    expect(page.get_by_label("Seconds", exact=True)).to_be_visible()
    page.get_by_label("Task").select_option("echo")
    expect(page.get_by_label("Seconds", exact=True)).to_be_hidden()
    page.get_by_role("textbox", name="Message").fill("hello")
    page.get_by_label("Max attempts").fill("99")
    page.get_by_role("button", name="Submit job").click()
    expect(page).to_have_url(re.compile(r"/jobs/new$"))
    expect(page.locator("#name-error")).to_have_text("Give the job a name.")
    expect(page.locator("#max_attempts-error")).to_have_text("Use 1 to 25 attempts.")
    expect(page.get_by_role("textbox", name="Message")).to_have_value("hello")  # kept
    page.get_by_label("Name").fill("greeting")
    page.get_by_label("Max attempts").fill("2")
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#job-status")).to_have_text("completed")
    expect(page.locator('[data-field="result"]')).to_have_text('"hello"')


def test_logging_out_ends_the_live_connection_of_every_tab(browse):
    browsing = browse()
    first = browsing.page
    register(first, fresh_name("fred"))
    expect(first.locator("#live-status")).to_have_attribute("data-state", "live")
    second = browsing.new_page()
    second.goto("/")
    expect(second.locator("#live-status")).to_have_attribute("data-state", "live")
    second.get_by_role("button", name=re.compile("Account menu")).click()
    second.get_by_role("button", name="Log out").click()
    expect(second).to_have_url(re.compile(r"/auth/login$"))
    expect(first.locator("#live-status")).to_have_attribute("data-state", "ended")
    expect(first.locator("#live-status")).to_have_text("Not live: reload the page")
