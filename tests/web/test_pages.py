"""The base layout as people and browsers meet it: navigation, accessibility, local assets."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from jobsched.extensions import db
from tests.conftest import make_user
from tests.web.page import Page, page_of

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ["bootstrap", "socket.io-client", "chart.js"]


@pytest.fixture
def pages(app, client, auth) -> dict[str, Page]:
    """Every page of this part of the app, as a logged-out visitor and as a user sees it."""
    seen = {name: page_of(client.get(path)) for name, path in
            [("login", "/auth/login"), ("register", "/auth/register"),
             ("not found", "/no-such-page")]}
    auth.register("alice")
    seen.update({name: page_of(client.get(path)) for name, path in
                 [("dashboard", "/"), ("account", "/account")]})
    return seen


def test_dashboard_shows_no_made_up_data(client, auth):
    """A new user's dashboard counts nothing and lists no job (rows come from the API)."""
    auth.register("alice")
    page = page_of(client.get("/"))
    counts = [" ".join(e.text.split()) for e in page.elements if "data-stat" in e.attrs]
    assert set(counts) - {"—"} == {"0", "3"}  # zero jobs of every kind; a limit of 3
    assert [r.text.strip() for r in page.all("tr", **{"class": "placeholder-row"})] == [
        "Loading jobs…"]
    assert [a.attrs["href"] for a in page.all("a", href="/jobs/new")]


def nav_links(page: Page) -> list[str]:
    links = [a for a in page.all("a") if "nav-link" in a.attrs.get("class", "")]
    return [" ".join(a.text.split()) for a in links]


def test_navbar_for_a_user(app, client, auth):
    make_user(app, "root", admin=True)
    auth.register("alice")
    page = page_of(client.get("/"))
    assert nav_links(page) == ["Dashboard", "New job", "Schedules", "API docs"]
    assert page.all("a", href="/", **{"aria-current": "page"})
    assert "alice" in page.text_of("user-menu") and "admin" not in page.text_of("user-menu")
    [logout] = page.all("form", action="/auth/logout")
    assert logout.attrs["method"] == "post" and "Log out" in logout.text
    assert page.all("a", href="/account")


def test_navbar_for_an_admin_adds_nodes_and_users(client, auth):
    auth.register("root")
    page = page_of(client.get("/"))
    assert nav_links(page) == ["Dashboard", "New job", "Schedules", "API docs", "Nodes", "Users"]
    assert page.all("a", href="/admin/nodes")
    assert page.all("a", href="/admin/users")
    assert "admin" in page.text_of("user-menu")


def test_navbar_for_a_visitor_offers_login_and_registration(client):
    page = page_of(client.get("/auth/register"))
    assert nav_links(page) == ["Log in", "Register"]
    assert page.all("form", action="/auth/logout") == []


def test_flashed_messages_can_be_dismissed(client, auth):
    auth.register("alice")
    page = page_of(client.get("/"))
    [alert] = [d for d in page.all("div", role="alert") if "Welcome" in d.text]
    assert "alert-success" in alert.attrs["class"]
    assert page.all("button", **{"data-bs-dismiss": "alert"})[0].attrs["aria-label"]


def test_pages_load_only_local_files_and_no_inline_code(pages):
    """The CSP allows only our own files: anything inline or remote would break the page."""
    for name, page in pages.items():
        for script in page.all("script"):
            assert script.attrs.get("src", "").startswith("/static/"), name
            assert not script.text.strip(), name
        for link in page.all("link"):
            assert link.attrs["href"].startswith("/"), name
        assert page.all("style") == [], name
        assert not [e for e in page.elements if "style" in e.attrs], name
        assert not [e for e in page.elements if any(k.startswith("on") for k in e.attrs)], name


def test_every_field_and_button_has_an_accessible_name(pages):
    for name, page in pages.items():
        labels = {label.attrs.get("for") for label in page.all("label")}
        for field in page.elements:
            if field.tag in ("input", "select", "textarea") and field.attrs.get("type") != "hidden":
                assert field.attrs.get("id") in labels or field.attrs.get("aria-label"), (
                    name, field)
        for button in page.all("button"):
            assert button.text.strip() or button.attrs.get("aria-label"), (name, button)
        for image in page.all("img"):
            assert "alt" in image.attrs, (name, image)
        assert len(page.all("h1")) == 1, name
        assert page.all("html")[0].attrs["lang"] == "en"
        assert "width=device-width" in page.all("meta", name="viewport")[0].attrs["content"]


def test_referenced_assets_exist(client, pages):
    for page in pages.values():
        paths = [s.attrs["src"] for s in page.all("script")]
        paths += [link.attrs["href"] for link in page.all("link")]
        paths += [img.attrs["src"] for img in page.all("img")]
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            response.close()


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.get_data()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    response.close()


def test_vendored_libraries_match_the_pinned_versions():
    """static/vendor/ is what package.json pins, with its licence recorded and kept."""
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]
    assert sorted(pinned) == sorted(VENDORED)
    versions = (ROOT / "static/vendor/VERSIONS.md").read_text()
    for package in VENDORED:
        assert f"| {package} | {pinned[package]} | MIT |" in versions
    assert pinned["bootstrap"].startswith("5.") and pinned["chart.js"].startswith("4.")
    assert pinned["socket.io-client"].startswith("4.")  # Socket.IO protocol 5 = python-socketio 5
    for folder in ("bootstrap", "socket.io", "chart.js"):
        assert list((ROOT / "static/vendor" / folder).glob("LICENSE*")), folder
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for package in VENDORED:
        assert lock[f"node_modules/{package}"]["version"] == pinned[package]


def test_server_error_page_renders_even_when_the_database_is_down(app, client, auth, monkeypatch):
    def boom():
        raise RuntimeError("unexpected")

    app.add_url_rule("/test-boom", "test_boom", boom)
    auth.register("alice")

    def database_down(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "get", database_down)  # loading the user now fails
    response = client.get("/test-boom")
    assert response.status_code == 500
    page = page_of(response)
    assert " ".join(page.all("h1")[0].text.split()) == "Something went wrong"
    assert page.all("button", id="user-menu") == []


def test_pages_answer_503_with_retry_after_while_the_database_is_away(client, auth,
                                                                     monkeypatch):
    auth.register("alice")

    def database_down(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "get", database_down)  # loading the user now fails
    for path in ("/", "/account", "/jobs/new"):
        response = client.get(path)
        assert (response.status_code, response.headers["Retry-After"]) == (503, "5"), path
        page = page_of(response)
        assert " ".join(page.all("h1")[0].text.split()) == "Service unavailable"
        assert "Try again in a few seconds" in response.get_data(as_text=True)
        assert "refused" not in response.get_data(as_text=True)
    monkeypatch.undo()
    assert client.get("/").status_code == 200  # and back by itself


def every_route(app) -> list[str]:
    """Each URL rule once, with 1 for an int argument and x for any other."""
    paths = set()
    for rule in app.url_map.iter_rules():
        parts = {name: 1 if type(rule._converters[name]).__name__ == "IntegerConverter"
                 else "x" for name in rule.arguments}
        paths.add(rule.build(parts, append_unknown=False)[1])
    return sorted(paths)


@pytest.mark.parametrize("who", ["visitor", "user"])
@pytest.mark.parametrize("method", ["OPTIONS", "HEAD"])
def test_options_and_head_never_fail_on_any_route(app, client, auth, who, method):
    if who == "user":
        make_user(app, "root", admin=True)  # so that alice is not the administrator
        auth.register("alice")
    paths = every_route(app)
    assert "/admin/nodes" in paths and "/jobs/api/jobs/1/executions/" in paths
    failed = {}
    for path in paths:
        with client.open(path, method=method) as response:  # a file's body gets closed
            if response.status_code >= 500:
                failed[path] = response.status_code
    assert failed == {}


def test_a_visitor_is_told_the_methods_of_the_admin_pages_and_nothing_more(client):
    response = client.options("/admin/nodes")
    assert response.status_code == 200
    assert "GET" in response.headers["Allow"] and response.get_data() == b""
    assert client.get("/admin/nodes").status_code == 302  # to the login page


def test_a_session_that_cannot_end_after_the_database_went_away_spoils_no_answer(
        app, client, monkeypatch):
    """The server went away during the request: rolling the session back at its end fails
    (its connection is invalidated already); the answer stands and the next one works."""
    real_close = Session.close
    failures: list[str] = []

    def close_on_a_dead_connection(self):
        if not failures:
            failures.append("failed")
            real_close(self)
            raise OperationalError("ROLLBACK", {}, Exception("server closed the connection"),
                                   connection_invalidated=True)
        real_close(self)

    monkeypatch.setattr(Session, "close", close_on_a_dead_connection)
    assert client.get("/healthz").status_code == 200
    assert failures == ["failed"]
    assert client.get("/healthz").status_code == 200
