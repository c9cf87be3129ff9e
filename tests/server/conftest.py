"""Start the real server (scripts/serve.sh: gunicorn + the job worker) on the test database.

On SQLite the test database lives in memory, so it is copied (SQLite's backup
API) into a file the server opens; on PostgreSQL the server connects to the test
database itself. Tests using ``served`` commit their data first
(``transactional_db``), so the server's separate processes see it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url(tmp: Path) -> str:
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        target = tmp / "served.sqlite3"
        import sqlite3

        connection.ensure_connection()
        dest = sqlite3.connect(target)
        connection.connection.backup(dest)  # type: ignore[union-attr]
        # The test database lives in memory, so the copy comes out in rollback-journal
        # mode; a real database is in WAL from its first migrate. Without this, the
        # server's first connection switches the file to WAL, which needs an exclusive
        # lock: a test holding the write lock at that moment saw its reads refused.
        dest.execute("PRAGMA journal_mode=WAL")
        dest.close()
        return f"sqlite:///{target}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@dataclass
class Served:
    """A running server: its base URL and its log."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]
    database_url: str

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One STATIC_ROOT for every server of the run: collectstatic compresses only once."""
    return tmp_path_factory.mktemp("static")


@pytest.fixture
def serve(tmp_path: Path, static_root: Path) -> Iterator[object]:
    """Return a function that starts the server on the committed test data, with extra env."""
    started: list[Served] = []

    def start(**env: str) -> Served:
        port = _free_port()
        var = tmp_path / "var"
        var.mkdir(exist_ok=True)
        database_url = _database_url(tmp_path)
        environment = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("COURSEPACK_", "DJANGO_ALLOW_ASYNC"))
            },
            "DATABASE_URL": database_url,
            "COURSEPACK_VAR_DIR": str(var),
            "COURSEPACK_STATIC_ROOT": str(static_root),
            "COURSEPACK_BIND": f"127.0.0.1:{port}",
            "COURSEPACK_ACCESS_LOG": "0",
            "PYTHON": sys.executable,
            **env,
        }
        log = tmp_path / f"server-{port}.log"
        process = subprocess.Popen(
            [str(REPO / "scripts" / "serve.sh")],
            cwd=REPO,
            env=environment,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        served = Served(f"http://127.0.0.1:{port}", log, process, database_url)
        started.append(served)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the server exited:\n{served.log_text()}")
            try:
                urllib.request.urlopen(served.url + "/login/", timeout=2).read()
                return served
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"the server did not answer within 60 s:\n{served.log_text()}")

    yield start
    for served in started:
        if served.process.poll() is None:
            # The whole session: serve.sh, gunicorn's processes and the worker.
            os.killpg(served.process.pid, signal.SIGTERM)
            try:
                served.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(served.process.pid, signal.SIGKILL)
                served.process.wait()
