"""The layering holds: the scheduler core stays plain Python (no Flask, SQLAlchemy, eventlet
or models imports, nothing of jobsched outside itself), the storage layer never reaches up
into the web, the API or real time, and every package of jobsched/ says what it may use."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "jobsched"
CORE = PACKAGE / "scheduler"
FORBIDDEN = ("flask", "flask_sqlalchemy", "flask_socketio", "sqlalchemy", "eventlet",
             "jobsched.models")


def imported_modules(path: Path, package: str = "jobsched.scheduler") -> set[str]:
    """Every module a file imports, relative imports resolved against `package`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(_from_names(node, package))
    return names


def _from_names(node: ast.ImportFrom, package: str) -> set[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = package.split(".")
        parent = parts[: len(parts) - (node.level - 1)]
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


# -- every package: which other parts of jobsched/ it may import -------------------------

# A unit is a subpackage or a top-level module of jobsched/. Lower layers first: the core,
# the tasks, the models and the storage layer know nothing of the web above them.
WEB = {"jobs", "schedules", "auth", "account", "admin", "api", "realtime", "metrics", "health",
       "favicon", "security", "errors", "runtime", "runner", "cli", "app", "extensions"}
MAY_IMPORT: dict[str, set[str]] = {
    "scheduler": set(),
    "tasks": {"scheduler"},
    "orm": set(),
    "database": set(),
    "jsontext": {"scheduler"},
    "validators": set(),
    "models": {"orm", "scheduler"},
    "storage": {"scheduler", "models", "database", "orm"},
    "extensions": {"orm"},
    "logging_setup": set(),
    "runtime": {"scheduler", "tasks"},
    "jobs": {"scheduler", "storage", "models", "database", "orm", "extensions", "runtime",
             "jsontext", "validators"},
    # Recurring jobs (SPEC §12): their template is checked and run-now created by the jobs'
    # own service; their pages reuse the jobs' form fields.
    "schedules": {"scheduler", "storage", "models", "database", "extensions", "runtime",
                  "jobs", "jsontext", "validators"},
    "auth": {"scheduler", "models", "database", "extensions", "realtime", "runtime",
             "validators"},
    "account": {"scheduler", "auth", "extensions", "models", "validators"},
    # The users page sets limits through the same service as the API (jobs/user_limits.py).
    "admin": {"scheduler", "storage", "models", "extensions", "jobs"},
    "api": {"scheduler", "jobs", "schedules", "auth", "models", "extensions", "runtime",
            "jsontext"},
    "realtime": {"scheduler", "jobs", "auth", "models", "extensions", "runtime"},
    "metrics": {"scheduler", "storage", "models", "extensions"},
    "health": {"extensions"},
    "favicon": set(),
    "security": set(),
    "errors": {"security"},
    "runner": {"scheduler", "storage", "database", "extensions", "metrics", "runtime"},
    "cli": {"scheduler", "storage", "auth", "extensions", "logging_setup", "metrics",
            "realtime", "runner"},
    "app": set(WEB | {"database", "orm", "scheduler", "storage", "models", "tasks",
                      "logging_setup"}),
    "__init__": {"app"},
    # The Python client and the `jobsched` command (SPEC §13) run where the server's
    # dependencies are not installed: they know the API's JSON, not the server's code.
    "client": set(),
}
# Third-party packages a unit may never import, besides the rule table above.
NEVER: dict[str, tuple[str, ...]] = {
    "storage": ("flask_wtf", "wtforms", "flask_restx", "flask_socketio", "socketio",
                "flask_login", "eventlet"),
    "client": ("flask", "flask_sqlalchemy", "flask_restx", "flask_socketio", "flask_login",
               "flask_wtf", "werkzeug", "sqlalchemy", "eventlet", "redis", "psycopg2",
               "jsonschema"),
}


def unit_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def package_of(path: Path) -> str:
    parts = ["jobsched", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1])  # a module's own package; an __init__'s is itself


def jobsched_units(names: set[str]) -> set[str]:
    """The units of jobsched/ that these imported names belong to."""
    units = set()
    for name in names:
        parts = name.split(".")
        if parts[0] == "jobsched" and len(parts) > 1:
            unit = parts[1]
            if (PACKAGE / unit).is_dir() or (PACKAGE / f"{unit}.py").is_file():
                units.add(unit)
    return units


ALL_FILES = sorted(PACKAGE.rglob("*.py"))


def test_every_unit_of_the_package_has_a_rule():
    units = {unit_of(path) for path in ALL_FILES}
    assert units == set(MAY_IMPORT), "name what a new package may import in MAY_IMPORT"


@pytest.mark.parametrize("path", ALL_FILES, ids=[str(p.relative_to(PACKAGE)) for p in ALL_FILES])
def test_each_module_imports_only_what_its_layer_allows(path):
    unit = unit_of(path)
    names = imported_modules(path, package_of(path))
    reached = jobsched_units(names) - {unit}
    extra = sorted(reached - MAY_IMPORT[unit])
    assert not extra, f"{unit} may not import {extra}"
    banned = sorted(n for n in names for bad in NEVER.get(unit, ())
                    if n == bad or n.startswith(bad + "."))
    assert not banned, f"{path.name} imports {banned}"


def test_the_storage_layer_never_reaches_the_web_api_or_real_time():
    assert not MAY_IMPORT["storage"] & {"jobs", "api", "realtime", "auth", "extensions"}
    assert MAY_IMPORT["scheduler"] == set()


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    script = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    return set(done.stdout.split())


def test_importing_the_core_loads_no_flask():
    modules = ", ".join(f"jobsched.scheduler.{p.stem}" for p in CORE_FILES if p.stem != "__init__")
    loaded = loaded_after(f"import {modules}")
    assert "jobsched.scheduler.node" in loaded
    assert "flask" not in loaded
    assert not {m for m in loaded if m.startswith(("sqlalchemy", "eventlet", "jobsched.models"))}


def test_importing_the_storage_layer_loads_no_web_side():
    storage = sorted((PACKAGE / "storage").glob("*.py"))
    modules = ", ".join(f"jobsched.storage.{p.stem}" for p in storage if p.stem != "__init__")
    loaded = loaded_after(f"import {modules}")
    assert "jobsched.storage.store" in loaded
    web = {m for m in loaded if m.split(".")[0] in {"flask_wtf", "wtforms", "flask_restx",
                                                   "flask_socketio", "socketio", "eventlet"}}
    ours = {m for m in loaded if m.startswith("jobsched.") and jobsched_units({m}) & WEB}
    assert not web and not ours, sorted(web | ours)


def test_the_package_still_offers_create_app():
    loaded = loaded_after("import jobsched")
    assert "flask" not in loaded
    assert "jobsched.app" in loaded_after("from jobsched import create_app")
