"""The reminder endpoints: schedules round-trip, templates refuse unknown placeholders
(422 template_invalid) and preview with sample values, a dry run is queued and reports
by kind once it has run, and the message log filters and pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_helpers import make_caller, problem
from django.utils import timezone

from coursepack.jobs import api as jobs
from coursepack.learning import api as learning
from coursepack.notifications import api as notifications
from coursepack.packaging import api as packaging
from tests.factories import make_course, make_draft_package, make_learner

pytestmark = pytest.mark.django_db


def _package(admin: Any) -> int:
    draft = make_draft_package(items=[make_course()], name="Fire Safety")
    packaging.set_version_lifecycle(
        actor=admin, version_id=draft.pk, due_kind="after_enrolment", due_days=30
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Release.")
    return draft.package_id


def test_a_schedule_round_trips_and_bad_offsets_are_refused() -> None:
    admin = make_caller(role="admin")
    package_id = _package(admin.user)
    got = admin.call("GET", f"/notifications/schedules/{package_id}").json()
    assert (got["due_soon_days"], got["customised"]) == ([30, 14, 1], False)
    put = admin.call(
        "PUT",
        f"/notifications/schedules/{package_id}",
        {"due_soon_days": [3, 21], "send_completed": False},
    )
    assert put.status_code == 200, put.content
    got = admin.call("GET", f"/notifications/schedules/{package_id}").json()
    assert (got["due_soon_days"], got["send_completed"], got["customised"]) == (
        [21, 3],
        False,
        True,
    )
    refused = admin.call("PUT", f"/notifications/schedules/{package_id}", {"due_soon_days": [0]})
    assert refused.status_code == 422
    assert admin.call("GET", "/notifications/schedules/987654321").status_code == 404


def test_templates_refuse_unknown_placeholders_and_preview_with_sample_values() -> None:
    admin = make_caller(role="admin")
    bad = admin.call(
        "PUT",
        "/notifications/templates/overdue",
        {"subject": "Hi $user", "body_text": "Body"},
    )
    assert bad.status_code == 422
    assert problem(bad)["code"] == "template_invalid"
    preview = admin.call(
        "POST", "/notifications/templates/overdue/preview", {"subject": "Late: $package"}
    ).json()
    assert preview["subject"] == "Late: 2026 Cybersecurity Training"
    assert "Ada" in preview["body_text"]  # the built-in body, with the sample name
    saved = admin.call(
        "PUT",
        "/notifications/templates/overdue",
        {"subject": "Late: $package", "body_text": "$link"},
    ).json()
    assert (saved["subject"], saved["customised"]) == ("Late: $package", True)
    reset = admin.call("DELETE", "/notifications/templates/overdue").json()
    assert (reset["subject"], reset["customised"]) == ("Overdue: $package", False)


def test_a_dry_run_is_queued_then_reports_by_kind_and_the_log_filters() -> None:
    admin = make_caller(role="admin")
    package_id = _package(admin.user)
    for name in ("ada", "bea"):
        learner = make_learner(username=name)
        learner.email = f"{name}@example.org"
        learner.save()
        learning.enroll(actor=admin.user, learner_id=learner.pk, package_id=package_id)
    as_of = (timezone.now() + timedelta(days=20)).isoformat()
    refused = admin.call("POST", "/notifications/runs", {"dry_run": False, "as_of": as_of})
    assert refused.status_code == 422
    queued = admin.call("POST", "/notifications/runs", {"dry_run": True, "as_of": as_of})
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    jobs.run_job(queued.json()["id"])
    run = admin.call("GET", f"/notifications/runs/{queued.json()['id']}").json()
    assert run["result"]["summary"] == "2 messages to 2 people"
    assert run["result"]["by_kind"]["due_soon"] == 2
    assert admin.call("GET", "/notifications/runs").json()["count"] == 1
    # A real run (at the clock: "assigned" for both) fills the log.
    notifications.claim_due(actor=admin.user, now=timezone.now())
    page = admin.call("GET", "/notifications/messages?kind=assigned&limit=1").json()
    assert (page["count"], len(page["items"])) == (2, 1)
    assert page["items"][0]["status"] == "pending"
    assert admin.call("GET", "/notifications/messages?kind=overdue").json()["count"] == 0
