"""Background jobs: chunked, audited per chunk, resumable, idempotent, visible; and the
periodic job that lets scheduled versions take effect."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.models import AuditEvent
from coursepack.jobs import api as jobs
from coursepack.jobs.models import Job
from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging
from coursepack.packaging.models import PackageVersion, PublishRecord
from tests.factories import make_admin, make_learner, make_published_package

pytestmark = pytest.mark.django_db


# The worker closes old connections between tasks, as it should in production;
# the tests that run it commit for real (a closed connection would end the
# test's wrapping transaction on PostgreSQL).
WORKER = pytest.mark.django_db(transaction=True)


def _work(capture: Any) -> None:
    """Run what is queued with the real worker (batch mode), as `make run` does."""
    call_command("run_jobs", batch=True, interval=0, stderr=StringIO(), stdout=StringIO())


@pytest.fixture
def world(settings: Any) -> tuple[Any, PackageVersion, list[int]]:
    settings.JOB_CHUNK_LEARNERS = 3
    admin = make_admin()
    version = make_published_package(actor=admin)
    learners = [make_learner().pk for _ in range(7)]
    return admin, version, learners


@WORKER
def test_a_bulk_enrolment_job_commits_and_audits_each_chunk(
    world: tuple[Any, PackageVersion, list[int]], django_capture_on_commit_callbacks: Any
) -> None:
    admin, version, learners = world
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.start_bulk_enroll(
            actor=admin, package_id=version.package_id, learner_ids=learners
        )

    _work(django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("succeeded", 7, 7)
    assert job.result["enrolled"] == 7
    assert Enrollment.objects.filter(package_id=version.package_id).count() == 7
    chunks = AuditEvent.objects.filter(action="enrollment.bulk_created").order_by("id")
    assert [len(c.after["learners"]) for c in chunks] == [3, 3, 1]
    assert all(c.actor == admin for c in chunks)
    assert AuditEvent.objects.filter(action="job.finished", target_id=str(job.pk)).exists()


def test_a_job_resumes_after_its_last_committed_chunk_and_repeats_nothing(
    world: tuple[Any, PackageVersion, list[int]],
) -> None:
    admin, version, learners = world
    job = jobs.start_bulk_enroll(actor=admin, package_id=version.package_id, learner_ids=learners)
    # The worker died after committing the first chunk: its enrolments, audit
    # record and the job's cursor went in together; the job row says running.
    learning.bulk_enroll(actor=admin, package_id=version.package_id, learner_ids=learners[:3])
    Job.objects.filter(pk=job.pk).update(status="running", cursor=learners[2], done=3)

    assert jobs.resume_unfinished() == [job.pk]
    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.done) == ("succeeded", 7)
    assert job.result["already_enrolled"] == 0
    assert Enrollment.objects.filter(package_id=version.package_id).count() == 7

    # Running every chunk again changes nothing: all already enrolled.
    Job.objects.filter(pk=job.pk).update(status="running", cursor=0, done=0, result={})
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.result == {"enrolled": 0, "already_enrolled": 7, "unknown_learners": 0}
    assert Enrollment.objects.filter(package_id=version.package_id).count() == 7


def test_an_atomic_bulk_enrolment_is_one_transaction_and_one_record(
    world: tuple[Any, PackageVersion, list[int]],
) -> None:
    admin, version, learners = world
    job = jobs.start_bulk_enroll(
        actor=admin, package_id=version.package_id, learner_ids=learners, atomic=True
    )

    jobs.run_job(job.pk)

    assert AuditEvent.objects.filter(action="enrollment.bulk_created").count() == 1


@WORKER
def test_jobs_are_visible_in_the_api_and_on_a_page(
    world: tuple[Any, PackageVersion, list[int]], django_capture_on_commit_callbacks: Any
) -> None:
    admin, version, _ = world
    client = Client()
    client.force_login(admin)

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            "/api/v1/jobs/bulk-enrollments",
            {"package_id": version.package_id, "all_learners": True},
            content_type="application/json",
        )
    assert started.status_code == 202, started.content
    job_id = started.json()["id"]
    assert started.json()["status"] == "queued"

    _work(django_capture_on_commit_callbacks)

    body = client.get(f"/api/v1/jobs/{job_id}").json()
    assert body["status"] == "succeeded" and body["percent"] == 100
    page = client.get(f"/jobs/{job_id}/")
    assert page.status_code == 200
    assert b"succeeded" in page.content and b"<progress" in page.content
    missing = client.get("/api/v1/jobs/999999")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"


@WORKER
def test_the_command_queues_a_job_and_follows_it_with_a_progress_bar(
    world: tuple[Any, PackageVersion, list[int]], django_capture_on_commit_callbacks: Any
) -> None:
    _, version, _ = world
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "start_job",
            "bulk_enroll",
            "--package",
            str(version.package_id),
            "--all-learners",
            "--detach",
            stdout=out,
        )
    job = Job.objects.get()
    assert job.actor_label.startswith("os:")

    _work(django_capture_on_commit_callbacks)
    err = StringIO()
    call_command("start_job", "--watch", str(job.pk), stdout=out, stderr=err)

    assert f"Job {job.pk} succeeded" in out.getvalue()
    assert f"Job {job.pk}" in err.getvalue()


def test_the_periodic_job_lets_a_scheduled_version_take_effect_on_its_date() -> None:
    admin = make_admin()
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    soon = timezone.now() + timedelta(seconds=1)
    packaging.publish_version(
        actor=admin, version_id=draft.pk, change_notes="Next.", effective_at=soon
    )
    assert jobs.settle_due_schedules() == 0
    time.sleep(1.1)

    assert jobs.settle_due_schedules() == 1

    draft.refresh_from_db()
    v1.refresh_from_db()
    assert (draft.status, v1.status) == ("published", "archived")
    assert PublishRecord.objects.filter(version=draft, action="activated").exists()
    record = AuditEvent.objects.get(action="version.took_effect")
    assert record.actor_label == audit.SYSTEM_ACTOR_LABEL
    assert jobs.settle_due_schedules() == 0
