"""JOBSCHED_TRUSTED_PROXIES: the client's address comes from the proxy only when trusted."""
from __future__ import annotations

import pytest
from flask import request

from config import ROOT
from jobsched import create_app
from tests.conftest import TEST_ENV, app_settings


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("hops", "seen"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_forwarded_address_is_used_only_behind_trusted_proxies(database_url, hops, seen):
    app = create_app({**app_settings(database_url), "JOBSCHED_TRUSTED_PROXIES": hops},
                     env=TEST_ENV)
    app.add_url_rule("/_addr", "addr", lambda: request.remote_addr or "")
    response = app.test_client().get(
        "/_addr", headers={"X-Forwarded-For": "203.0.113.9"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.get_data(as_text=True) == seen


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_forwarded_host_is_never_taken_from_the_client(database_url):
    """nginx (docs/deploy.md) passes Host and leaves a client's X-Forwarded-Host as sent."""
    app = create_app({**app_settings(database_url), "JOBSCHED_TRUSTED_PROXIES": 1},
                     env=TEST_ENV)
    app.add_url_rule("/_seen", "seen", lambda: f"{request.scheme}://{request.host}")
    response = app.test_client().get("/_seen", headers={
        "Host": "jobs.example.com", "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
    })
    assert response.get_data(as_text=True) == "https://jobs.example.com"


def test_the_deploy_docs_nginx_passes_the_host_and_no_forwarded_host():
    nginx = (ROOT / "docs" / "deploy.md").read_text().split("```nginx", 1)[1].split("```")[0]
    assert "proxy_set_header Host $host;" in nginx
    assert "X-Forwarded-Host" not in nginx
