"""Dependencies on the pages (SPEC §12): the form's "Depends on" field and the job page's
lists of what a job waits for and what waits for it, each with its status."""
from __future__ import annotations

import pytest

from jobsched.runtime import event_sink
from tests.web.page import page_of
from tests.web.test_job_pages import errors_of, field, jobs_of, submit


@pytest.fixture(autouse=True)
def quiet(app) -> None:
    event_sink(app).sinks.clear()  # no Socket.IO sink reading while the app cleans up


def test_a_job_made_on_the_form_depends_on_the_ids_typed(app, client, auth):
    auth.register("alice")
    submit(client, name="first"), submit(client, name="second")
    first, second = jobs_of(app)
    assert submit(client, depends_on=f" {first.id},{second.id}  {first.id}").status_code == 302
    third = jobs_of(app)[-1]
    assert [edge.depends_on_id for edge in third.dependencies] == [first.id, second.id]
    assert third.waiting_on == 2


@pytest.mark.parametrize(("typed", "message"), [
    ("twelve", "Enter job ids separated by commas, e.g. 12, 15."),
    ("12; 13", "Enter job ids separated by commas, e.g. 12, 15."),
    ("-4", "Enter job ids separated by commas, e.g. 12, 15."),
    (" ".join(map(str, range(1, 102))), "Depend on at most 100 jobs."),
    ("999999", "Job 999999 not found."),
])
def test_bad_ids_are_shown_at_the_field_and_store_nothing(app, client, auth, typed, message):
    auth.register("alice")
    response = submit(client, depends_on=typed)
    assert response.status_code == 200
    page = page_of(response)
    assert errors_of(page) == {"depends_on": message}
    assert field(page, "depends_on").attrs["value"] == typed
    assert jobs_of(app) == []


def test_the_job_page_lists_what_it_waits_for_and_what_waits_for_it(app, client, auth):
    auth.register("alice")
    submit(client, name="extract")
    [extract] = jobs_of(app)
    submit(client, name="load", depends_on=str(extract.id))
    load = jobs_of(app)[-1]
    page = page_of(client.get(f"/jobs/{load.id}"))
    [waits_for] = page.all("li", **{"data-related-job": str(extract.id)})
    assert " ".join(waits_for.text.split()) == f"Job {extract.id}: extract pending"
    page = page_of(client.get(f"/jobs/{extract.id}"))
    [needed_by] = page.all("li", **{"data-related-job": str(load.id)})
    assert " ".join(needed_by.text.split()) == f"Job {load.id}: load pending"


def test_a_job_without_dependencies_has_no_such_section(app, client, auth):
    auth.register("alice")
    submit(client)
    [job] = jobs_of(app)
    assert b'id="dependencies"' not in client.get(f"/jobs/{job.id}").data
