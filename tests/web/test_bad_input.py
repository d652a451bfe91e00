"""A bad-input battery for every HTML form (SPEC §14): each field of each form gets empty,
huge, wrong-type, control-character, odd-Unicode and nested values. Every answer is a page
with a form error, a redirect or a 4xx, never a 500; each comes within about a second; and
a refused post stores nothing.

(The API has its own battery: tests/api/test_schemathesis.py.)
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from jobsched.extensions import db
from jobsched.models import ApiToken, Execution, Job, User
from jobsched.runtime import event_sink
from tests.conftest import PASSWORD, csrf_token, make_user

WITHIN_SECONDS = 1.0  # SPEC §14: no input costs more than about a second
HUGE = "x" * 300_000  # over MAX_FORM_MEMORY_SIZE (256 KiB): the whole post is a 413

# Sent as is into one field; each is typed, pasted or crafted by someone somewhere.
VALUES: dict[str, str] = {
    "empty": "",
    "blank": "   \t ",
    "large": "y" * 200_000,  # under the form bound: the validators see all of it
    "dots": "a@" + "." * 200_000 + "@",  # the regex trap of a quadratic email pattern
    "digits": "9" * 5_000,
    "open-brackets": "[" * 100_000,
    "deep-json": "[" * 5_000 + "]" * 5_000,
    "deep-object": '{"a":' * 2_000 + "1" + "}" * 2_000,
    "word": "abc",
    "negative": "-1",
    "fraction": "1.5",
    "overflow": "1e999",
    "nan": "NaN",
    "json-object": '{"seconds": 1}',
    "json-list": "[1, 2]",
    "json-true": "true",
    "json-null": "null",
    "nul": "a\x00b",
    "only-nul": "\x00",
    "escape": "\x1b[31mred\x1b[0m",
    "crlf": "a\r\nSet-Cookie: x=1",
    "bell-and-delete": "\x07\x7f\x9b",
    "rtl-override": "\u202eexe.txt",
    "bom": "\ufeffalice",
    "zero-width": "al\u200bice",
    "combining": "e\u0301" * 100,
    "emoji": "\U0001f600" * 20,
    "fullwidth": "\uff41\uff44\uff4d\uff49\uff4e",
    "private-use": "\ue000\U000f0000",
    "date-min": "0001-01-01T00:00",
    "date-max": "9999-12-31T23:59",
    "date-impossible": "2030-02-30T25:61",
    "markup": "<script>alert(1)</script>",
    "format-strings": "%s%n{0}{{7*7}}${x}",
}
# Where the two databases can differ (what text and which dates they store): PostgreSQL runs
# these; SQLite runs every value (the checks before storage are the same code on both).
STORAGE_SENSITIVE = ("large", "digits", "nul", "only-nul", "escape", "crlf", "bell-and-delete",
                     "rtl-override", "bom", "combining", "emoji", "private-use", "date-min",
                     "date-max")
RAW_VALUES: dict[str, str] = {  # percent-escapes sent raw: bytes that are not UTF-8
    "bad-utf8": "%ED%A0%80%FF%FE",
    "overlong-utf8": "%C0%AF%E0%80%AF",
}


@dataclass
class Form:
    """One HTML form: where it posts, a valid filling, and what counts as accepted."""

    name: str
    path: str
    page: str  # where its CSRF token comes from
    valid: dict[str, str]
    accepted: Callable[[object], bool] = field(default=lambda r: r.status_code in (302, 303))
    method: str = "POST"
    only: tuple[str, ...] = ()  # the fields to vary (default: all, and the CSRF token)


def token_shown(response) -> bool:
    return response.status_code == 200 and b'id="new-token"' in response.data


JOB_FIELDS = {
    "name": "nightly", "description": "", "task": "sleep", "args_json": "", "priority": "low",
    "deadline": "", "run_at": "", "max_attempts": "3", "timeout_seconds": "60",
    "concurrency_key": "deploy", "concurrency_limit": "2",
    "args-sleep-seconds": "1", "args-echo-message": "hi", "args-fail-message": "boom",
}
FORMS = [
    Form("register", "/auth/register", "/auth/register",
         {"username": "newuser", "email": "new@example.com", "password": PASSWORD,
          "confirm": PASSWORD}),
    Form("login", "/auth/login", "/auth/login",
         {"username": "alice", "password": PASSWORD, "remember": "y", "next": "/"}),
    Form("new-job", "/jobs/new", "/jobs/new", JOB_FIELDS),
    # Only the chosen task's argument fields are read: echo's takes any JSON or text.
    Form("new-job-echo", "/jobs/new", "/jobs/new", {**JOB_FIELDS, "task": "echo"},
         only=("args-echo-message",)),
    Form("token", "/account/tokens", "/account", {"name": "ci"}, accepted=token_shown),
    Form("revoke-token", "/account/tokens/1/revoke", "/account", {}),
    Form("cancel-job", "/jobs/1/cancel", "/jobs/1", {}),
    Form("retry-job", "/jobs/1/retry", "/jobs/1", {}),
    Form("delete-job", "/jobs/1/delete", "/jobs/1", {}),
    Form("logout", "/auth/logout", "/", {}),
    Form("dashboard-filters", "/", "/", {"status": "pending", "priority": "high", "q": "x"},
         accepted=lambda r: r.status_code == 200, method="GET"),
]


@dataclass
class Case:
    """One bad post: a label for the report and the urlencoded pairs it sends."""

    label: str
    pairs: list[tuple[str, str]]
    raw: str = ""  # appended to the body unencoded
    oversized: bool = False


def cases(form: Form, values: dict[str, str]) -> list[Case]:
    """Every field (the CSRF token too) with each bad value, then nested and repeated keys."""
    names = list(form.only) or [*form.valid, "csrf_token"]
    found: list[Case] = []
    for name in names:
        others = [(k, v) for k, v in form.valid.items() if k != name]
        valid = form.valid.get(name, "@token")  # "@token": the session's real CSRF token
        for label, value in values.items():
            found.append(Case(f"{name}={label}", [*others, (name, value)]))
        for label, value in RAW_VALUES.items():
            found.append(Case(f"{name}={label}", others, raw=f"{quote(name)}={value}"))
        found += [
            Case(f"{name}=huge", [*others, (name, HUGE)], oversized=form.method == "POST"),
            Case(f"{name} twice, bad first", [*others, (name, "a\x00"), (name, valid)]),
            Case(f"{name} twice, bad last", [*others, (name, valid), (name, "\x1b\x00")]),
            Case(f"{name} as {name}[b][c]", [*others, (f"{name}[b][c]", valid)]),
            Case(f"{name} beside {name}[]", [*others, (name, valid), (f"{name}[]", "\x00")]),
            Case(f"{name} missing", others),
        ]
    return found


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
                for model in (User, ApiToken, Job, Execution)}


def body_of(case: Case, token: str, form: Form) -> str:
    pairs = [(k, token if k == "csrf_token" and v == "@token" else v) for k, v in case.pairs]
    if form.method == "POST" and not any(k == "csrf_token" for k, _ in case.pairs) and \
            "csrf_token" not in case.label:
        pairs.append(("csrf_token", token))
    encoded = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
    return "&".join(filter(None, [encoded, case.raw]))


def send(client: FlaskClient, form: Form, body: str, address: str):
    environ = {"REMOTE_ADDR": address}
    if form.method == "GET":
        return client.get(f"{form.path}?{body}", environ_base=environ)
    return client.post(form.path, data=body, content_type="application/x-www-form-urlencoded",
                       environ_base=environ)


@pytest.fixture
def world(app: Flask) -> Flask:
    """alice with job 1 (pending) and token 1; the tests log in as her where a form needs it."""
    event_sink(app).sinks.clear()  # no Socket.IO sink: it would read while the app cleans up
    make_user(app, "alice")
    from tests.conftest import make_token

    make_token(app, "alice")
    with app.app_context():
        db.session.add(Job(owner_id=1, name="existing", task="sleep", args={}, status="pending"))
        db.session.commit()
    return app


SESSION_ENDING = ("register", "login", "logout")  # an accepted post changes the session


def logged_in_client(app: Flask, form: Form) -> FlaskClient:
    client = app.test_client()
    if form.name not in ("register", "login"):
        token = csrf_token(client, "/auth/login")
        response = client.post("/auth/login", data={"username": "alice", "password": PASSWORD,
                                                    "csrf_token": token})
        assert response.status_code == 302
    return client


@pytest.mark.parametrize("form", FORMS, ids=[f.name for f in FORMS])
def test_no_bad_value_in_any_field_is_a_500_a_stall_or_a_stored_row(world, backend, form):
    app = world
    values = VALUES if backend == "sqlite" else {k: VALUES[k] for k in STORAGE_SENSITIVE}
    problems: list[str] = []
    client = token = None
    for number, case in enumerate(cases(form, values)):
        if client is None or form.name in SESSION_ENDING:
            client = logged_in_client(app, form)
            token = csrf_token(client, form.page) if form.method == "POST" else ""
        if form.name == "register":  # accepted registrations must not collide on the name
            case.pairs = [(k, f"new{number}" if (k, v) == ("username", "newuser") else v)
                          for k, v in case.pairs]
        before = counts(app)
        started = time.monotonic()
        response = send(client, form, body_of(case, token, form),
                        address=f"10.1.{number // 250}.{number % 250}")
        took = time.monotonic() - started
        status = response.status_code
        if status >= 500:
            problems.append(f"{case.label}: {status}")
        elif took > WITHIN_SECONDS:
            problems.append(f"{case.label}: took {took:.2f} s")
        elif case.oversized and status != 413:
            problems.append(f"{case.label}: {status}, not 413")
        elif not form.accepted(response) and counts(app) != before:
            problems.append(f"{case.label}: refused ({status}) but stored "
                            f"{counts(app)} (was {before})")
    assert not problems, "\n".join(problems)
