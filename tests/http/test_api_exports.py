"""The exports API (ADR 0031): POST /exports answers 202 with the export's Location;
GET follows it; its file downloads once written (409 before, 410 once removed); a
GET download too large for a request is refused with a pointer to the job."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from api_helpers import API, make_caller, problem, send, where
from openpyxl import load_workbook

from coursepack.jobs import api as jobs
from coursepack.jobs import exports
from coursepack.jobs.models import Job
from coursepack.learning import api as learning
from tests.factories import make_learner, make_published_package

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.VAR_DIR = tmp_path
    admin = make_caller(role="admin")
    version = make_published_package(actor=admin.user, name="Ethics")
    for i in range(3):
        learner = make_learner(username=f"api-{i}")
        learning.enroll(actor=admin.user, learner_id=learner.pk, package_id=version.package_id)
    return {"admin": admin, "auditor": make_caller(role="auditor"), "version": version}


def _values(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(data))
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}


def test_an_export_is_requested_followed_and_downloaded(setup: dict[str, Any]) -> None:
    auditor = setup["auditor"]
    package_id = setup["version"].package_id

    started = auditor.call("POST", "/exports", {"kind": "report", "package_id": package_id})

    assert started.status_code == 202
    body = started.json()
    job = Job.objects.get(pk=body["id"])
    assert started["Location"].endswith(f"{API}/exports/{job.pk}")
    assert (body["status"], body["export"], body["total"], body["file_url"]) == (
        "queued",
        "report",
        3,
        None,
    )
    assert job.params["filters"]["package_id"] == package_id
    not_yet = auditor.call("GET", f"/exports/{job.pk}/file")
    assert (not_yet.status_code, problem(not_yet)["code"]) == (409, "export_not_ready")

    jobs.run_job(job.pk)

    done = auditor.call("GET", f"/exports/{job.pk}").json()
    assert (done["status"], done["rows"], done["percent"]) == ("succeeded", 3, 100)
    assert done["file_url"] == f"{API}/exports/{job.pk}/file"
    assert done["expires_at"] is not None and done["as_of"] is not None
    download = auditor.client.get(done["file_url"])
    assert download.status_code == 200
    learners = _values(b"".join(download.streaming_content))["Learners"]
    assert [row[0] for row in learners[1:]] == ["api-0", "api-1", "api-2"]


def test_a_matrix_export_file_equals_the_inline_download(
    setup: dict[str, Any], settings: Any
) -> None:
    admin = setup["admin"]
    inline = admin.client.get(f"{API}/matrix/export")
    assert inline.status_code == 200

    job_id = admin.call("POST", "/exports", {"kind": "matrix"}).json()["id"]
    jobs.run_job(job_id)

    from_job = _values(b"".join(admin.client.get(f"{API}/exports/{job_id}/file").streaming_content))
    from_request = _values(b"".join(inline.streaming_content))
    assert from_job["Training matrix"] == from_request["Training matrix"]
    assert len(from_job["Training matrix"]) > 1


def test_a_get_download_over_the_rule_is_refused_with_the_way_to_the_job(
    setup: dict[str, Any], settings: Any
) -> None:
    settings.EXPORT_INLINE_MAX_ROWS = 1

    response = setup["admin"].client.get(f"{API}/matrix/export")

    assert response.status_code == 409
    body = problem(response)
    assert body["code"] == "export_runs_as_job"
    assert "POST /api/v1/exports" in body["detail"]


def test_filters_of_the_other_export_and_unknown_values_are_invalid_input(
    setup: dict[str, Any],
) -> None:
    admin = setup["admin"]
    wrong = admin.call("POST", "/exports", {"kind": "matrix", "package_id": 1})
    assert wrong.status_code == 422
    assert [where(e) for e in problem(wrong)["errors"]] == ["/package_id"]
    empty = admin.call(
        "POST", "/exports", {"kind": "report", "from": "2024-02-01", "to": "2024-01-01"}
    )
    assert empty.status_code == 422
    unknown = admin.call("POST", "/exports", {"kind": "everything"})
    assert unknown.status_code == 422
    assert not Job.objects.filter(kind="export").exists()


def test_a_removed_file_is_gone(setup: dict[str, Any]) -> None:
    admin = setup["admin"]
    job_id = admin.call("POST", "/exports", {"kind": "report"}).json()["id"]
    jobs.run_job(job_id)
    job = Job.objects.get(pk=job_id)
    assert job.finished_at is not None
    exports.remove_expired_exports(now=job.finished_at + timedelta(days=2))

    gone = send(admin.client, "GET", f"/exports/{job_id}/file")

    assert (gone.status_code, problem(gone)["code"]) == (410, "export_expired")


def test_a_standing_export_needs_its_package_and_standing(setup: dict[str, Any]) -> None:
    admin = setup["admin"]
    missing = admin.call("POST", "/exports", {"kind": "standing"})
    assert missing.status_code == 422
    assert sorted(where(e) for e in problem(missing)["errors"]) == ["/package_id", "/standing"]

    started = admin.call(
        "POST",
        "/exports",
        {"kind": "standing", "package_id": setup["version"].package_id, "standing": "not_started"},
    )

    assert started.status_code == 202
    assert (started.json()["export"], started.json()["total"]) == ("standing", 3)
