"""The legacy migration as a background job: all or nothing, progress visible while it
runs, a restart begins again and duplicates nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from coursepack.catalog.models import Course
from coursepack.errors import InvalidInput
from coursepack.interchange.legacy_example import example, example_mapping, write_legacy
from coursepack.jobs import api as jobs
from coursepack.jobs import selectors
from coursepack.jobs.models import Job
from coursepack.learning.models import CompletionEvent, Enrollment

pytestmark = pytest.mark.django_db

WRITTEN = {
    "courses": 11,
    "course_groups": 2,
    "packages": 3,
    "learners": 6,
    "enrollments": 8,
    "completion_events": 19,
}


@pytest.fixture
def legacy_files(tmp_path: Path) -> tuple[str, str]:
    """The docs' example legacy database and its mapping file."""
    source = tmp_path / "legacy.sqlite3"
    write_legacy(source, example())
    mapping = tmp_path / "groups.yaml"
    mapping.write_text(example_mapping(), encoding="utf-8")
    return str(source), str(mapping)


def test_a_legacy_import_job_migrates_everything_and_a_second_one_nothing(
    admin: Any, legacy_files: tuple[str, str], tmp_path: Path
) -> None:
    """The job does what import_legacy does: the same rows written, the report on
    disk; its progress counts both passes over the rows; run again, it writes nothing."""
    source, mapping = legacy_files
    job = jobs.start_legacy_import(
        actor=admin,
        source=source,
        mapping=mapping,
        skip_orphans=True,
        report=str(tmp_path / "report"),
    )
    # Two passes over 8 enrollment and 22 completion rows.
    assert (job.kind, job.total) == ("legacy_import", 60)

    jobs.run_job(job.pk)

    progress = selectors.job_progress(job.pk)
    assert (progress.status, progress.done, progress.percent) == ("succeeded", 60, 100)
    assert progress.result["written"] == WRITTEN
    assert progress.result["report"] == f"{tmp_path / 'report'}.md"
    assert "## Start times of completion rows" in (tmp_path / "report.md").read_text()
    assert Enrollment.objects.count() == 8
    assert CompletionEvent.objects.count() == 19

    again = jobs.start_legacy_import(actor=admin, source=source, mapping=mapping, skip_orphans=True)
    jobs.run_job(again.pk)

    assert selectors.job_progress(again.pk).result["written"] == dict.fromkeys(WRITTEN, 0)
    assert CompletionEvent.objects.count() == 19


def test_a_refused_legacy_import_job_fails_and_writes_nothing(
    admin: Any, legacy_files: tuple[str, str]
) -> None:
    """Without skip_orphans the example's orphan completion stops the job before any
    write; the job says why. A password in a PostgreSQL URL is refused at once."""
    source, mapping = legacy_files
    job = jobs.start_legacy_import(actor=admin, source=source, mapping=mapping)

    with pytest.raises(Exception, match="cannot place"):
        jobs.run_job(job.pk)

    progress = selectors.job_progress(job.pk)
    assert progress.status == "failed"
    assert "cannot place" in progress.error
    assert not Course.objects.filter(code__startswith="legacy-").exists()
    client = Client()
    client.force_login(admin)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "one transaction: nothing of it was written" in page
    with pytest.raises(InvalidInput, match="password"):
        jobs.start_legacy_import(actor=admin, source="postgresql://me:secret@127.0.0.1:1/legacy")


def test_a_restarted_legacy_import_job_begins_again_and_duplicates_nothing(
    admin: Any, legacy_files: tuple[str, str]
) -> None:
    """A worker that died mid-run left the job running with some progress and nothing
    written (its transaction never committed): resumed, the job starts from the first
    row, and the result is that of one run."""
    source, mapping = legacy_files
    job = jobs.start_legacy_import(actor=admin, source=source, mapping=mapping, skip_orphans=True)
    Job.objects.filter(pk=job.pk).update(status="running", done=41)

    assert jobs.resume_unfinished() == [job.pk]
    jobs.run_job(job.pk)

    progress = selectors.job_progress(job.pk)
    assert (progress.status, progress.done) == ("succeeded", 60)
    assert progress.result["written"] == WRITTEN
    assert CompletionEvent.objects.count() == 19


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_while_the_transaction_is_open(admin: Any) -> None:
    """A one-transaction job's progress reaches readers before it commits (a second
    connection on PostgreSQL, a file beside the database on SQLite), and outlives a
    rollback of the work."""
    job = Job.objects.create(
        kind="legacy_import",
        params={},
        status="running",
        created_at=admin.date_joined,
        actor_label="admin",
        total=100,
    )
    live = jobs._LiveProgress(job)
    try:
        with transaction.atomic():
            Course.objects.create(code="WIP-1", name="Being written", **_stamps(admin))
            live.add(40)
            live.flush()

            assert selectors.job_progress(job.pk).done == 40
            transaction.set_rollback(True)

        assert selectors.job_progress(job.pk).done == 40
        assert not Course.objects.filter(code="WIP-1").exists()
    finally:
        live.close()
    Job.objects.filter(pk=job.pk).update(status="succeeded", done=100)
    assert selectors.job_progress(job.pk).done == 100


def _stamps(admin: Any) -> dict[str, Any]:
    return {"created_at": admin.date_joined, "updated_at": admin.date_joined}
