"""Fixtures for the store contract: one `harness` per store kind (memory, SQLite, PostgreSQL).

The SQL kinds run on the real migrated schema (tests/conftest.py builds it); PostgreSQL
ones skip without TEST_DATABASE_URL. Memory and SQLite run on a fake clock starting at T0,
PostgreSQL on its own now().
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from jobsched.database import engine_options
from jobsched.storage.store import SqlJobStore
from tests.helpers import FakeClock
from tests.memory import MemoryStore
from tests.store.harness import MemoryBackend, SqlBackend

KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SQL_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def sqlite_copy(template: Path, directory: Path) -> str:
    """A fresh copy of the migrated SQLite template."""
    path = directory / "store.db"
    path.write_bytes(template.read_bytes())
    return f"sqlite:///{path}"


def sql_engine(kind: str, request: pytest.FixtureRequest, directory: Path) -> Engine:
    if kind == "postgres":
        url = request.getfixturevalue("postgres_database")
    else:
        url = sqlite_copy(request.getfixturevalue("sqlite_template"), directory)
    return create_engine(url, **engine_options(url))


@contextmanager
def shared_engine(kind: str, request: pytest.FixtureRequest,
                  directory: Path) -> Iterator[Engine]:
    """A migrated database a whole module shares (SQLite's connection rules installed); its
    rows are gone afterwards (PostgreSQL's database outlives the module)."""
    engine = sql_engine(kind, request, directory)
    SqlJobStore(engine)  # installs the SQLite connection rules
    try:
        yield engine
    finally:
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE executions, jobs, users RESTART IDENTITY CASCADE"))
        engine.dispose()


def make_harness(kind: str, request: pytest.FixtureRequest, directory: Path,
                 exclusive: bool = False) -> MemoryBackend | SqlBackend:
    if kind == "memory":
        clock = FakeClock()
        return MemoryBackend(MemoryStore(clock, exclusive=exclusive), clock)
    clock = None if kind == "postgres" else FakeClock()
    return SqlBackend(sql_engine(kind, request, directory), clock)


@pytest.fixture(params=KINDS)
def harness(request, tmp_path) -> Iterator[MemoryBackend | SqlBackend]:
    backend = make_harness(request.param, request, tmp_path)
    yield backend
    backend.close()


@pytest.fixture(params=SQL_KINDS)
def sql_harness(request, tmp_path) -> Iterator[SqlBackend]:
    backend = make_harness(request.param, request, tmp_path)
    yield backend
    backend.close()


@pytest.fixture(params=["memory", "sqlite"])
def exclusive_harness(request, tmp_path) -> Iterator[MemoryBackend | SqlBackend]:
    """Stores that allow one live scheduler: SQLite, and memory mimicking it."""
    backend = make_harness(request.param, request, tmp_path, exclusive=True)
    yield backend
    backend.close()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_harness(request, tmp_path) -> Iterator[MemoryBackend | SqlBackend]:
    """Stores that many schedulers may share at once."""
    backend = make_harness(request.param, request, tmp_path)
    yield backend
    backend.close()


@pytest.fixture
def pg_harness(request, tmp_path) -> Iterator[SqlBackend]:
    """PostgreSQL only (row locks, advisory locks)."""
    backend = make_harness("postgres", request, tmp_path)
    yield backend
    backend.close()
