"""GET /healthz (SPEC §9)."""
from __future__ import annotations

import pytest

from jobsched import create_app
from tests.conftest import TEST_ENV, app_settings
from tests.services import redis_url


def test_healthy_without_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "disabled"}


@pytest.mark.redis
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_reports_redis_ok_when_configured(database_url):
    app = create_app({**app_settings(database_url), "REDIS_URL": redis_url()}, env=TEST_ENV)
    assert app.test_client().get("/healthz").get_json()["redis"] == "ok"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_reports_redis_down_but_stays_up(database_url):
    app = create_app({**app_settings(database_url), "REDIS_URL": "redis://127.0.0.1:1/0"},
                     env=TEST_ENV)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["redis"] == "down"


def test_database_down_is_503():
    url = "postgresql+psycopg2://postgres@127.0.0.1:1/nothing?connect_timeout=1"
    app = create_app(app_settings(url), env=TEST_ENV)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"
    assert response.content_type == "application/json"
