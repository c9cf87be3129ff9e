"""Recording and voiding completion events, and what they do to stored statuses."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from learning_helpers import actions, backdate, base_time, drift, record, stored

from coursepack.audit.models import AuditEvent
from coursepack.catalog.errors import CourseNotFound
from coursepack.errors import InvalidInput
from coursepack.learning import api as learning
from coursepack.learning import selectors
from coursepack.learning.errors import (
    CannotVoid,
    EventNotFound,
    IdempotencyConflict,
    LearnerNotFound,
)
from coursepack.learning.models import CompletionEvent, Enrollment
from tests.factories import make_course, make_group, make_learner, make_published_package

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _rows() -> dict[int, tuple[Any, ...]]:
    """Return every enrollment's full row, to show which ones a write touched."""
    return {
        row[0]: row
        for row in Enrollment.objects.values_list(
            "id",
            "version_id",
            "status",
            "progress_done",
            "progress_needed",
            "completed_at",
            "withdrawn_at",
        )
    }


def _counts() -> tuple[int, int, int]:
    return (
        CompletionEvent.objects.count(),
        AuditEvent.objects.count(),
        Enrollment.objects.filter(status="completed").count(),
    )


# --- record_completion ---------------------------------------------------------------


def test_recording_updates_exactly_the_enrollments_whose_version_has_the_course(
    admin: Any, learner: Any
) -> None:
    """Every enrollment of the learner whose pinned version contains the course, at any
    depth, is re-evaluated in the same transaction; no other enrollment changes."""
    # Given a learner in three packages, two containing course A (one inside a
    # family), and another learner in the first package
    t = base_time()
    a, b, c = make_course(), make_course(), make_course()
    p1 = make_published_package(items=[a, b])
    p2 = make_published_package(items=[make_group(kind="family", items=[a, c])])
    p3 = make_published_package(items=[c])
    mine = {
        p: backdate(learning.enroll(actor=admin, learner_id=learner.pk, package_id=p.package_id), t)
        for p in (p1, p2, p3)
    }
    other_learner = make_learner()
    other = learning.enroll(actor=admin, learner_id=other_learner.pk, package_id=p1.package_id)
    before = _rows()

    # When the learner completes A
    result = record(learner, a, t, actor=admin, source="api", evidence_note="certificate 17")

    # Then the event is stored as given
    event = result.event
    assert result.created
    assert result.enrollments_changed == 2
    event.refresh_from_db()
    assert (event.learner, event.course, event.kind, event.occurred_at) == (
        learner,
        a,
        "completed",
        t,
    )
    assert (event.source, event.evidence_note, event.recorded_by) == (
        "api",
        "certificate 17",
        admin,
    )
    assert event.voids is None
    # And the two enrollments containing A moved, the others did not
    assert stored(mine[p1]) == ("in_progress", 1, 2, None)
    assert stored(mine[p2]) == ("completed", 1, 1, t)
    after = _rows()
    assert after[mine[p3].pk] == before[mine[p3].pk]
    assert after[other.pk] == before[other.pk]
    # And the log has the event and one status change per changed enrollment, at one moment
    recorded = AuditEvent.objects.get(action="completion.recorded")
    changes = AuditEvent.objects.filter(action="enrollment.status_changed")
    assert sorted(int(e.target_id) for e in changes) == sorted([mine[p1].pk, mine[p2].pk])
    assert {e.occurred_at for e in changes} == {recorded.occurred_at}
    assert {e.notes for e in changes} == {f"completion event {event.pk}"}
    change = changes.get(target_id=str(mine[p2].pk))
    assert change.before is not None and change.after is not None
    assert (change.before["status"], change.after["status"]) == ("not_started", "completed")
    assert recorded.after == {
        "learner": learner.pk,
        "course": a.pk,
        "kind": "completed",
        "occurred_at": t.isoformat(),
        "source": "api",
        "external_id": None,
    }
    assert drift() == []


def test_an_event_on_a_course_in_no_enrollment_changes_nothing(admin: Any, learner: Any) -> None:
    version = make_published_package()
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    before = _rows()
    result = record(learner, make_course(), base_time())
    assert result.enrollments_changed == 0
    assert _rows() == before
    assert not AuditEvent.objects.filter(action="enrollment.status_changed").exists()
    assert stored(enrollment) == ("not_started", 0, 1, None)


def test_same_external_id_twice_changes_nothing(admin: Any, learner: Any) -> None:
    """Recording the same external id with the same facts returns the stored event."""
    t = base_time()
    course = make_course()
    version = make_published_package(items=[course])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    backdate(enrollment, t)
    first = record(learner, course, t, source="xapi", external_id="lms-42")
    assert first.created
    counts = _counts()

    again = record(learner, course, t, source="xapi", external_id="lms-42")
    without_time = learning.record_completion(
        actor=admin, learner_id=learner.pk, course_id=course.pk, external_id=" lms-42 "
    )

    for repeat in (again, without_time):
        assert not repeat.created
        assert repeat.event.pk == first.event.pk
        assert repeat.enrollments_changed == 0
    assert _counts() == counts
    assert stored(enrollment) == ("completed", 1, 1, t)


@pytest.mark.parametrize("change", ["learner", "course", "kind", "occurred_at"])
def test_same_external_id_with_different_facts_is_refused(
    admin: Any, learner: Any, change: str
) -> None:
    t = base_time()
    course = make_course()
    record(learner, course, t, external_id="lms-42")
    counts = _counts()
    facts: dict[str, Any] = {
        "learner_id": learner.pk,
        "course_id": course.pk,
        "kind": "completed",
        "occurred_at": t,
    }
    facts[change] = {
        "learner": make_learner().pk,
        "course": make_course().pk,
        "kind": "passed",
        "occurred_at": t + HOUR,
    }[change]
    if change in ("learner", "course"):
        facts[f"{change}_id"] = facts.pop(change)
    counts = _counts()
    with pytest.raises(IdempotencyConflict, match="lms-42"):
        learning.record_completion(actor=admin, external_id="lms-42", **facts)
    assert _counts() == counts


def test_failed_attempts_start_but_never_complete(admin: Any, learner: Any) -> None:
    """A failed event makes the enrollment in progress; a later pass completes it at
    the pass; a failure after a pass takes nothing away."""
    t = base_time()
    course = make_course()
    version = make_published_package(items=[course])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    backdate(enrollment, t)
    record(learner, course, t, kind="failed")
    assert stored(enrollment) == ("in_progress", 0, 1, None)
    assert selectors.enrollment_progress(enrollment.pk).node([0]).state == "in_progress"
    record(learner, course, t + HOUR, kind="passed")
    assert stored(enrollment) == ("completed", 1, 1, t + HOUR)
    record(learner, course, t + 2 * HOUR, kind="failed")
    assert stored(enrollment) == ("completed", 1, 1, t + HOUR)


def test_recording_without_a_time_means_now(admin: Any, learner: Any) -> None:
    course = make_course()
    before = timezone.now()
    event = learning.record_completion(
        actor=admin, learner_id=learner.pk, course_id=course.pk
    ).event
    assert before <= event.occurred_at <= timezone.now()
    assert event.recorded_at == event.occurred_at
    assert event.source == "manual"


def test_backdated_event_before_withdrawal_counts_for_the_withdrawn_enrollment(
    admin: Any, learner: Any
) -> None:
    """A withdrawn enrollment is evaluated as of its withdrawal: an event that happened
    before then (recorded later) counts, one that happened after does not."""
    t = base_time()
    a, b = make_course(), make_course()
    version = make_published_package(items=[a, b])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    backdate(enrollment, t)
    learning.withdraw(actor=admin, enrollment_id=enrollment.pk)
    record(learner, a, timezone.now())
    assert stored(enrollment) == ("not_started", 0, 2, None)
    record(learner, b, t)
    assert stored(enrollment) == ("in_progress", 1, 2, None)
    assert drift() == []


def _bad_inputs(learner: Any, course: Any) -> list[tuple[dict[str, Any], str]]:
    now = timezone.now()
    return [
        ({"occurred_at": now + timedelta(minutes=5)}, "occurred_at: cannot be in the future"),
        ({"occurred_at": datetime(2024, 1, 1, 12, 0)}, "occurred_at: must include a time zone"),
        ({"evidence_note": "signed\x00off"}, "evidence_note: must not contain NUL"),
        ({"external_id": "lms\x0042"}, "external_id: must not contain NUL"),
        ({"external_id": "   "}, "external_id: is required"),
        ({"external_id": "x" * 256}, "external_id: must be at most 255"),
        ({"kind": "void"}, "kind: must be completed, passed or failed"),
        ({"kind": "started"}, "kind: must be completed, passed or failed"),
        ({"source": "carrier pigeon"}, "source: must be one of"),
    ]


def test_invalid_input_is_refused_and_nothing_is_written(admin: Any, learner: Any) -> None:
    """Future or naive times, NUL bytes, unknown kinds and sources are refused with
    the field named."""
    course = make_course()
    version = make_published_package(items=[course])
    learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    counts = _counts()
    for extra, problem in _bad_inputs(learner, course):
        with pytest.raises(InvalidInput) as refused:
            learning.record_completion(
                actor=admin, learner_id=learner.pk, course_id=course.pk, **extra
            )
        assert any(p.startswith(problem) for p in refused.value.problems), (extra, refused.value)
    with pytest.raises(LearnerNotFound):
        learning.record_completion(actor=admin, learner_id=learner.pk + 1000, course_id=course.pk)
    with pytest.raises(CourseNotFound):
        learning.record_completion(actor=admin, learner_id=learner.pk, course_id=course.pk + 1000)
    assert _counts() == counts


# --- void_event -------------------------------------------------------------------


def test_void_is_a_new_event_and_statuses_are_recomputed(admin: Any, learner: Any) -> None:
    """Voiding appends a void event naming its target; the voided event stays, no longer
    counts from the void on, and every affected enrollment is re-evaluated."""
    # Given a learner who completed A twice and B once
    t = base_time()
    a, b = make_course(), make_course()
    version = make_published_package(items=[a, b])
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    backdate(enrollment, t)
    early = record(learner, a, t).event
    record(learner, a, t + 2 * HOUR)
    wrong = record(learner, b, t + HOUR).event
    assert stored(enrollment) == ("completed", 2, 2, t + HOUR)

    # When the early completion of A is voided
    voided = learning.void_event(actor=admin, event_id=early.pk, reason="duplicate import")

    # Then A's later completion carries the package: complete since t+2h
    assert voided.created
    void = voided.event
    void.refresh_from_db()
    assert (void.kind, void.voids_id, void.learner_id, void.course_id) == (
        "void",
        early.pk,
        learner.pk,
        a.pk,
    )
    assert void.evidence_note == "duplicate import"
    assert void.recorded_by == admin
    assert voided.enrollments_changed == 1
    assert stored(enrollment) == ("completed", 2, 2, t + 2 * HOUR)
    early.refresh_from_db()
    assert early.kind == "completed"

    # When B's only completion is voided
    second = learning.void_event(actor=admin, event_id=wrong.pk, reason="wrong learner").event
    # Then the package is no longer complete
    assert stored(enrollment) == ("in_progress", 1, 2, None)
    # But answers as known before each void (what the system showed then) still count
    # what it voided; as known now, the voided events never counted, at any moment
    just_before = second.recorded_at - timedelta(microseconds=1)
    shown = selectors.enrollment_progress(enrollment.pk, as_of=just_before, known_at=just_before)
    assert shown.completed_at == t + 2 * HOUR
    just_before = void.recorded_at - timedelta(microseconds=1)
    shown = selectors.enrollment_progress(enrollment.pk, as_of=just_before, known_at=just_before)
    assert shown.completed_at == t + HOUR
    known_now = selectors.enrollment_progress(enrollment.pk, as_of=just_before)
    assert known_now.status == "in_progress"

    # And the log has each void and each status change
    assert actions(action__in=["completion.voided", "enrollment.status_changed"]) == [
        "enrollment.status_changed",
        "enrollment.status_changed",
        "completion.voided",
        "enrollment.status_changed",
        "completion.voided",
        "enrollment.status_changed",
    ]
    assert AuditEvent.objects.filter(action="completion.voided").first().notes == "duplicate import"
    assert drift() == []


def test_void_refusals(admin: Any, learner: Any) -> None:
    """An event is voided once; a void cannot be voided; a reason is required."""
    course = make_course()
    event = record(learner, course, base_time()).event
    void = learning.void_event(actor=admin, event_id=event.pk, reason="mistake").event
    counts = _counts()
    with pytest.raises(CannotVoid, match="already voided"):
        learning.void_event(actor=admin, event_id=event.pk, reason="again")
    with pytest.raises(CannotVoid, match="itself a void"):
        learning.void_event(actor=admin, event_id=void.pk, reason="undo")
    with pytest.raises(EventNotFound):
        learning.void_event(actor=admin, event_id=void.pk + 1000, reason="?")
    other = record(learner, course, base_time()).event
    for reason in ("", "  ", "a\x00b"):
        with pytest.raises(InvalidInput):
            learning.void_event(actor=admin, event_id=other.pk, reason=reason)
    assert CompletionEvent.objects.count() == counts[0] + 1
    assert not CompletionEvent.objects.filter(voids=other).exists()


# --- append-only at the database level ----------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE learning_completionevent SET kind = 'passed' WHERE id = %s",
        "UPDATE learning_completionevent SET occurred_at = recorded_at WHERE id = %s",
        "DELETE FROM learning_completionevent WHERE id = %s",
    ],
)
def test_events_are_append_only_in_the_database(learner: Any, sql: str) -> None:
    """Raw SQL cannot rewrite or erase a completion event either."""
    event = record(learner, make_course(), base_time()).event
    with (
        pytest.raises(IntegrityError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    event.refresh_from_db()
    assert event.kind == "completed"
