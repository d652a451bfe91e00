"""SPEC §14 on the pages: no form input costs more than about a second of CPU, forms are
bounded in size, job fields in length and JSON in depth; every refusal is a form error (or a
clear 413 page) with nothing stored. Password hashing runs through the app's offload."""
from __future__ import annotations

import time

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from wtforms import StringField

from jobsched.auth.forms import email_problem
from jobsched.extensions import db
from jobsched.models import ApiToken, User
from jobsched.runtime import event_sink, use_offload
from jobsched.scheduler.limits import MAX_ARGS_BYTES, MAX_DESCRIPTION, MAX_JSON_DEPTH
from jobsched.validators import MaxLength
from tests.conftest import PASSWORD, csrf_token, make_user
from tests.web.page import page_of
from tests.web.test_job_pages import errors_of, jobs_of, submit

CRAFTED_EMAIL = "a@" + "." * 200_000 + "@"  # minutes of CPU for the old pattern


@pytest.fixture(autouse=True)
def quiet(app) -> None:
    event_sink(app).sinks.clear()  # no Socket.IO sink reading while the app cleans up


def rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def register(client, **fields):
    data = {"username": "alice", "email": "", "password": PASSWORD, "confirm": PASSWORD,
            **fields, "csrf_token": csrf_token(client, "/auth/register")}
    return client.post("/auth/register", data=data)


# -- the email check ----------------------------------------------------------------------------


def test_a_crafted_200_kb_email_is_refused_within_a_second(app, client):
    started = time.monotonic()
    response = register(client, email=CRAFTED_EMAIL)
    took = time.monotonic() - started
    assert response.status_code == 200
    assert page_of(response).text_of("email-error") == "Use at most 254 characters."
    assert took < 1.0, f"{took:.2f} s"
    assert rows(app, User) == 0


@pytest.mark.parametrize("email", [CRAFTED_EMAIL, "a@" + "." * 200_000, "@" * 200_000,
                                   "a" * 200_000, "a@b" + ".c" * 100_000 + " "])
def test_the_email_rule_is_linear_even_without_the_length_check(email):
    started = time.monotonic()
    email_problem(email)
    assert time.monotonic() - started < 0.1


@pytest.mark.parametrize(("email", "valid"), [
    ("name@example.com", True), ("a@b.c", True), ("a.b+c@sub.example.org", True),
    ("a@b.c.", True), ("a@b", False), ("a@.b", False), ("a@b.", False), ("@b.c", False),
    ("a@@b.c", False), ("a@b@c.d", False), ("a b@c.d", False), ("a@b.c d", False), ("", False),
])
def test_the_email_rule_is_the_one_it_was(email, valid):
    assert (email_problem(email) is None) == valid


@pytest.mark.parametrize("email", ["a\x00@b.c", "a@b.c\x1b[0m", "a\x7f@b.c"])
def test_an_email_with_control_characters_is_a_form_error(app, client, email):
    response = register(client, email=email)
    assert "control characters" in page_of(response).text_of("email-error")
    assert rows(app, User) == 0


def test_a_length_failure_stops_the_checks_after_it(app):
    seen: list[str] = []

    class Probe(FlaskForm):
        text = StringField(validators=[MaxLength(5), lambda form, field: seen.append("ran")])

    with app.test_request_context():
        form = Probe(formdata=MultiDict({"text": "x" * 6}), meta={"csrf": False})
        assert not form.validate()
        assert form.text.errors == ["Use at most 5 characters."]
        assert seen == []


# -- the size of a form ---------------------------------------------------------------------------


def test_a_form_over_256_kib_is_a_413_page_that_says_why(app, client):
    response = register(client, email="x" * (256 * 1024))
    assert response.status_code == 413
    page = page_of(response)
    assert page.all("h1")[0].text.strip() == "Request too large"
    assert "The form sent more than 256 KiB. Shorten the longest field" in \
        response.get_data(as_text=True)
    assert rows(app, User) == 0


def test_a_form_under_the_bound_reaches_its_checks(app, client):
    response = register(client, username="u" * 200_000)
    assert response.status_code == 200
    assert "letters, digits" in page_of(response).text_of("username-error")


def test_a_multipart_field_over_the_bound_is_a_413_page_too(app, client):
    data = {"username": "alice", "email": "x" * 300_000,
            "csrf_token": csrf_token(client, "/auth/register")}
    response = client.post("/auth/register", data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "The form sent more than 256 KiB" in response.get_data(as_text=True)


# -- the job form ---------------------------------------------------------------------------------


@pytest.fixture
def alice(app, auth):
    auth.register("alice")


def test_a_description_over_10000_characters_is_a_form_error(app, client, alice):
    response = submit(client, description="d" * (MAX_DESCRIPTION + 1))
    assert errors_of(page_of(response))["description"] == "Use at most 10,000 characters."
    assert jobs_of(app) == []
    assert submit(client, description="d" * MAX_DESCRIPTION).status_code == 302
    assert len(jobs_of(app)[0].description) == MAX_DESCRIPTION


def test_args_over_64_kib_are_a_form_error_on_the_args(app, client, alice):
    big = '{"message": "' + "m" * MAX_ARGS_BYTES + '"}'
    response = submit(client, task="echo", args_json=big)
    assert errors_of(page_of(response))["args_json"] == "Use at most 64 KiB (as compact JSON)."
    response = submit(client, task="echo", **{"args-echo-message": "m" * MAX_ARGS_BYTES})
    assert "Use at most 64 KiB" in " ".join(page_of(response).all("div", role="alert")[0]
                                             .text.split())
    assert jobs_of(app) == []


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 10_000])
def test_deeply_nested_args_json_is_a_form_error(app, client, alice, depth):
    nested = '{"message": ' + "[" * depth + "]" * depth + "}"
    response = submit(client, task="echo", args_json=nested)
    assert response.status_code == 200
    assert errors_of(page_of(response))["args_json"] == "This JSON nests deeper than 32 levels."
    assert jobs_of(app) == []


def test_a_deeply_nested_json_argument_is_a_form_error_on_its_field(app, client, alice):
    response = submit(client, task="echo", **{"args-echo-message": "[" * 10_000 + "]" * 10_000})
    assert response.status_code == 200
    assert errors_of(page_of(response))["args-echo-message"] == \
        "This JSON nests deeper than 32 levels."
    assert jobs_of(app) == []


def test_json_args_as_deep_as_allowed_are_taken(app, client, alice):
    value = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)  # args itself is a level
    assert submit(client, task="echo", args_json=f'{{"message": {value}}}').status_code == 302
    assert len(jobs_of(app)) == 1


# -- text the database cannot store ---------------------------------------------------------------


def test_a_token_name_with_nul_is_a_form_error_not_a_500(app, client, alice):
    data = {"name": "ci\x00", "csrf_token": csrf_token(client, "/account")}
    response = client.post("/account/tokens", data=data)
    assert response.status_code == 200
    assert "control characters" in page_of(response).text_of("name-error")
    assert rows(app, ApiToken) == 0


# -- password hashing -----------------------------------------------------------------------------


def test_password_hashing_runs_through_the_apps_offload(app, client):
    """wsgi.py passes eventlet's tpool here, so scrypt never holds up the other requests."""
    offloaded: list[str] = []

    def offload(work):
        offloaded.append(getattr(work, "__qualname__", ""))
        return work()

    use_offload(app, offload)
    assert register(client, username="alice").status_code == 302
    assert len(offloaded) == 1  # the new hash
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    data = {"username": "alice", "password": PASSWORD,
            "csrf_token": csrf_token(client, "/auth/login")}
    assert client.post("/auth/login", data=data).status_code == 302
    data["username"] = "nobody"  # an unknown user costs a (dummy) check too
    assert client.post("/auth/login", data=data).status_code == 200
    assert len(offloaded) == 3


def test_without_an_offload_hashing_runs_inline(app):
    make_user(app, "bob")
    with app.app_context():
        bob = db.session.scalar(select(User).where(User.username == "bob"))
        assert bob.check_password(PASSWORD) and not bob.check_password("wrong-horse")
