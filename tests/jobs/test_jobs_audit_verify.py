"""Audit verification runs as a job (periodically and on demand) and keeps its result;
the page and API show the last full run and check only the records appended since."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from coursepack.accounts.models import Account, Role
from coursepack.audit.models import AuditEvent
from coursepack.catalog import api as catalog
from coursepack.jobs import api as jobs
from coursepack.jobs.models import Job
from tests.factories import make_learner

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor() -> Client:
    user = make_learner(username="the-auditor")
    Account.objects.create(user=user, role=Role.AUDITOR)
    client = Client()
    client.force_login(user)
    for i in range(4):
        catalog.create_course(actor=None, code=f"VER-{i}", name=f"Verified {i}")
    return client


def _full_run(client: Client) -> int:
    started = client.post("/api/v1/jobs/audit-verifications")
    assert started.status_code == 202, started.content
    job_id: int = started.json()["id"]
    jobs.run_job(job_id)
    return job_id


def test_a_full_run_keeps_its_result_and_the_page_then_reads_only_what_came_since(
    auditor: Client,
) -> None:
    job_id = _full_run(auditor)
    job = Job.objects.get(pk=job_id)
    assert job.result["intact"] is True
    assert job.result["checked"] == job.done == AuditEvent.objects.count() - 1  # job.finished
    catalog.create_course(actor=None, code="VER-NEW", name="After the run")

    body = auditor.get("/api/v1/audit/verification").json()
    page = auditor.get("/audit/verification/").content.decode()

    assert body["scope"] == "since_last_full_run" and body["intact"] is True
    # Only job.finished and the new course's record were read now.
    assert body["checked"] == 2
    assert body["full_run"]["job_id"] == job_id and body["full_run"]["intact"] is True
    assert f"job {job_id}" in page and "appended since the last full run" in page
    assert "does not re-read older records" in page


def test_a_change_to_an_old_record_waits_for_the_next_full_run(auditor: Client) -> None:
    """The visit's check covers only new records, as the page says; a full run names it."""
    _full_run(auditor)
    old = AuditEvent.objects.filter(action="course.created").order_by("id").first()
    assert old is not None
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER cp_audit_auditevent_append_only ON audit_auditevent")
        else:
            cursor.execute("DROP TRIGGER cp_audit_auditevent_update")
        cursor.execute("UPDATE audit_auditevent SET notes = 'x' WHERE id = %s", [old.pk])

    assert auditor.get("/api/v1/audit/verification").json()["intact"] is True

    _full_run(auditor)
    body = auditor.get("/api/v1/audit/verification").json()
    page = auditor.get("/audit/verification/").content.decode()

    assert body["intact"] is False and body["first_bad_id"] == old.pk
    assert body["full_run"]["first_bad_id"] == old.pk
    assert f"at record {old.pk}" in page


def test_a_record_appended_since_the_run_is_checked_on_the_visit(auditor: Client) -> None:
    _full_run(auditor)
    catalog.create_course(actor=None, code="VER-LATE", name="Late")
    new = AuditEvent.objects.order_by("-id").first()
    assert new is not None
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER cp_audit_auditevent_append_only ON audit_auditevent")
        else:
            cursor.execute("DROP TRIGGER cp_audit_auditevent_update")
        cursor.execute("UPDATE audit_auditevent SET notes = 'x' WHERE id = %s", [new.pk])

    body = auditor.get("/api/v1/audit/verification").json()

    assert body["intact"] is False and body["first_bad_id"] == new.pk
    assert body["scope"] == "since_last_full_run"


def test_the_page_starts_a_full_run_and_the_worker_schedules_one_a_day(
    auditor: Client, settings: Any
) -> None:
    response = auditor.post("/audit/verification/")

    job = Job.objects.get(kind="audit_verify")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    # One is queued: the worker adds none.
    assert jobs.schedule_audit_verify() is None
    jobs.run_job(job.pk)
    assert jobs.schedule_audit_verify() is None
    later = timezone.now() + timedelta(hours=settings.AUDIT_VERIFY_EVERY_HOURS + 1)
    scheduled = jobs.schedule_audit_verify(later)
    assert scheduled is not None and scheduled.actor_label == "system"


def test_without_a_full_run_the_visit_checks_everything(auditor: Client) -> None:
    body = auditor.get("/api/v1/audit/verification").json()

    assert body["scope"] == "everything" and body["full_run"] is None
    assert body["checked"] == AuditEvent.objects.count()


def test_learners_may_not_start_a_verification(db: Any) -> None:
    client = Client()
    client.force_login(make_learner())

    assert client.post("/api/v1/jobs/audit-verifications").status_code == 403
    assert client.post("/audit/verification/").status_code in (302, 403)
