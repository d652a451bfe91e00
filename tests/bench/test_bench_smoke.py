"""`bench/run.py --smoke` measures every figure against real PostgreSQL and Redis, and exits 0.

Benchmarks are not timed tests: this only checks that the scripts work end to end (tiny
sizes, one run) and that the report names every figure; no number is judged.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import FIGURES
from tests.services import postgres_url, redis_url, service_url

ROOT = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT = 180  # the smoke run's own budget is under two minutes

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def smoke_command() -> list[str]:
    """The smoke run on the test PostgreSQL server; Redis: a private one, else the test one."""
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke",
               "--database-url", service_url("TEST_DATABASE_URL")]
    if shutil.which("redis-server") is None:
        command += ["--redis-url", redis_url()]
    return command


def bench_databases() -> set[str]:
    """Names of scratch databases the benchmarks make (any run's, on the test server)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url())
    try:
        with engine.connect() as conn:
            return set(conn.scalars(text(
                "SELECT datname FROM pg_database WHERE datname LIKE 'jobsched_bench_%'")))
    finally:
        engine.dispose()


def test_smoke_run_reports_every_figure_and_cleans_up() -> None:
    before = bench_databases()
    result = subprocess.run(smoke_command(), cwd=ROOT, capture_output=True, text=True,
                            timeout=SMOKE_TIMEOUT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for name in FIGURES:
        assert f"bench: figure {name} ok" in result.stdout, output
        assert f"<!-- {name} -->" in result.stdout, output
    assert "failed: none" in result.stdout
    assert bench_databases() <= before, "the smoke run left scratch databases behind"
