"""Large XLSX exports as background jobs (ADR 0031): one rule sends a large export to a
job; the job's file holds exactly what the inline download holds, read at one moment;
only its requester or an admin sees it; its file expires."""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from coursepack.accounts import api as accounts
from coursepack.audit.models import AuditEvent
from coursepack.jobs import api as jobs
from coursepack.jobs import exports
from coursepack.jobs.errors import ExportExpired, ExportNotReady, JobNotFound
from coursepack.jobs.models import Job
from coursepack.learning import api as learning
from coursepack.reports import selectors as report_selectors
from coursepack.reports.exports import reading_one_moment
from coursepack.reports.matrix import MatrixFilters
from tests.audiences.audience_helpers import make_org, make_person, manage
from tests.factories import make_admin, make_course, make_learner, make_published_package

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.VAR_DIR = tmp_path
    admin = make_admin()
    org = make_org()
    boss = make_person(org.company, username="boss")
    accounts.set_role(actor=admin, user_id=boss.pk, role="manager")
    manage(boss, org.sales)
    north = [make_person(org.north, username=f"north-{i}") for i in range(3)]
    desk = [make_person(org.desk, username=f"desk-{i}") for i in range(2)]
    course = make_course(code="FS-1")
    version = make_published_package(actor=admin, name="Fire safety", items=[course])
    for person in north + desk:
        learning.enroll(actor=admin, learner_id=person.pk, package_id=version.package_id)
    learning.record_completion(
        actor=admin, learner_id=north[0].pk, course_id=course.pk, kind="completed"
    )
    auditor = accounts.create_user(actor=admin, username="auditor-1", role="auditor")
    return {
        "admin": admin,
        "boss": boss,
        "auditor": auditor,
        "north": north,
        "desk": desk,
        "course": course,
        "version": version,
    }


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _sheets(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(data))
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}


def _inline(client: Client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return b"".join(response.streaming_content)


def _request_as_job(client: Client, url: str, export: str, query: str = "") -> Job:
    """Follow the page's way: the download offers a job, its button queues it."""
    offer = client.get(f"{url}?{query}" if query else url)
    assert offer.status_code == 200
    assert b"Prepare the XLSX" in offer.content
    started = client.post(f"/exports/?export={export}" + (f"&{query}" if query else ""))
    assert started.status_code == 302
    job = Job.objects.get(kind="export")
    assert started["Location"] == f"/exports/{job.pk}/"
    return job


def test_a_large_report_xlsx_becomes_a_job_whose_file_equals_the_inline_download(
    world: dict[str, Any], settings: Any
) -> None:
    admin = _client(world["admin"])
    query = f"package_id={world['version'].package_id}"
    settings.EXPORT_INLINE_MAX_ROWS = 1000
    inline = _inline(admin, f"/reports/report.xlsx?{query}")

    settings.EXPORT_INLINE_MAX_ROWS = 2  # the package has 5 learners: over the rule
    job = _request_as_job(admin, "/reports/report.xlsx", "report", query)
    assert (job.params["export"], job.params["requester_id"], job.total) == (
        "report",
        world["admin"].pk,
        5,
    )
    assert job.params["filters"]["package_id"] == world["version"].package_id
    page = admin.get(f"/exports/{job.pk}/")
    assert b'hx-trigger="every 2s"' in page.content
    assert b"Download" not in page.content

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.done, job.result["rows"]) == ("succeeded", 5, 5)
    page = admin.get(f"/exports/{job.pk}/")
    assert b"hx-trigger" not in page.content
    assert f"/exports/{job.pk}/file".encode() in page.content
    download = admin.get(f"/exports/{job.pk}/file")
    assert download.status_code == 200
    assert 'filename="coursepack-report-all-' in download["Content-Disposition"]
    from_job = _sheets(b"".join(download.streaming_content))
    assert from_job == _sheets(inline)
    assert [row[0] for row in from_job["Learners"][1:]] == sorted(
        p.username for p in world["north"] + world["desk"]
    )
    assert AuditEvent.objects.filter(action="job.finished", target_id=str(job.pk)).exists()


def test_a_managers_matrix_job_holds_their_people_only_and_equals_the_inline_download(
    world: dict[str, Any], settings: Any
) -> None:
    boss = _client(world["boss"])
    settings.EXPORT_INLINE_MAX_ROWS = 1000
    inline = _inline(boss, "/matrix.xlsx")

    settings.EXPORT_INLINE_MAX_ROWS = 2
    job = _request_as_job(boss, "/matrix.xlsx", "matrix")
    jobs.run_job(job.pk)

    download = boss.get(f"/exports/{job.pk}/file")
    from_job = _sheets(b"".join(download.streaming_content))
    people = [row[0] for row in from_job["Training matrix"][1:]]
    assert people == [p.username for p in world["north"]]  # not the desk, not outside sales
    # The legend names the moment read; each export reads its own.
    assert from_job["Training matrix"] == _sheets(inline)["Training matrix"]
    assert from_job["Legend"][:-1] == _sheets(inline)["Legend"][:-1]
    assert from_job["Legend"][-1][1] == "3 people"


def test_only_the_requester_or_an_admin_sees_or_downloads_an_export(
    world: dict[str, Any], settings: Any
) -> None:
    settings.EXPORT_INLINE_MAX_ROWS = 0
    job = exports.start_matrix_export(actor=world["boss"], filters=MatrixFilters())
    jobs.run_job(job.pk)
    other_boss = make_learner(username="other-boss")
    accounts.set_role(actor=world["admin"], user_id=other_boss.pk, role="manager")

    for user in (world["boss"], world["admin"]):
        assert exports.export_file(viewer=user, job_id=job.pk).path.exists()
        assert _client(user).get(f"/exports/{job.pk}/file").status_code == 200
    # An auditor, another manager (of the same people, even) and a learner: no such export.
    manage(other_boss, world["north"][0].placement.org_unit)
    for user in (world["auditor"], other_boss, world["north"][1]):
        with pytest.raises(JobNotFound):
            exports.export_file(viewer=user, job_id=job.pk)
        client = _client(user)
        assert client.get(f"/exports/{job.pk}/").status_code == 404
        assert client.get(f"/exports/{job.pk}/file").status_code == 404
    # A job of another kind is not an export.
    rebuild = jobs.start_rebuild(actor=world["admin"])
    with pytest.raises(JobNotFound):
        exports.export_file(viewer=world["admin"], job_id=rebuild.pk)


def test_a_learner_cannot_request_an_export_and_a_manager_not_the_report(
    world: dict[str, Any],
) -> None:
    from coursepack.accounts.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        exports.start_matrix_export(actor=world["north"][0], filters=MatrixFilters())
    with pytest.raises(PermissionDenied):
        exports.start_report_export(actor=world["boss"], filters=report_selectors.make_filters())
    assert not Job.objects.filter(kind="export").exists()


def test_a_file_is_not_ready_before_its_job_ends_and_is_removed_after_its_keeping_time(
    world: dict[str, Any], settings: Any
) -> None:
    settings.EXPORT_KEEP_HOURS = 2
    job = exports.start_report_export(
        actor=world["auditor"], filters=report_selectors.make_filters()
    )
    with pytest.raises(ExportNotReady):
        exports.export_file(viewer=world["auditor"], job_id=job.pk)
    jobs.run_job(job.pk)
    found = exports.export_file(viewer=world["auditor"], job_id=job.pk)
    job.refresh_from_db()
    assert job.finished_at is not None

    assert exports.remove_expired_exports(now=job.finished_at + timedelta(hours=1)) == 0
    assert found.path.exists()
    later = job.finished_at + timedelta(hours=2, seconds=1)
    assert exports.remove_expired_exports(now=later) == 1
    assert exports.remove_expired_exports(now=later) == 0  # idempotent
    assert not found.path.exists()
    with pytest.raises(ExportExpired):
        exports.export_file(viewer=world["auditor"], job_id=job.pk)
    assert AuditEvent.objects.filter(action="export.file_removed", target_id=str(job.pk)).exists()
    page = _client(world["auditor"]).get(f"/exports/{job.pk}/")
    assert b"was removed" in page.content


def test_a_small_export_stays_inline_under_the_one_rule(
    world: dict[str, Any], settings: Any
) -> None:
    settings.EXPORT_INLINE_MAX_ROWS = 5  # exactly the 5 learners: not over the rule
    response = _client(world["admin"]).get("/reports/report.xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert exports.runs_as_job(5) is False
    assert exports.runs_as_job(6) is True
    assert not Job.objects.filter(kind="export").exists()


def test_an_export_reads_one_moment_a_write_meanwhile_is_not_in_it(
    transactional_db: None, db_engine: str, settings: Any, tmp_path: Any
) -> None:
    """While the export writes, another connection enrols a learner and records a
    completion: the file holds the world as it was when the export began."""
    if db_engine == "sqlite":
        pytest.skip(
            "the SQLite test database is in memory with a shared cache, where a second "
            "connection cannot write while a read transaction is open (a file database "
            "in WAL mode can); this runs in the PostgreSQL stage of make test"
        )
    admin = make_admin()
    course = make_course(code="C-1")
    version = make_published_package(actor=admin, name="Ethics", items=[course])
    first = make_learner(username="first")
    learning.enroll(actor=admin, learner_id=first.pk, package_id=version.package_id)
    late = make_learner(username="late")
    filters = report_selectors.make_filters()
    wrote: list[bool] = []

    def write_meanwhile() -> None:
        try:
            learning.enroll(actor=admin, learner_id=late.pk, package_id=version.package_id)
            learning.record_completion(
                actor=admin, learner_id=first.pk, course_id=course.pk, kind="completed"
            )
            wrote.append(True)
        finally:
            connection.close()

    def progress(n: int) -> None:
        if not wrote:  # after the first learner row, before the rest is read
            thread = threading.Thread(target=write_meanwhile)
            thread.start()
            thread.join(30)

    out = io.BytesIO()
    with reading_one_moment():
        exports.write_report(filters, out, progress=progress)
    assert wrote == [True]

    sheets = _sheets(out.getvalue())
    assert [row[0] for row in sheets["Learners"][1:]] == ["first"]
    ethics = next(r for r in sheets["Packages and versions"][1:] if r[0] == "Ethics")
    assert ethics[3:8] == (1, 0, 1, 0, 0)  # one enrolled, not started, nobody completed
    # The write happened: an export begun now holds it.
    again = io.BytesIO()
    exports.write_report(filters, again)
    assert [row[0] for row in _sheets(again.getvalue())["Learners"][1:]] == ["first", "late"]


def test_an_export_job_runs_through_the_worker_reading_one_moment(
    transactional_db: None, settings: Any, tmp_path: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """End to end through the real worker on either engine: queued, run, written."""
    from io import StringIO

    from django.core.management import call_command

    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.VAR_DIR = tmp_path
    admin = make_admin()
    version = make_published_package(actor=admin, name="Ethics")
    for i in range(4):
        learner = make_learner(username=f"p-{i}")
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    with django_capture_on_commit_callbacks(execute=True):
        job = exports.start_report_export(actor=admin, filters=report_selectors.make_filters())

    call_command("run_jobs", batch=True, interval=0, stderr=StringIO(), stdout=StringIO())

    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("succeeded", 4, 4)
    assert timezone.now() - timezone.datetime.fromisoformat(job.result["as_of"]) < timedelta(
        minutes=5
    )
    found = exports.export_file(viewer=admin, job_id=job.pk)
    learners = _sheets(found.path.read_bytes())["Learners"]
    assert [row[0] for row in learners[1:]] == [f"p-{i}" for i in range(4)]


def test_standing_and_exceptions_exports_equal_their_inline_downloads(
    world: dict[str, Any], settings: Any
) -> None:
    admin = _client(world["admin"])
    package_id = world["version"].package_id
    enrollment = learning.enroll(
        actor=world["admin"], learner_id=make_learner(username="exempted").pk, package_id=package_id
    )
    learning.exempt(actor=world["admin"], enrollment_ids=[enrollment.pk], reason="administrative")
    standing = f"/packages/{package_id}/standing.xlsx"
    excepted = f"/packages/{package_id}/exceptions.xlsx"
    settings.EXPORT_INLINE_MAX_ROWS = 1000
    inline_standing = _inline(admin, f"{standing}?standing=not_started&within=30")
    inline_exempt = _inline(admin, f"{excepted}?section=exempt&within=30")

    settings.EXPORT_INLINE_MAX_ROWS = 0
    offer = admin.get(f"{standing}?standing=not_started&within=30")
    assert b"Prepare the XLSX" in offer.content
    started = admin.post(
        f"/exports/?export=standing&package={package_id}&standing=not_started&within=30"
    )
    job = Job.objects.get(kind="export", params__export="standing")
    assert started["Location"] == f"/exports/{job.pk}/"
    section = exports.start_exceptions_export(
        actor=world["admin"], package_id=package_id, section="exempt"
    )
    jobs.run_job(job.pk)
    jobs.run_job(section.pk)

    from_standing = _sheets(
        exports.export_file(viewer=world["admin"], job_id=job.pk).path.read_bytes()
    )
    assert from_standing == _sheets(inline_standing)
    assert [row[0] for row in next(iter(from_standing.values()))[1:]] == [
        "desk-0",
        "desk-1",
        "north-1",
        "north-2",
    ]
    found = exports.export_file(viewer=world["admin"], job_id=section.pk)
    assert found.filename.startswith("coursepack-report-exceptions-exempt-")
    assert _sheets(found.path.read_bytes()) == _sheets(inline_exempt)
    assert next(iter(_sheets(inline_exempt).values()))[1][0] == "exempted"
