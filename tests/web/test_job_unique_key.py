"""The unique key on the job form (SPEC §12): stored stripped, and a held key refused next
to its field, naming the job that holds it, with nothing stored."""
from __future__ import annotations

import pytest

from jobsched.runtime import event_sink
from jobsched.scheduler.limits import UNIQUE_KEY_MAX
from tests.web.page import page_of
from tests.web.test_job_pages import errors_of, field, jobs_of, submit


@pytest.fixture(autouse=True)
def quiet(app) -> None:
    event_sink(app).sinks.clear()  # no Socket.IO sink reading while the app cleans up


def test_the_form_offers_a_unique_key_stored_stripped(app, client, auth):
    auth.register("alice")
    key = field(page_of(client.get("/jobs/new")), "unique_key")
    assert (key.attrs["value"], key.attrs["maxlength"]) == ("", str(UNIQUE_KEY_MAX))
    assert submit(client, unique_key="  nightly ").status_code == 302
    assert submit(client, unique_key="").status_code == 302
    assert [job.unique_key for job in jobs_of(app)] == ["nightly", None]


def test_a_held_key_is_refused_at_its_field_naming_the_holder(app, client, auth):
    auth.register("alice")
    submit(client, unique_key="nightly")
    [holder] = jobs_of(app)
    response = submit(client, unique_key="nightly")
    assert response.status_code == 200
    assert errors_of(page_of(response)) == {"unique_key": (
        f"Job {holder.id} holds this key (it is pending or running); nothing was stored.")}
    assert len(jobs_of(app)) == 1


def test_a_job_page_shows_its_unique_key_as_text(app, client, auth):
    auth.register("alice")
    submit(client, unique_key="<b>nightly</b>")
    [job] = jobs_of(app)
    response = client.get(f"/jobs/{job.id}")
    assert b"Unique key" in response.data
    [shown] = page_of(response).all("code", **{"data-field": "unique_key"})
    assert shown.text == "<b>nightly</b>" and b"<b>nightly" not in response.data
