"""Report, export and transcript reads go to a PostgreSQL streaming replica; writes never
do; a client that just wrote reads the primary (read-your-writes); pages show the
replica's lag. Against a real replica started here from the throwaway primary
(``pg_basebackup -R``, a replication slot), stopped at the end. On SQLite the setting
is refused."""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from coursepack import replica
from coursepack.learning import api as learning
from coursepack.learning.models import CompletionEvent, Enrollment
from tests.factories import make_admin, make_course, make_learner, make_published_package

ROOT = Path(__file__).resolve().parents[2]
SLOT = "coursepack_test_replica"


def test_sqlite_refuses_a_replica_with_a_clear_error() -> None:
    with pytest.raises(ImproperlyConfigured, match="primary database is not PostgreSQL"):
        replica.replica_database(
            "postgres://reader@127.0.0.1/coursepack", primary_engine="django.db.backends.sqlite3"
        )
    env = {
        **os.environ,
        "DATABASE_URL": "sqlite:////tmp/coursepack-replica-refused.sqlite3",
        "DATABASE_REPLICA_URL": "postgres://reader@127.0.0.1/coursepack",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    checked = subprocess.run(
        [sys.executable, "-c", "import coursepack.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode != 0
    assert "DATABASE_REPLICA_URL is set, but the primary database is not PostgreSQL" in (
        checked.stderr
    )


# --- a real streaming replica -----------------------------------------------------------


def _pg_bin() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return os.environ.get("PG_BIN") or (found[-1] if found else "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def replica_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Start a hot standby of the test primary and configure the "replica" alias on it as
    DATABASE_REPLICA_URL would (for this module only); at the end remove the alias, stop
    the standby and drop its replication slot.

    The alias is a test mirror: the test runner neither creates nor flushes it (it
    holds the standby's copy of the primary's test database)."""
    if connection.vendor != "postgresql":
        pytest.skip("read replicas are a PostgreSQL feature (SQLite refuses the setting)")
    pg_bin = _pg_bin()
    assert pg_bin and Path(pg_bin, "pg_basebackup").exists(), "no PostgreSQL binaries (PG_BIN)"
    primary = connections["default"].settings_dict
    as_pg = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    data = tempfile.mkdtemp(prefix="coursepack-replica.")
    if os.getuid() == 0:
        shutil.chown(data, "postgres")
    os.chmod(data, 0o700)
    port = _free_port()
    started = False
    try:
        subprocess.run(
            [
                *as_pg,
                f"{pg_bin}/pg_basebackup",
                "-h",
                str(primary["HOST"] or "127.0.0.1"),
                "-p",
                str(primary["PORT"] or 5432),
                "-U",
                str(primary["USER"] or "postgres"),
                "-D",
                data,
                "-R",  # standby.signal + primary_conninfo: a streaming replica
                "-X",
                "stream",
                "-C",
                "-S",
                SLOT,  # a replication slot keeps the WAL the replica still needs
                "-c",
                "fast",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [
                *as_pg,
                f"{pg_bin}/pg_ctl",
                "-D",
                data,
                "-l",
                f"{data}/server.log",
                "-w",
                "-t",
                "60",
                "start",
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='{data}' "
                "-c hot_standby=on -c fsync=off",
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )
        started = True
        config = dict(connections["default"].settings_dict)
        config.update(HOST="127.0.0.1", PORT=str(port), TEST={"MIRROR": "default"})
        connections.settings[replica.REPLICA] = connections.configure_settings(
            {"default": dict(connections["default"].settings_dict), replica.REPLICA: config}
        )[replica.REPLICA]
        django_settings.DATABASES[replica.REPLICA] = connections.settings[replica.REPLICA]
        replica._lag_cache.clear()
        yield
    finally:
        if replica.REPLICA in connections.settings:
            connections[replica.REPLICA].close()
            if hasattr(connections._connections, replica.REPLICA):
                delattr(connections._connections, replica.REPLICA)
            del connections.settings[replica.REPLICA]
        django_settings.DATABASES.pop(replica.REPLICA, None)
        replica._lag_cache.clear()
        if started:
            subprocess.run(
                [*as_pg, f"{pg_bin}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(data, ignore_errors=True)
        with django_db_blocker.unblock(), connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s",
                [SLOT],
            )


WITH_REPLICA = pytest.mark.django_db(transaction=True, databases=["default", replica.REPLICA])


def _on_replica(sql: str, params: list[Any] | None = None) -> Any:
    with connections[replica.REPLICA].cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()


def _wait(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _primary_lsn() -> str:
    """Where the primary's WAL ends, committed or not yet written: the throwaway cluster
    commits asynchronously (``synchronous_commit=off``), so a commit's record can lie
    past ``pg_current_wal_lsn()`` (the WAL written so far) until the WAL writer writes
    it; waiting for that would let a test read the replica before the commit."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()")
        return str(cursor.fetchone()[0])


def _replayed() -> None:
    lsn = _primary_lsn()
    _wait(
        lambda: _on_replica("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn])[0],
        "the replica to replay the primary's WAL",
    )


def _received() -> None:
    lsn = _primary_lsn()
    _wait(
        lambda: _on_replica("SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn", [lsn])[0],
        "the replica to receive the primary's WAL",
    )


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _completions(client: Client, learner_id: int) -> tuple[str, int]:
    response = client.get(f"/api/v1/learners/{learner_id}/transcript")
    assert response.status_code == 200, response.content
    return response["Coursepack-Read-From"], len(response.json()["events"])


def _learner_cell(page: bytes, username: str, header: str) -> str:
    """The text of column ``header`` in ``username``'s row of the reports page's
    learners table."""
    html = page.decode()
    section = html[html.index('id="report-learners"') :]
    section = section[: section.index("</table>")]

    def texts(row: str) -> list[str]:
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]

    rows = [texts(row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S)]
    headers = rows[0]
    mine = next(row for row in rows[1:] if row and row[0] == username)
    return mine[headers.index(header)]


@WITH_REPLICA
def test_reads_go_to_the_replica_and_a_client_reads_its_own_write(
    replica_server: None, settings: Any
) -> None:
    settings.REPLICA_LAG_NOTICE_SECONDS = 0
    admin = make_admin()
    course = make_course()
    version = make_published_package(actor=admin, items=[course])
    learner = make_learner()
    learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    _replayed()
    reader, writer = _client(admin), _client(admin)
    assert _completions(reader, learner.pk) == ("replica", 0)

    # The replica stops replaying: what it serves from now on is visibly old.
    _on_replica("SELECT pg_wal_replay_pause()")
    try:
        written = writer.post(
            "/api/v1/completions",
            {"learner_id": learner.pk, "course_id": course.pk, "kind": "passed"},
            content_type="application/json",
        )
        assert written.status_code == 201, written.content
        assert replica.READ_PRIMARY_COOKIE in written.cookies

        # Read right after the write: the writer reads the primary and sees it.
        assert _completions(writer, learner.pk) == ("primary", 1)
        # Another client reads the replica, which has not replayed it yet.
        _received()
        replica._lag_cache.clear()  # the lag is asked at most once a second per process
        assert _completions(reader, learner.pk) == ("replica", 0)
        page = reader.get(f"/learners/{learner.pk}/transcript/")
        assert page["Coursepack-Read-From"] == "replica"
        assert b"replica-lag" in page.content and b"behind" in page.content
        report = reader.get("/api/v1/reports/packages")
        assert report.status_code == 200 and report["Coursepack-Read-From"] == "replica"
        assert float(report["Coursepack-Replica-Lag"]) > 0
        # The reports page's learners table (its counts are SQL written once) reads where
        # the rest of the page does: the replica's, without the completion; the writer's
        # the primary's, with it.
        stale = reader.get("/reports/")
        assert stale["Coursepack-Read-From"] == "replica"
        assert _learner_cell(stale.content, learner.username, "Completed") == "0"
        fresh = writer.get("/reports/")
        assert fresh["Coursepack-Read-From"] == "primary"
        assert _learner_cell(fresh.content, learner.username, "Completed") == "1"
    finally:
        _on_replica("SELECT pg_wal_replay_resume()")

    _replayed()
    replica._lag_cache.clear()
    # Replayed WAL is visible to the standby's new snapshots; allow a few seconds all the
    # same (a snapshot our code held open would never see it, and this would still fail).
    _wait(
        lambda: _completions(reader, learner.pk) == ("replica", 1),
        "the replica to serve the replayed write",
        timeout=15,
    )


@WITH_REPLICA
def test_writes_and_identities_never_go_to_the_replica(replica_server: None) -> None:
    admin = make_admin()
    course = make_course()
    version = make_published_package(actor=admin, items=[course])
    learner = make_learner()
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)

    with replica.replica_reads():
        assert Enrollment.objects.all().db == replica.REPLICA
        assert type(learner).objects.all().db == "default"
        # The standby refuses every write; this one succeeds because it goes to the primary.
        result = learning.record_completion(
            actor=admin, learner_id=learner.pk, course_id=course.pk, occurred_at=timezone.now()
        )

    assert CompletionEvent.objects.using("default").filter(pk=result.event.pk).exists()
    assert Enrollment.objects.all().db == "default"
    assert Enrollment.objects.get(pk=enrollment.pk).status == "completed"
    assert _on_replica("SELECT pg_is_in_recovery()")[0] is True
