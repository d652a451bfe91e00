"""The job pages (SPEC §8) through the Flask test client: the form with its task-described
fields and inline errors, a job's page, and its cancel / retry / delete buttons."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from jobsched.extensions import db
from jobsched.models import Execution, Job
from jobsched.runtime import event_sink
from tests.conftest import csrf_token, make_user
from tests.web.page import Page, page_of

VALID = {"name": "nightly report", "description": "", "task": "sleep",
         "args-sleep-seconds": "2", "args_json": "", "priority": "high", "deadline": "",
         "run_at": "", "max_attempts": "3", "timeout_seconds": "600", "concurrency_key": "",
         "concurrency_limit": "1"}


@pytest.fixture(autouse=True)
def quiet(app) -> None:
    """No Socket.IO sink: these tests read pages, and its background thread would still
    be reading the database while the app fixture empties it (tests/realtime covers it)."""
    event_sink(app).sinks.clear()


def submit(client, **fields: str):
    data = {**VALID, **fields, "csrf_token": csrf_token(client, "/jobs/new")}
    return client.post("/jobs/new", data={k: v for k, v in data.items() if v is not None})


def jobs_of(app) -> list[Job]:
    with app.app_context():
        found = list(db.session.scalars(select(Job).order_by(Job.id)))
        db.session.expunge_all()
        return found


def errors_of(page: Page) -> dict[str, str]:
    """Inline errors by the id of the field they belong to."""
    return {e.attrs["id"].removesuffix("-error"): " ".join(e.text.split())
            for e in page.all("div", **{"class": "invalid-feedback"})}


def flash_of(response_or_page) -> str:
    page = response_or_page if isinstance(response_or_page, Page) else page_of(response_or_page)
    return " ".join(page.all("div", role="alert")[0].text.split())


def field(page: Page, name: str):
    [found] = [e for e in page.elements if e.attrs.get("name") == name]
    return found


# -- the form ---------------------------------------------------------------------------------


def test_the_form_needs_a_login(client):
    response = client.get("/jobs/new")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_each_task_gets_fields_described_by_its_schema(client, auth):
    auth.register("alice")
    page = page_of(client.get("/jobs/new"))
    options = [o.attrs["value"] for o in page.all("option") if o.attrs.get("value") in
               ("sleep", "echo", "fail", "shell")]
    assert options == ["echo", "fail", "sleep"]  # shell is not enabled
    assert field(page, "task").attrs["id"] == "task"
    seconds = field(page, "args-sleep-seconds")
    assert (seconds.attrs["type"], seconds.attrs["min"], seconds.attrs["max"]) == (
        "number", "0", "86400")
    assert seconds.attrs["value"] == "1"  # the schema's default
    assert page.text_of("args-sleep-seconds-help") == "How long to sleep, 0 to 86400 seconds."
    assert [label.text.strip() for label in page.all("label", **{"for": "args-sleep-seconds"})
            ] == ["Seconds"]
    assert field(page, "args-echo-message").tag == "textarea"  # any JSON value
    assert "other text is taken as a string" in page.text_of("args-echo-message-help")
    assert field(page, "args-fail-message").text.strip() == "failed on purpose"
    assert field(page, "args_json").tag == "textarea"
    assert [o.attrs["value"] for o in page.all("option") if "selected" in o.attrs] == [
        "sleep", "medium"]


@pytest.mark.parametrize("app_overrides", [{"JOBSCHED_ENABLE_SHELL": True}])
def test_admin_only_tasks_are_offered_to_admins_alone(app, client, auth):
    make_user(app, "root", admin=True)
    auth.register("alice")
    page = page_of(client.get("/jobs/new"))
    assert not [o for o in page.all("option") if o.attrs.get("value") == "shell"]
    page = page_of(submit(client, task="shell", **{"args-shell-command": "id"}))
    assert "Not a valid choice" in errors_of(page)["task"]
    assert jobs_of(app) == []
    auth.logout()
    auth.login("root")
    assert [o for o in page_of(client.get("/jobs/new")).all("option")
            if o.attrs.get("value") == "shell"]
    response = submit(client, task="shell", **{"args-shell-command": "echo hi"})
    assert response.status_code == 302
    assert jobs_of(app)[0].args == {"command": "echo hi"}


def test_a_valid_job_is_created_and_the_browser_goes_to_its_page(app, client, auth):
    auth.register("alice")
    response = submit(client, deadline="2030-01-31T17:00", run_at="2030-01-30T08:15")
    [job] = jobs_of(app)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/jobs/{job.id}"
    assert (job.name, job.task, job.args, job.priority, job.status) == (
        "nightly report", "sleep", {"seconds": 2}, "high", "pending")
    assert job.deadline == datetime(2030, 1, 31, 17, 0, tzinfo=UTC)  # typed without a zone: UTC
    assert job.run_at == datetime(2030, 1, 30, 8, 15, tzinfo=UTC)
    assert (job.max_attempts, job.timeout_seconds) == (3, 600)
    page = page_of(client.get(response.headers["Location"]))
    assert f"Job {job.id} is in the queue." in flash_of(page)


def test_an_untouched_optional_argument_takes_the_schema_default(app, client, auth):
    auth.register("alice")
    submit(client, **{"args-sleep-seconds": ""})
    assert jobs_of(app)[0].args == {"seconds": 1}


@pytest.mark.parametrize(("typed", "stored"), [
    ("hello", "hello"), ('"hello"', "hello"), ("42", 42), ('{"a": [1, 2]}', {"a": [1, 2]}),
])
def test_an_argument_of_any_type_is_json_or_else_text(app, client, auth, typed, stored):
    auth.register("alice")
    assert submit(client, task="echo", **{"args-echo-message": typed}).status_code == 302
    assert jobs_of(app)[0].args == {"message": stored}


def test_raw_json_args_replace_the_fields(app, client, auth):
    auth.register("alice")
    response = submit(client, args_json='{"seconds": 7}', **{"args-sleep-seconds": "3"})
    assert response.status_code == 302
    assert jobs_of(app)[0].args == {"seconds": 7}


def test_every_mistake_is_shown_next_to_its_field_at_once(app, client, auth):
    auth.register("alice")
    response = submit(client, name="  ", max_attempts="0", timeout_seconds="ten",
                      deadline="tomorrow", **{"args-sleep-seconds": "-1"})
    assert response.status_code == 200
    page = page_of(response)
    errors = errors_of(page)
    assert errors == {
        "name": "Give the job a name.",
        "max_attempts": "Use 1 to 25 attempts.",
        "timeout_seconds": "Enter a whole number.",
        "deadline": "Enter a date and time, e.g. 2030-01-31 17:00.",
        "args-sleep-seconds": "-1 is less than the minimum of 0",
    }
    for name in errors:
        assert field(page, name).attrs["aria-invalid"] == "true"
        assert f"{name}-error" in field(page, name).attrs["aria-describedby"]
    assert "not submitted" in " ".join(page.all("div", role="alert")[0].text.split())
    assert jobs_of(app) == []


@pytest.mark.parametrize(("fields", "where", "message"), [
    ({"args-sleep-seconds": "many"}, "args-sleep-seconds", "Not a valid float value."),
    ({"args-sleep-seconds": "nan"}, "args-sleep-seconds", "Enter a finite number."),
    ({"args-sleep-seconds": "90000"}, "args-sleep-seconds",
     "90000 is greater than the maximum of 86400"),
    ({"task": "echo", "args-echo-message": ""}, "args-echo-message", "Message is required."),
    ({"args_json": "{seconds: 1}"}, "args_json", "Not valid JSON"),
    ({"args_json": "[1, 2]"}, "args_json", 'Enter a JSON object, e.g. {"seconds": 5}.'),
    ({"args_json": '{"seconds": 1, "extra": true}'}, "args_json", "extra: Additional properties"),
    ({"args_json": '{"seconds": NaN}'}, "args_json", "Not valid JSON"),
    ({"name": "x" * 201}, "name", "Use at most 200 characters."),
    ({"priority": "urgent"}, "priority", "Not a valid choice"),
    ({"task": "nope"}, "task", "Not a valid choice"),
])
def test_inline_errors(app, client, auth, fields, where, message):
    auth.register("alice")
    response = submit(client, **fields)
    assert response.status_code == 200
    assert message in errors_of(page_of(response)).get(where, ""), errors_of(page_of(response))
    assert jobs_of(app) == []


def test_a_service_refusal_of_a_valid_looking_form_lands_on_its_field(app, client, auth):
    """The job service has the last word (here: text the database cannot store)."""
    auth.register("alice")
    response = submit(client, description="bad \x00 byte")
    assert "NUL" in errors_of(page_of(response))["description"]
    assert jobs_of(app) == []


def test_the_form_needs_its_csrf_token(app, client, auth):
    auth.register("alice")
    assert client.post("/jobs/new", data=VALID).status_code == 400
    assert jobs_of(app) == []


# -- a job's page and its actions --------------------------------------------------------------


def new_job(app, client, **fields: str) -> int:
    assert submit(client, **fields).status_code == 302
    return jobs_of(app)[-1].id


def set_status(app, job_id: int, status: str) -> None:
    with app.app_context():
        db.session.execute(update(Job).where(Job.id == job_id).values(status=status))
        db.session.commit()


def post(client, path: str, follow: bool = True):
    return client.post(path, data={"csrf_token": csrf_token(client, "/")},
                       follow_redirects=follow)


def test_a_job_page_shows_the_job(app, client, auth):
    auth.register("alice")
    job_id = new_job(app, client, description="weekly <b>numbers</b>")
    page = page_of(client.get(f"/jobs/{job_id}"))
    assert page.by_id("job-page").attrs["data-job-id"] == str(job_id)
    assert page.all("h1")[0].text.strip() == "nightly report"
    assert page.text_of("job-status") == "pending"
    [args] = [e for e in page.elements if e.attrs.get("data-field") == "args"]
    assert '"seconds": 2' in args.text
    assert "weekly <b>numbers</b>" in page.by_id("job-page").text  # shown as text, not HTML
    assert "No attempt has started yet." in page.text_of("executions")
    shown = [e.attrs["data-action"] for e in page.all("div") if "data-action" in e.attrs
             and "hidden" not in e.attrs]
    assert shown == ["cancel", "delete"]


def test_someone_elses_job_and_a_missing_one_are_not_found(app, client, auth):
    make_user(app, "bob")
    auth.register("alice")
    job_id = new_job(app, client)
    auth.logout()
    auth.login("bob")
    for path in (f"/jobs/{job_id}", "/jobs/999999", "/jobs/99999999999"):
        assert client.get(path).status_code == 404
    for action in ("cancel", "retry", "delete"):
        assert post(client, f"/jobs/{job_id}/{action}", follow=False).status_code == 404
    assert jobs_of(app)[0].status == "pending"


def test_an_admin_sees_everyones_job_pages(app, client, auth):
    auth.register("root")  # the first account is the admin
    make_user(app, "alice")
    auth.logout()
    auth.login("alice")
    job_id = new_job(app, client)
    auth.logout()
    auth.login("root")
    assert client.get(f"/jobs/{job_id}").status_code == 200


def test_cancel_then_retry_then_delete(app, client, auth):
    auth.register("alice")
    job_id = new_job(app, client)
    response = post(client, f"/jobs/{job_id}/cancel")
    assert f"Job {job_id} is cancelled." in flash_of(response)
    assert jobs_of(app)[0].status == "cancelled"
    response = post(client, f"/jobs/{job_id}/retry")
    assert f"Job {job_id} is back in the queue." in flash_of(response)
    assert jobs_of(app)[0].status == "pending"
    response = post(client, f"/jobs/{job_id}/delete", follow=False)
    assert response.headers["Location"] == "/"
    assert jobs_of(app) == []


@pytest.mark.parametrize(("status", "action", "message"), [
    ("completed", "cancel", "A completed job cannot become cancelled."),
    ("pending", "retry", "A pending job cannot become pending."),
    ("completed", "retry", "A completed job cannot become pending."),
    ("running", "delete", "A running job cannot be deleted; cancel it first."),
])
def test_an_action_the_state_forbids_is_explained(app, client, auth, status, action, message):
    auth.register("alice")
    job_id = new_job(app, client)
    set_status(app, job_id, status)
    response = post(client, f"/jobs/{job_id}/{action}")
    assert response.request.path == f"/jobs/{job_id}"
    assert message in flash_of(response)
    assert jobs_of(app)[0].status == status


def test_actions_need_the_csrf_token_and_a_post(app, client, auth):
    auth.register("alice")
    job_id = new_job(app, client)
    assert client.post(f"/jobs/{job_id}/cancel").status_code == 400
    assert client.get(f"/jobs/{job_id}/cancel").status_code == 405
    assert jobs_of(app)[0].status == "pending"


def test_dashboard_keeps_its_filters_in_the_address(client, auth):
    auth.register("alice")
    page = page_of(client.get("/?status=failed&priority=low&q=report"))
    selected = [o.attrs["value"] for o in page.all("option") if "selected" in o.attrs]
    assert selected == ["failed", "low"]
    assert page.by_id("filter-q").attrs["value"] == "report"


def test_executions_are_listed_oldest_first_and_a_retry_is_marked(app, client, auth):
    auth.register("alice")
    job_id = new_job(app, client)
    with app.app_context():
        for error in ("first try broke", "second try broke"):
            db.session.add(Execution(job_id=job_id, attempt=1, status="failed", node="n1",
                                     output=f"log of {error}", error=error,
                                     duration_seconds=75.5))
        db.session.commit()
    page = page_of(client.get(f"/jobs/{job_id}"))
    cards = [" ".join(card.text.split()) for card in page.all("article")]
    assert [card.split(" on ")[0] for card in cards] == [
        "Attempt 1 failed", "Attempt 1 failed after a retry"]
    assert "log of first try broke" in cards[0] and "Error first try broke" in cards[0]
    assert "1 min 15 s" in cards[1]


def test_a_job_page_shows_its_latest_attempts_and_says_how_many_there_are(app, client, auth):
    auth.register("alice")
    job_id = new_job(app, client)
    with app.app_context():
        db.session.add_all(Execution(job_id=job_id, attempt=n, status="failed", node="n1",
                                     error=f"try {n}") for n in range(1, 61))
        db.session.commit()
    page = page_of(client.get(f"/jobs/{job_id}"))
    attempts = [card.text.split()[1] for card in page.all("article")]
    assert attempts == [str(n) for n in range(11, 61)]  # the latest 50, oldest first
    note = " ".join(page.by_id("executions-older").text.split())
    assert "The latest 50 of 60 attempts" in note
    assert "hidden" not in page.by_id("executions-older").attrs


def test_a_job_page_with_few_attempts_has_no_note_about_older_ones(app, client, auth):
    auth.register("alice")
    page = page_of(client.get(f"/jobs/{new_job(app, client)}"))
    assert "hidden" in page.by_id("executions-older").attrs
