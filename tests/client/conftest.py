"""A live server for the client's tests: `python wsgi.py` on SQLite with its embedded
scheduler, an administrator registered first, and users with API tokens."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from jobsched.client import Client
from tests.helpers import LIVE
from tests.realtime.conftest import migrated_sqlite
from tests.realtime.server import LiveServer, WebSession, issue_token, start_web

ADMIN = "root"
_names = itertools.count(1)


@dataclass
class Site:
    """The server, and an API token of its administrator."""

    server: LiveServer
    admin_token: str

    @property
    def url(self) -> str:
        return self.server.url

    def new_user(self, stem: str = "user") -> tuple[str, str]:
        """Register a fresh user through the form: their name and an API token."""
        name = f"{stem}{next(_names)}"
        WebSession(self.url).register(name)
        return name, issue_token(self.url, name)

    def set_limits(self, username: str, **limits: object) -> None:
        """Set one user's own limits (SPEC §10) as the administrator."""
        response = requests.put(f"{self.url}/jobs/api/users/{username}/limits",
                                json=limits, timeout=10,
                                headers={"Authorization": f"Bearer {self.admin_token}"})
        assert response.status_code == 200, response.text


@pytest.fixture(scope="package")
def site(tmp_path_factory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("client")
    server = start_web(migrated_sqlite(folder), folder / "logs")
    WebSession(server.url).register(ADMIN)
    yield Site(server, issue_token(server.url, ADMIN))
    server.stop()


@pytest.fixture(autouse=True)
def _keep_server_for_reports(request) -> None:
    """Remember the live server, so that a failure shows what it logged."""
    if "site" in request.fixturenames:
        request.node.stash[LIVE] = request.getfixturevalue("site").server


@pytest.fixture
def client(site: Site) -> Iterator[Client]:
    """A client as a fresh user (tests share the server, so each has its own jobs)."""
    with Client(site.url, site.new_user()[1]) as jobs:
        yield jobs


@pytest.fixture
def make_client(site: Site) -> Iterator[Callable[..., Client]]:
    """Clients with options, closed after the test."""
    made: list[Client] = []

    def make(token: str | None = None, url: str | None = None, **options: object) -> Client:
        made.append(Client(url or site.url, token or site.new_user()[1], **options))
        return made[-1]

    yield make
    for each in made:
        each.close()
