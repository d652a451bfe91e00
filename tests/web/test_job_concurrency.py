"""The concurrency key and limit on the pages (SPEC §10): two fields of the job form, with
their help and inline errors, and the job's page showing them when a key is set."""
from __future__ import annotations

import pytest

from jobsched.runtime import event_sink
from jobsched.scheduler.limits import CONCURRENCY_KEY_MAX, CONCURRENCY_LIMIT_MAX
from tests.web.page import page_of
from tests.web.test_job_pages import errors_of, field, jobs_of, submit


@pytest.fixture(autouse=True)
def quiet(app) -> None:
    event_sink(app).sinks.clear()  # no Socket.IO sink reading while the app cleans up


def test_the_form_offers_a_key_and_a_limit_with_their_help(client, auth):
    auth.register("alice")
    page = page_of(client.get("/jobs/new"))
    key, limit = field(page, "concurrency_key"), field(page, "concurrency_limit")
    assert (key.attrs["type"], key.attrs["value"], key.attrs["maxlength"]) == (
        "text", "", str(CONCURRENCY_KEY_MAX))
    assert (limit.attrs["type"], limit.attrs["value"]) == ("number", "1")
    assert (limit.attrs["min"], limit.attrs["max"]) == ("1", str(CONCURRENCY_LIMIT_MAX))
    labels = {label.attrs["for"]: " ".join(label.text.split()) for label in page.all("label")}
    assert labels["concurrency_key"] == "Concurrency key (optional)"
    assert labels["concurrency_limit"] == "Concurrency limit"
    assert page.text_of("concurrency_limit-help") == (
        "At most this many of your jobs with this key run at once.")
    assert "concurrency_key-help" in key.attrs["aria-describedby"]


def test_a_key_is_stored_stripped_with_its_limit(app, client, auth):
    auth.register("alice")
    response = submit(client, concurrency_key="  deploy-prod ", concurrency_limit="2")
    assert response.status_code == 302
    [job] = jobs_of(app)
    assert (job.concurrency_key, job.concurrency_limit) == ("deploy-prod", 2)


@pytest.mark.parametrize("typed", ["", "   \t"])
def test_an_empty_key_means_no_key(app, client, auth, typed):
    auth.register("alice")
    assert submit(client, concurrency_key=typed).status_code == 302
    [job] = jobs_of(app)
    assert (job.concurrency_key, job.concurrency_limit) == (None, 1)


@pytest.mark.parametrize(("fields", "where", "message"), [
    ({"concurrency_limit": "0"}, "concurrency_limit", "Use 1 to 1000 jobs at once."),
    ({"concurrency_limit": "1001"}, "concurrency_limit", "Use 1 to 1000 jobs at once."),
    ({"concurrency_limit": "-3"}, "concurrency_limit", "Use 1 to 1000 jobs at once."),
    ({"concurrency_limit": "two"}, "concurrency_limit", "Enter a whole number."),
    ({"concurrency_limit": "1.5"}, "concurrency_limit", "Enter a whole number."),
    ({"concurrency_limit": ""}, "concurrency_limit", "Enter a whole number."),
    ({"concurrency_limit": None}, "concurrency_limit", "Enter how many may run at once."),
    ({"concurrency_key": "k" * (CONCURRENCY_KEY_MAX + 1)}, "concurrency_key",
     f"Use at most {CONCURRENCY_KEY_MAX} characters."),
    ({"concurrency_key": "deploy\x00prod"}, "concurrency_key",
     "Text may not contain NUL characters."),
])
def test_a_bad_key_or_limit_is_shown_next_to_its_field(app, client, auth, fields, where,
                                                       message):
    auth.register("alice")
    response = submit(client, **fields)
    assert response.status_code == 200
    page = page_of(response)
    assert errors_of(page) == {where: message}
    assert field(page, where).attrs["aria-invalid"] == "true"
    assert jobs_of(app) == []


def test_both_mistakes_show_at_once_and_what_was_typed_is_kept(app, client, auth):
    auth.register("alice")
    page = page_of(submit(client, concurrency_key="k" * (CONCURRENCY_KEY_MAX + 1),
                          concurrency_limit="0"))
    assert set(errors_of(page)) == {"concurrency_key", "concurrency_limit"}
    assert field(page, "concurrency_limit").attrs["value"] == "0"
    assert jobs_of(app) == []


def shown(page, attribute: str) -> list[str]:
    return [" ".join(e.text.split()) for e in page.elements
            if attribute in e.attrs and "hidden" not in e.attrs]


def test_a_job_page_shows_the_key_and_its_limit(app, client, auth):
    auth.register("alice")
    submit(client, concurrency_key="deploy-prod", concurrency_limit="3")
    [job] = jobs_of(app)
    page = page_of(client.get(f"/jobs/{job.id}"))
    assert shown(page, "data-shown-with-key") == [
        "Concurrency key", "deploy-prod", "Concurrency limit",
        "at most 3 of the owner's jobs with this key run at once"]


def test_a_job_page_without_a_key_hides_both(app, client, auth):
    auth.register("alice")
    submit(client, concurrency_limit="3")
    [job] = jobs_of(app)
    page = page_of(client.get(f"/jobs/{job.id}"))
    assert len([e for e in page.elements if "data-shown-with-key" in e.attrs]) == 4
    assert shown(page, "data-shown-with-key") == []


def test_a_key_is_shown_as_text_not_markup(app, client, auth):
    auth.register("alice")
    submit(client, concurrency_key="<b>deploy</b>")
    [job] = jobs_of(app)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "&lt;b&gt;deploy&lt;/b&gt;" in html and "<b>deploy</b>" not in html
