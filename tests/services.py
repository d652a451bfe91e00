"""Real PostgreSQL and Redis for tests: skipped when not configured, failed when required."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, make_url, text

REQUIRE = os.environ.get("JOBSCHED_REQUIRE_SERVICES") == "1"


def service_url(name: str) -> str:
    """The URL in `name`, or skip (fail under JOBSCHED_REQUIRE_SERVICES=1) without it."""
    url = os.environ.get(name, "").strip()
    if not url:
        message = f"{name} is not set"
        if REQUIRE:
            pytest.fail(f"{message}, and JOBSCHED_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)
    return url


def postgres_url() -> str:
    from config import normalize_database_url

    return normalize_database_url(service_url("TEST_DATABASE_URL"))


def redis_url() -> str:
    return service_url("TEST_REDIS_URL")


@contextmanager
def scratch_database(base_url: str, prefix: str = "jobsched_t") -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of `base_url`, dropped afterwards."""
    url = make_url(base_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:  # FORCE: a client that reconnects is no obstacle
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
