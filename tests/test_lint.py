"""The code keeps the agreed style: ruff's rules from pyproject.toml (complexity ≤ 10)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "jobsched", "config.py",
         "wsgi.py", "tests", "bench", "migrations/env.py"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
