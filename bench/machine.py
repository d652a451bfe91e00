"""The machine, versions and server settings a benchmark ran with."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import redis

from .harness import ROOT, connect

PACKAGES = ("Flask", "Flask-SocketIO", "python-socketio", "flask-restx", "SQLAlchemy",
            "psycopg2-binary", "eventlet", "gunicorn", "redis")
PG_SETTINGS = ("shared_buffers", "synchronous_commit", "fsync", "max_connections", "work_mem")


def describe(database_url: str, redis_url: str) -> list[tuple[str, str]]:
    """(what, value) pairs for the report's machine section."""
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", f"{os.cpu_count()} cores (`nproc`), {_cpu_model()}"),
        ("memory", _free()),
        ("OS", f"Linux {platform.release()}"),
        ("Python", sys.version.split()[0]),
        ("PostgreSQL", _postgres(database_url)),
        ("Redis", _redis(redis_url)),
        ("packages", ", ".join(f"{name} {_version(name)}" for name in PACKAGES)),
        ("code", _revision()),
        ("load average at start", _load()),
    ]


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews every figure."""
    return _load()


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _free() -> str:
    """`free -h`'s Mem line: total, used, available."""
    try:
        lines = subprocess.run(["free", "-h"], capture_output=True, text=True,
                               timeout=5).stdout.splitlines()
    except OSError:
        return "unknown"
    mem = next((line.split() for line in lines if line.startswith("Mem:")), None)
    if not mem:
        return "unknown"
    return f"{mem[1]} total, {mem[-1]} available (`free -h`)"


def _postgres(url: str) -> str:
    conn = connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
            cursor.execute("SELECT name, setting, coalesce(unit, '') FROM pg_settings "
                           "WHERE name = ANY(%s) ORDER BY name", (list(PG_SETTINGS),))
            settings = ", ".join(f"{n}={_unit(s, u)}" for n, s, u in cursor.fetchall())
    finally:
        conn.close()
    return f"{version} on 127.0.0.1 ({settings})"


def _unit(setting: str, unit: str) -> str:
    if unit == "8kB":
        return f"{int(setting) * 8 // 1024} MB"
    if unit == "kB":
        return f"{int(setting) // 1024} MB" if int(setting) >= 1024 else f"{setting} kB"
    return setting + unit


def _redis(url: str) -> str:
    client = redis.Redis.from_url(url)
    try:
        return f"{client.info('server')['redis_version']} ({url.rsplit('@', 1)[-1]})"
    finally:
        client.close()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _revision() -> str:
    """The checked-out commit, and whether the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True, timeout=5).stdout
    except OSError:
        return "unknown"
    return f"{head or 'unknown'}{' with local changes' if dirty.strip() else ''}"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"
