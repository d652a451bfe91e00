"""The scheduler core stays plain Python: no Flask, SQLAlchemy, eventlet or models imports."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "jobsched" / "scheduler"
FORBIDDEN = ("flask", "flask_sqlalchemy", "flask_socketio", "sqlalchemy", "eventlet",
             "jobsched.models")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved against jobsched.scheduler."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(_from_names(node))
    return names


def _from_names(node: ast.ImportFrom) -> set[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        package = "jobsched.scheduler".split(".")
        parent = package[: len(package) - (node.level - 1)]
        base = ".".join(parent + ([node.module] if node.module else []))
    # `from jobsched import models` imports jobsched.models too.
    return {base} | {f"{base}.{alias.name}" for alias in node.names}


def forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") or
               (bad == "flask" and name.startswith("flask_")) for bad in FORBIDDEN)


CORE_FILES = sorted(CORE.glob("*.py"))


def test_the_core_has_modules_to_check():
    assert {"node.py", "ordering.py", "store.py"} <= {p.name for p in CORE_FILES}


@pytest.mark.parametrize("path", CORE_FILES, ids=[p.name for p in CORE_FILES])
def test_core_module_imports_nothing_forbidden(path):
    bad = sorted(name for name in imported_modules(path) if forbidden(name))
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("source", [
    "import flask", "from flask import Flask", "import flask_login", "from sqlalchemy import x",
    "import sqlalchemy.orm", "import eventlet", "from jobsched.models import Job",
    "from jobsched import models", "from .. import models", "from ..models import Job",
])
def test_the_scan_catches_each_form(tmp_path, source):
    path = tmp_path / "m.py"
    path.write_text(source + "\n")
    assert any(forbidden(name) for name in imported_modules(path))


def test_the_scan_allows_the_core_and_stdlib(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import threading\nfrom .store import JobStore\nfrom . import retry\n")
    assert not any(forbidden(name) for name in imported_modules(path))
