"""Cookie flags and security headers: what a browser is told on every response."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask

from jobsched import create_app
from jobsched.extensions import db
from tests.conftest import PASSWORD, app_settings, csrf_token, make_user

PRODUCTION_ENV = {"JOBSCHED_ENV": "production", "SECRET_KEY": "x" * 40}
HTTPS = "https://localhost"


def cookie(response, name: str) -> list[str]:
    """The attributes of the Set-Cookie for `name`, e.g. ["session=…", "HttpOnly", …]."""
    for header in response.headers.getlist("Set-Cookie"):
        parts = [p.strip() for p in header.split(";")]
        if parts[0].startswith(f"{name}="):
            return parts
    raise AssertionError(f"no {name} cookie in {response.headers.getlist('Set-Cookie')}")


def flags(parts: list[str]) -> set[str]:
    return {p.lower() for p in parts[1:]}


@pytest.fixture
def production_app(app: Flask, database_url: str) -> Iterator[Flask]:
    """The app as production builds it, on the same database as `app` (which cleans up)."""
    production = create_app(app_settings(database_url), env=PRODUCTION_ENV)
    yield production
    with production.app_context():
        db.session.remove()
        db.engine.dispose()


def login(client, base_url: str = "http://localhost", remember: bool = False, **headers):
    token = csrf_token_at(client, base_url)
    data = {"username": "alice", "password": PASSWORD, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    return client.post("/auth/login", data=data, base_url=base_url, headers=headers)


def csrf_token_at(client, base_url: str) -> str:
    if base_url == "http://localhost":
        return csrf_token(client)
    html = client.get("/auth/login", base_url=base_url).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_session_cookie_is_httponly_and_samesite_lax(app, client):
    make_user(app, "alice")
    response = login(client)
    assert response.status_code == 302
    session = flags(cookie(response, "session"))
    assert {"httponly", "samesite=lax"} <= session
    assert "secure" not in session  # plain http in development and tests


def test_remember_me_cookie_has_the_same_flags(app, client):
    make_user(app, "alice")
    remember = flags(cookie(login(client, remember=True), "remember_token"))
    assert {"httponly", "samesite=lax"} <= remember


def test_production_cookies_are_secure_too(app, production_app):
    make_user(app, "alice")
    client = production_app.test_client()
    response = login(client, HTTPS, remember=True, Referer=f"{HTTPS}/auth/login")
    assert response.status_code == 302
    assert {"httponly", "samesite=lax", "secure"} <= flags(cookie(response, "session"))
    assert {"httponly", "samesite=lax", "secure"} <= flags(cookie(response, "remember_token"))
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_production_refuses_a_form_posted_from_another_site(app, production_app):
    make_user(app, "alice")
    client = production_app.test_client()
    response = login(client, HTTPS, Referer="https://evil.example/login")
    assert response.status_code == 400


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


@pytest.mark.parametrize("path, status", [
    ("/auth/login", 200), ("/auth/register", 200), ("/", 302), ("/no-such-page", 404),
])
def test_security_headers_on_pages(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert_security_headers(response)


def test_security_headers_on_logged_in_pages(client, auth):
    auth.register("alice")
    for path in ("/", "/account"):
        assert_security_headers(client.get(path))


def test_security_headers_on_api_404(client):
    response = client.get("/jobs/api/no-such-resource")
    assert response.status_code == 404
    assert response.is_json
    assert_security_headers(response)


@pytest.mark.parametrize("path", [
    "/static/css/app.css", "/static/js/app.js", "/static/vendor/bootstrap/bootstrap.min.css",
    "/favicon.ico",
])
def test_security_headers_on_static_files(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert_security_headers(response)
    response.close()


def test_failed_csrf_page_still_carries_security_headers(client):
    response = client.post("/auth/login", data={"username": "alice", "password": "x"})
    assert response.status_code == 400
    assert_security_headers(response)


def post_login_without_the_session(app, production_app, base_url: str):
    """A login form posted as a browser does when the Secure session cookie it got is not
    sent back: over plain HTTP, browsers keep such a cookie to themselves."""
    make_user(app, "alice")
    token = csrf_token_at(production_app.test_client(), base_url)
    return production_app.test_client().post(
        "/auth/login", base_url=base_url, headers={"Referer": f"{base_url}/auth/login"},
        data={"username": "alice", "password": PASSWORD, "csrf_token": token})


def test_a_form_over_plain_http_with_secure_cookies_says_why_it_failed(app, production_app):
    response = post_login_without_the_session(app, production_app, "http://localhost")
    assert response.status_code == 400
    text = " ".join(page_text(response).split())
    assert "came over plain HTTP" in text and "Serve the site over HTTPS" in text
    assert "JOBSCHED_SECURE_COOKIES=0" in text
    assert "form expired" not in text


def test_over_https_a_lost_session_is_still_an_expired_form(app, production_app):
    response = post_login_without_the_session(app, production_app, HTTPS)
    assert response.status_code == 400
    assert "form expired" in page_text(response)
    assert "plain HTTP" not in page_text(response)


@pytest.fixture
def plain_http_app(app: Flask, database_url: str) -> Iterator[Flask]:
    """Production with JOBSCHED_SECURE_COOKIES=0: a trial on a private network."""
    trial = create_app(app_settings(database_url),
                       env={**PRODUCTION_ENV, "JOBSCHED_SECURE_COOKIES": "0"})
    yield trial
    with trial.app_context():
        db.session.remove()
        db.engine.dispose()


def test_without_secure_cookies_production_logs_in_over_plain_http(app, plain_http_app):
    make_user(app, "alice")
    response = login(plain_http_app.test_client())
    assert response.status_code == 302
    assert "secure" not in flags(cookie(response, "session"))
    assert "Strict-Transport-Security" not in response.headers


def page_text(response) -> str:
    return response.get_data(as_text=True)


def test_a_request_that_brought_its_session_cookie_has_an_expired_form(app, production_app):
    """Seen as plain HTTP behind an untrusted proxy, but the browser was on HTTPS: it sent
    the cookie, so the form really expired."""
    client = production_app.test_client()
    csrf_token_at(client, "http://localhost")  # the session cookie is set
    response = client.post("/auth/login", data={"username": "alice", "csrf_token": "stale"},
                           headers={"Referer": "http://localhost/auth/login"})
    assert response.status_code == 400
    assert "form expired" in page_text(response)
