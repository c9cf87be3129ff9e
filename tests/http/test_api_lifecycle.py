"""The lifecycle endpoints end to end: a version's due rule, an extension, an exemption,
an equivalence with its preview, standing counts and an enrollment's dates as of t."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_helpers import Caller, make_caller, problem
from django.utils import timezone

from coursepack.packaging import api as packaging
from tests.factories import make_course, make_draft_package

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def test_due_rule_extension_exemption_equivalence_and_dates_over_the_api(admin: Caller) -> None:
    """Set a draft's due rule, publish, enrol; extend the due date; the enrollment's dates
    as of now show the new date and the extension, as of its enrolment the old one;
    exempting from the course completes it and the standing counts say exempt; a
    preview of an equivalence into it counts nothing to complete."""
    course = make_course()
    draft = make_draft_package(items=[course])
    rule = admin.call(
        "PUT",
        f"/versions/{draft.pk}/lifecycle",
        {"due_kind": "after_enrolment", "due_days": 30, "valid_days": 365, "window_days": 30},
    )
    assert rule.status_code == 200 and rule.json()["due_days"] == 30
    packaging.publish_version(actor=None, version_id=draft.pk, change_notes="Release.")
    # A released version's rules never change.
    assert problem(admin.call("PUT", f"/versions/{draft.pk}/lifecycle", {}))["status"] == 409
    learner = admin.call("POST", "/users", {"username": "pat"}).json()["id"]
    enrollment = admin.call(
        "POST", "/enrollments", {"learner_id": learner, "package_id": draft.package_id}
    ).json()
    enrolled_at = enrollment["enrolled_at"]
    new_due = (timezone.now() + timedelta(days=45)).replace(microsecond=0)
    extended = admin.call(
        "POST",
        "/due-extensions",
        {"enrollment_ids": [enrollment["id"]], "due_at": new_due.isoformat(), "reason": "Leave"},
    )
    assert extended.status_code == 201, extended.content
    now = admin.call("GET", f"/enrollments/{enrollment['id']}/lifecycle").json()
    assert now["due_at"].startswith(new_due.date().isoformat())
    assert [x["reason"] for x in now["extensions"]] == ["Leave"]
    assert now["standing"] == "not_started"
    then = admin.call(
        "GET",
        f"/enrollments/{enrollment['id']}/lifecycle?as_of={enrolled_at.replace('+', '%2B')}",
    ).json()
    assert then["due_at"] == then["due_at_enrolment"] and then["extensions"] == []
    # An earlier date is refused, naming the field
    refused = admin.call(
        "POST",
        "/due-extensions",
        {
            "enrollment_ids": [enrollment["id"]],
            "due_at": (timezone.now() + timedelta(days=1)).isoformat(),
            "reason": "x",
        },
    )
    assert refused.status_code == 422
    other = make_course()
    preview = admin.call(
        "GET", f"/equivalences/preview?source_course_id={other.pk}&target_course_id={course.pk}"
    ).json()
    assert preview == {"enrollments_checked": 1, "would_complete": 0, "would_complete_ids": []}
    exempted = admin.call(
        "POST",
        "/exemptions",
        {"enrollment_ids": [enrollment["id"]], "course_id": course.pk, "reason": "tested_out"},
    )
    assert exempted.status_code == 201
    dates = admin.call("GET", f"/enrollments/{enrollment['id']}/lifecycle").json()
    assert [x["reason"] for x in dates["exemptions_used"]] == ["tested_out"]
    assert dates["standing"] == "current"
    counts = admin.call("GET", f"/packages/{draft.package_id}/standing").json()["counts"]
    assert counts["current"] == 1 and counts["not_started"] == 0
    listed = admin.call("GET", f"/packages/{draft.package_id}/standing/current").json()
    assert [e["learner_username"] for e in listed["items"]] == ["pat"]


def test_an_exemption_with_an_end_over_the_api(admin: Caller) -> None:
    """An exemption may carry ends_at (in the future, with a time zone): it is returned,
    named in the enrollment's dates, and listed among the exemptions about to lapse
    within the days asked for; a past or zone-less end is refused, naming the field."""
    course = make_course()
    draft = make_draft_package(items=[course])
    packaging.publish_version(actor=None, version_id=draft.pk, change_notes="Release.")
    learner = admin.call("POST", "/users", {"username": "sam"}).json()["id"]
    enrollment = admin.call(
        "POST", "/enrollments", {"learner_id": learner, "package_id": draft.package_id}
    ).json()
    ends = (timezone.now() + timedelta(days=10)).replace(microsecond=0)
    body = {"enrollment_ids": [enrollment["id"]], "reason": "administrative"}
    past = admin.call(
        "POST", "/exemptions", {**body, "ends_at": (timezone.now() - timedelta(days=1)).isoformat()}
    )
    assert past.status_code == 422 and "ends_at" in str(problem(past))
    naive = admin.call("POST", "/exemptions", {**body, "ends_at": "2099-01-01T00:00:00"})
    assert naive.status_code == 422
    made = admin.call("POST", "/exemptions", {**body, "ends_at": ends.isoformat()})
    assert made.status_code == 201, made.content
    (row,) = made.json()["exemptions"]
    assert row["ends_at"].startswith(ends.date().isoformat())
    dates = admin.call("GET", f"/enrollments/{enrollment['id']}/lifecycle").json()
    (used,) = dates["exemptions_used"]
    assert used["ends_at"] == row["ends_at"] and "until" in used["explanation"]
    assert dates["standing"] == "exempt"
    near = admin.call("GET", f"/packages/{draft.package_id}/exceptions?within=30").json()
    assert near["lapsing_within_days"] == 30 and near["lapsing_count"] == 1
    assert [x["id"] for x in near["lapsing"]] == [row["id"]]
    far = admin.call("GET", f"/packages/{draft.package_id}/exceptions?within=5").json()
    assert far["lapsing_count"] == 0 and far["exemptions_count"] == 1
