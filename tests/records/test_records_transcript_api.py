"""GET /api/v1/learners/{id}/transcript?as_of=…: the point-in-time transcript over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from records_helpers import frozen_clock, signed_in

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.learning import api as learning
from tests.factories import make_course, make_learner, make_published_package

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _url(learner_id: int) -> str:
    return f"/api/v1/learners/{learner_id}/transcript"


@pytest.fixture
def history(admin: Any, learner: Any) -> dict[str, Any]:
    """A learner who completed a course, had it voided two days later, and was withdrawn."""
    with frozen_clock() as clock:
        course = make_course(code="SAF-320", name="Fire Safety")
        version = make_published_package(actor=admin, items=[course], name="Safety")
        enrolled = clock.advance(DAY)
        enrollment = learning.enroll(
            actor=admin, learner_id=learner.pk, package_id=version.package_id
        )
        done = clock.advance(DAY)
        event = learning.record_completion(
            actor=admin,
            learner_id=learner.pk,
            course_id=course.pk,
            occurred_at=done,
            source="api",
            evidence_note="Certificate 1234",
        ).event
        voided = clock.advance(2 * DAY)
        learning.void_event(actor=admin, event_id=event.pk, reason="Duplicate certificate.")
        withdrawn = clock.advance(DAY)
        learning.withdraw(actor=admin, enrollment_id=enrollment.pk)
    return {
        "enrolled": enrolled,
        "done": done,
        "voided": voided,
        "withdrawn": withdrawn,
        "event": event,
        "enrollment": enrollment,
        "version": version,
    }


def test_as_of_between_event_and_void_shows_the_completion_and_the_later_void(
    admin: Any, learner: Any, history: dict[str, Any]
) -> None:
    """as_of between the completion and its void, as known then: the enrollment was
    completed, the event counted, and it says it was voided later, when and why."""
    as_of = (history["done"] + DAY).isoformat()
    response = signed_in(admin).get(_url(learner.pk), {"as_of": as_of, "known_at": as_of})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["learner_id"] == learner.pk
    assert body["as_of"].replace("Z", "+00:00") == as_of
    (row,) = body["enrollments"]
    assert row["id"] == history["enrollment"].pk
    assert (row["package_name"], row["version_number"]) == ("Safety", 1)
    assert (row["status"], row["progress_status"], row["withdrawn_at"]) == (
        "completed",
        "completed",
        None,
    )
    assert (row["progress_done"], row["progress_needed"]) == (1, 1)
    assert row["why_not_complete"] == []
    (event,) = body["events"]
    assert event["id"] == history["event"].pk
    assert (event["course_code"], event["source"], event["evidence_note"]) == (
        "SAF-320",
        "api",
        "Certificate 1234",
    )
    assert (event["counted"], event["voided"], event["voided_later"]) == (True, False, True)
    assert event["void_reason"] == "Duplicate certificate."
    assert event["voided_at"] is not None
    # And it says what was recorded since that changed the answer: the void
    changes = body["changes"]
    assert changes["changed"] is True
    (change,) = changes["enrollments"]
    assert (change["then"]["status"], change["later"]["status"]) == ("completed", "not_started")
    assert [e["kind"] for e in changes["recorded"]] == ["void"]


def test_as_of_between_event_and_void_as_known_now_the_void_corrects_the_record(
    admin: Any, learner: Any, history: dict[str, Any]
) -> None:
    """As known now (the default), the voided completion never counted, also before the
    void: the enrollment was not started then."""
    as_of = (history["done"] + DAY).isoformat()
    body = signed_in(admin).get(_url(learner.pk), {"as_of": as_of}).json()
    (row,) = body["enrollments"]
    assert (row["status"], row["completed_at"]) == ("not_started", None)
    (event,) = body["events"]
    assert (event["counted"], event["voided"], event["voided_later"]) == (False, True, False)
    assert body["changes"]["changed"] is True


def test_default_is_now_and_keeps_the_enrollments_and_events_keys(
    admin: Any, learner: Any, history: dict[str, Any]
) -> None:
    """Without as_of the transcript is as of now: withdrawn, the event voided, the void
    listed as its own event (as the current transcript always did)."""
    body = signed_in(admin).get(_url(learner.pk)).json()
    (row,) = body["enrollments"]
    assert (row["status"], row["progress_status"]) == ("withdrawn", "not_started")
    assert row["withdrawn_at"] is not None
    assert [(e["kind"], e["counted"], e["voided"]) for e in body["events"]] == [
        ("completed", False, True),
        ("void", False, False),
    ]
    assert body["events"][0]["voided_by_id"] == body["events"][1]["id"]
    assert body["events"][1]["voids_id"] == body["events"][0]["id"]


def test_as_of_before_enrolment_has_no_enrollment(
    admin: Any, learner: Any, history: dict[str, Any]
) -> None:
    """Before the enrolment there is nothing to show."""
    as_of = (history["enrolled"] - DAY).isoformat()
    body = signed_in(admin).get(_url(learner.pk), {"as_of": as_of}).json()
    assert (body["enrollments"], body["events"]) == ([], [])


def test_naive_or_malformed_as_of_is_refused(admin: Any, learner: Any) -> None:
    """as_of without a time zone, or not a date-time, is a 422 problem naming as_of."""
    client = signed_in(admin)
    for value in ("2024-03-01T12:00:00", "yesterday"):
        response = client.get(_url(learner.pk), {"as_of": value})
        assert response.status_code == 422, value
        assert response["Content-Type"] == "application/problem+json"
        assert "as_of" in response.content.decode()


def test_learner_sees_only_their_own_transcript(learner: Any, history: dict[str, Any]) -> None:
    """A learner reads their own transcript; anyone else's is 404, like one that does not exist."""
    other = make_learner()
    client = signed_in(learner)
    assert client.get(_url(learner.pk)).status_code == 200
    response = client.get(_url(other.pk))
    assert response.status_code == 404
    assert response.json()["code"] == "learner_not_found"
    assert signed_in(other).get(_url(learner.pk)).status_code == 404


def test_auditor_reads_any_transcript_and_unknown_learner_is_404(
    learner: Any, history: dict[str, Any]
) -> None:
    """An auditor may read every learner's transcript; an unknown learner is 404."""
    auditor = accounts.create_user(actor=None, username="auditor", role=Role.AUDITOR)
    client = signed_in(auditor)
    assert client.get(_url(learner.pk)).status_code == 200
    assert client.get(_url(learner.pk + 1000)).status_code == 404
