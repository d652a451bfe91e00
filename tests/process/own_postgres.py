"""A PostgreSQL server of a test's own (initdb + pg_ctl on a spare port) that it can stop.

initdb refuses to run as root, so as root the server runs as the `postgres` OS user, in a
directory of its own under the system temp dir (pytest's tmp_path is private to root).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.process.procs import spare_port
from tests.services import REQUIRE

SERVER_USER = "postgres"


def server_binaries() -> Path:
    """The directory holding initdb and pg_ctl; skip (fail when required) without them."""
    found = shutil.which("initdb")
    candidates = [Path(found).parent] if found else []
    candidates += [Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                                                 key=_version, reverse=True)]
    for directory in candidates:
        if (directory / "pg_ctl").exists():
            return directory
    message = "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if REQUIRE:
        pytest.fail(f"{message}, and JOBSCHED_REQUIRE_SERVICES=1 requires them")
    pytest.skip(message)


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


class OwnPostgres:
    """A running server: `url`, and `stop()` / `start()` for outages."""

    def __init__(self, binaries: Path, home: Path) -> None:
        self.binaries, self.home, self.port = binaries, home, spare_port()
        self.data, self.log = home / "data", home / "server.log"
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *args: str) -> None:
        command = [str(self.binaries / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"{tool} failed ({done.returncode}):\n{done.stdout}\n"
                                 f"{done.stderr}\n{self.server_log()}")

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--no-sync", "--no-instructions")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1"
                   " -c fsync=off -c full_page_writes=off")
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                 "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def create_database(self, name: str) -> str:
        """A new empty database on this server; its URL."""
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()  # no pooled connection may outlive a server restart
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def server_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """Initialise and start a private server; stop it and delete its files afterwards."""
    binaries = server_binaries()
    home = Path(tempfile.mkdtemp(prefix="jobsched-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVER_USER)
        os.chown(home, account.pw_uid, account.pw_gid)
    server = OwnPostgres(binaries, home)
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            server.stop("immediate")
        except AssertionError:
            pass  # already stopped, or never started
        shutil.rmtree(home, ignore_errors=True)
