"""Enrolling (single and bulk), recording completions (idempotent, batch), voids and progress."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_helpers import Caller, make_caller, problem, where
from django.utils import timezone

from coursepack.audit.models import AuditEvent
from coursepack.learning.models import CompletionEvent, Enrollment
from tests.factories import make_course, make_group, make_published_package


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def _state() -> tuple[int, int, int]:
    return CompletionEvent.objects.count(), Enrollment.objects.count(), AuditEvent.objects.count()


def _learner(admin: Caller, username: str = "pat") -> int:
    response = admin.call("POST", "/users", {"username": username, "first_name": "Pat"})
    assert response.status_code == 201
    assert response.json()["role"] == "learner"
    return int(response.json()["id"])


# --- completions ------------------------------------------------------------------------


def test_an_idempotency_key_makes_a_retry_harmless(admin: Caller) -> None:
    """First post: 201. The same post again: 200 with the same event, nothing new stored.
    The same key with a different body: 409, nothing stored."""
    course = make_course()
    learner = _learner(admin)
    body = {"learner_id": learner, "course_id": course.pk, "kind": "passed"}
    key = {"Idempotency-Key": "lms-4711"}

    first = admin.call("POST", "/completions", body, key)
    assert first.status_code == 201
    assert first.json()["created"] is True
    event = first.json()["event"]
    assert event["external_id"] == "lms-4711"
    before = _state()

    replay = admin.call("POST", "/completions", body, key)
    assert replay.status_code == 200
    assert replay.json()["created"] is False
    assert replay.json()["event"] == event
    assert _state() == before

    other_course = make_course()
    before = _state()
    for different in (
        {**body, "course_id": other_course.pk},
        {**body, "kind": "failed"},
        {**body, "occurred_at": (timezone.now() - timedelta(days=3)).isoformat()},
    ):
        conflict = admin.call("POST", "/completions", different, key)
        assert conflict.status_code == 409, different
        assert problem(conflict)["code"] == "idempotency_conflict"
    assert _state() == before


def test_the_external_id_in_the_body_is_the_same_key(admin: Caller) -> None:
    """external_id works like the header; both at once must agree (422 if not)."""
    course = make_course()
    learner = _learner(admin)
    body = {"learner_id": learner, "course_id": course.pk, "external_id": "x-1"}

    assert admin.call("POST", "/completions", body).status_code == 201
    assert admin.call("POST", "/completions", body, {"Idempotency-Key": "x-1"}).status_code == 200
    before = _state()
    both = admin.call("POST", "/completions", body, {"Idempotency-Key": "x-2"})
    assert both.status_code == 422
    assert where(problem(both)["errors"][0]) == "/external_id"
    assert _state() == before


def test_a_batch_is_stored_all_or_nothing(admin: Caller) -> None:
    """One bad event in a batch: nothing of the batch is stored, and the problem says which."""
    c1, c2 = make_course(), make_course()
    learner = _learner(admin)
    good = {"learner_id": learner, "course_id": c1.pk}
    before = _state()

    missing_course = admin.call(
        "POST",
        "/completions/batch",
        {"events": [good, {"learner_id": learner, "course_id": 999_999}]},
    )
    assert missing_course.status_code == 404
    assert problem(missing_course)["code"] == "course_not_found"
    assert _state() == before

    future = admin.call(
        "POST",
        "/completions/batch",
        {"events": [good, {**good, "course_id": c2.pk, "occurred_at": "2999-01-01T00:00:00Z"}]},
    )
    assert future.status_code == 422
    assert problem(future)["problems"] == ["/events/1/occurred_at: cannot be in the future"]
    assert _state() == before

    invalid = admin.call("POST", "/completions/batch", {"events": [good, {"learner_id": learner}]})
    assert invalid.status_code == 422
    assert [where(e) for e in problem(invalid)["errors"]] == ["/events/1/course_id"]
    assert _state() == before

    stored = admin.call(
        "POST", "/completions/batch", {"events": [good, {**good, "course_id": c2.pk}]}
    )
    assert stored.status_code == 200
    results = stored.json()["results"]
    assert [r["event"]["course_id"] for r in results] == [c1.pk, c2.pk]
    assert all(r["created"] for r in results)
    assert CompletionEvent.objects.count() == before[0] + 2


def test_a_void_records_a_new_event_and_the_progress_follows(admin: Caller) -> None:
    """Voiding a completion: a new void event (source `api`, the reason as its evidence
    note); the enrollment is no longer complete."""
    course = make_course()
    version = make_published_package(items=[course])
    learner = _learner(admin)
    enrollment = admin.call(
        "POST", "/enrollments", {"learner_id": learner, "package_id": version.package_id}
    ).json()
    recorded = admin.call("POST", "/completions", {"learner_id": learner, "course_id": course.pk})
    assert recorded.json()["enrollments_changed"] == 1
    assert _progress(admin, enrollment["id"])["status"] == "completed"

    void = admin.call(
        "POST", f"/completions/{recorded.json()['event']['id']}/void", {"reason": "Wrong person"}
    )

    assert void.status_code == 201
    assert void.json()["event"]["kind"] == "void"
    assert void.json()["event"]["voids_id"] == recorded.json()["event"]["id"]
    # A void over the API says so, and keeps its reason as its evidence note.
    assert void.json()["event"]["source"] == "api"
    assert void.json()["event"]["evidence_note"] == "Wrong person"
    assert void["Location"] == f"/api/v1/completions/{void.json()['event']['id']}"
    assert _progress(admin, enrollment["id"])["status"] == "not_started"
    again = admin.call(
        "POST", f"/completions/{recorded.json()['event']['id']}/void", {"reason": "Again"}
    )
    assert again.status_code == 409
    assert problem(again)["code"] == "cannot_void"


# --- enrolling and progress -------------------------------------------------------------


def _progress(admin: Caller, enrollment_id: int, query: str = "") -> dict[str, Any]:
    response = admin.call("GET", f"/enrollments/{enrollment_id}/progress{query}")
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def test_enrolling_and_progress_with_its_explanation(admin: Caller) -> None:
    """Enrol a new learner; progress says what is missing and what to do next, then completes."""
    a, b, extra = make_course(code="A-1"), make_course(code="B-1"), make_course(code="X-1")
    choice = make_group(kind="choice", min_count=1, items=[a, b], name="A or B")
    version = make_published_package(items=[choice, (extra, False)])
    learner = _learner(admin)

    enrolled = admin.call(
        "POST", "/enrollments", {"learner_id": learner, "package_id": version.package_id}
    )
    assert enrolled.status_code == 201
    enrollment = enrolled.json()
    assert (enrollment["version_id"], enrollment["status"]) == (version.pk, "not_started")

    progress = _progress(admin, enrollment["id"])
    assert progress["status"] == "not_started"
    assert (progress["done"], progress["needed"]) == (0, 1)
    assert progress["why_not_complete"]
    assert {c["code"] for c in progress["next_courses"]} == {"A-1", "B-1"}
    assert [c["code"] for c in progress["optional_next"]] == ["X-1"]
    assert progress["tree"]["children"][0]["label"] == "A or B"
    assert progress["tree"]["children"][0]["explanation"]

    admin.call("POST", "/completions", {"learner_id": learner, "course_id": b.pk})
    done = _progress(admin, enrollment["id"])
    assert done["status"] == "completed"
    assert done["why_not_complete"] == []
    assert done["completed_at"] is not None
    # As of before the completion, it was not complete.
    earlier = _progress(admin, enrollment["id"], f"?as_of={enrollment['enrolled_at']}")
    assert earlier["status"] == "not_started"

    twice = admin.call(
        "POST", "/enrollments", {"learner_id": learner, "package_id": version.package_id}
    )
    assert twice.status_code == 409
    assert problem(twice)["code"] == "already_enrolled"


def test_progress_as_of_needs_a_time_zone_or_is_a_whole_day(admin: Caller) -> None:
    """A naive as_of is ambiguous, and a number is no date: 422 naming as_of. A date
    alone means the end of that day, as on the pages."""
    version = make_published_package()
    learner = _learner(admin)
    enrollment = admin.call(
        "POST", "/enrollments", {"learner_id": learner, "package_id": version.package_id}
    ).json()

    for as_of in ("2024-01-01T00:00:00", "0", "2024-02-30"):
        response = admin.call("GET", f"/enrollments/{enrollment['id']}/progress?as_of={as_of}")

        assert response.status_code == 422
        (error,) = problem(response)["errors"]
        assert (error["parameter"], error["in"]) == ("as_of", "query")
        assert "2025-01-31" in error["message"]

    day = admin.call("GET", f"/enrollments/{enrollment['id']}/progress?as_of=2024-03-01")
    assert day.status_code == 200
    assert day.json()["as_of"].startswith("2024-03-01T23:59:59")


def test_bulk_enrolment_reports_who_was_enrolled_already_or_unknown(admin: Caller) -> None:
    """Bulk (per item, not all or nothing): new learners are enrolled; those already
    enrolled and unknown ids are listed; each item has a result with its JSON Pointer
    and the enrollment it left."""
    version = make_published_package()
    ann, bo, cy = (_learner(admin, name) for name in ("ann", "bo", "cy"))
    existing = admin.call(
        "POST", "/enrollments", {"learner_id": ann, "package_id": version.package_id}
    ).json()["id"]

    response = admin.call(
        "POST",
        "/enrollments/bulk",
        {"package_id": version.package_id, "learner_ids": [ann, bo, cy, 999_999, bo]},
    )

    assert response.status_code == 200
    body = response.json()
    results = body.pop("results")
    assert body == {
        "version_id": version.pk,
        "enrolled": 2,
        "already_enrolled": [ann],
        "unknown_learners": [999_999],
    }
    listed = admin.call("GET", f"/enrollments?package_id={version.package_id}").json()
    assert sorted(e["learner_id"] for e in listed["items"]) == sorted([ann, bo, cy])
    by_learner = {e["learner_id"]: e["id"] for e in listed["items"]}
    assert results == [
        {
            "pointer": "/learner_ids/0",
            "learner_id": ann,
            "outcome": "already_enrolled",
            "enrollment_id": existing,
        },
        {
            "pointer": "/learner_ids/1",
            "learner_id": bo,
            "outcome": "enrolled",
            "enrollment_id": by_learner[bo],
        },
        {
            "pointer": "/learner_ids/2",
            "learner_id": cy,
            "outcome": "enrolled",
            "enrollment_id": by_learner[cy],
        },
        {
            "pointer": "/learner_ids/3",
            "learner_id": 999_999,
            "outcome": "unknown_learner",
            "enrollment_id": None,
        },
        {
            "pointer": "/learner_ids/4",
            "learner_id": bo,
            "outcome": "repeated",
            "enrollment_id": by_learner[bo],
        },
    ]


def test_withdrawing_keeps_the_record(admin: Caller) -> None:
    """A withdrawn enrollment is still listed (open=false) with its withdrawal time; twice: 409."""
    version = make_published_package()
    learner = _learner(admin)
    enrollment = admin.call(
        "POST", "/enrollments", {"learner_id": learner, "package_id": version.package_id}
    ).json()

    withdrawn = admin.call("POST", f"/enrollments/{enrollment['id']}/withdraw", {"notes": "Left"})

    assert withdrawn.status_code == 200
    assert withdrawn.json()["withdrawn_at"] is not None
    assert admin.call("GET", "/enrollments?open=true").json()["count"] == 0
    assert admin.call("GET", "/enrollments?open=false").json()["count"] == 1
    again = admin.call("POST", f"/enrollments/{enrollment['id']}/withdraw", {})
    assert again.status_code == 409
    assert problem(again)["code"] == "already_withdrawn"
