"""A completion evaluated before the write lock is exact (ADR 0030).

``record_completion`` is ``commit_completion(prepare_completion(...))``: the first
half reads the learner's enrollments, events and lifecycle facts with no lock, the
second re-checks under the lock that nothing it read has changed. Here another
write about the same learner commits between the two halves (a deterministic
interleaving through the public seams, on SQLite and PostgreSQL alike); the stored
statuses and audit records must be exactly those of the same writes done one after
the other, and the engine must find no drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from learning_helpers import backdate, base_time, drift, record

from coursepack.audit.models import AuditEvent
from coursepack.catalog.errors import CourseNotFound
from coursepack.catalog.models import Course
from coursepack.learning import api as learning
from coursepack.learning.errors import IdempotencyConflict, LearnerNotFound
from coursepack.learning.models import CompletionEvent, Enrollment
from tests.factories import make_course, make_learner, make_published_package

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)

_CACHE = (
    "status",
    "progress_done",
    "progress_needed",
    "completed_at",
    "due_in_force",
    "overdue_since",
    "completed_late",
    "expires_at",
    "exemption_lapses_at",
    "withdrawn_at",
)


@dataclass
class World:
    """Courses a and b in one package (both required), a alone in a second, and c
    in neither; every learner enrolled in the first at ``t``."""

    admin: Any
    a: Course
    b: Course
    c: Course
    first: int
    second: int
    t: Any

    def learner(self) -> tuple[Any, Enrollment]:
        learner = make_learner()
        enrollment = learning.enroll(actor=self.admin, learner_id=learner.pk, package_id=self.first)
        return learner, backdate(enrollment, self.t)


@pytest.fixture
def world(admin: Any) -> World:
    a, b, c = make_course(), make_course(), make_course()
    first = make_published_package(items=[a, b])
    second = make_published_package(items=[a])
    return World(admin, a, b, c, first.package_id, second.package_id, base_time())


#: (given, meanwhile): what the learner has before, and the write that commits
#: between preparing the completion of course a and committing it.
Step = Callable[[World, Any, Enrollment], None]


def _nothing(w: World, learner: Any, enrollment: Enrollment) -> None:
    pass


def _b_done(w: World, learner: Any, enrollment: Enrollment) -> None:
    record(learner, w.b, w.t + HOUR)


def _c_done(w: World, learner: Any, enrollment: Enrollment) -> None:
    record(learner, w.c, w.t + HOUR)


def _complete_b(w: World, learner: Any, enrollment: Enrollment) -> None:
    record(learner, w.b, w.t + 2 * HOUR)


def _void_b(w: World, learner: Any, enrollment: Enrollment) -> None:
    event = CompletionEvent.objects.get(learner=learner, course=w.b)
    learning.void_event(actor=w.admin, event_id=event.pk, reason="Entered for the wrong person.")


def _exempt_from_b(w: World, learner: Any, enrollment: Enrollment) -> None:
    learning.exempt(
        actor=w.admin, enrollment_ids=[enrollment.pk], reason="tested_out", course_id=w.b.pk
    )


def _exempt_from_b_for_a_while(w: World, learner: Any, enrollment: Enrollment) -> None:
    learning.exempt(
        actor=w.admin,
        enrollment_ids=[enrollment.pk],
        reason="administrative",
        course_id=w.b.pk,
        ends_at=timezone.now() + timedelta(days=3),
    )


def _withdraw(w: World, learner: Any, enrollment: Enrollment) -> None:
    learning.withdraw(actor=w.admin, enrollment_id=enrollment.pk)


def _enrol_in_second(w: World, learner: Any, enrollment: Enrollment) -> None:
    learning.enroll(actor=w.admin, learner_id=learner.pk, package_id=w.second)


def _extend(w: World, learner: Any, enrollment: Enrollment) -> None:
    learning.extend_due_date(
        actor=w.admin,
        enrollment_ids=[enrollment.pk],
        due_at=timezone.now() + timedelta(days=10),
        reason="Away on leave.",
    )


def _c_counts_for_b(w: World, learner: Any, enrollment: Enrollment) -> None:
    learning.create_equivalence(
        actor=w.admin, source_course_id=w.c.pk, target_course_id=w.b.pk, retroactive=True
    )


CASES: dict[str, tuple[Step, Step, str]] = {
    # name: (given, meanwhile, the first enrollment's status in the end)
    "a completion of the other course": (_nothing, _complete_b, "completed"),
    "a void of the completion of the other course": (_b_done, _void_b, "in_progress"),
    "an exemption from the other course": (_nothing, _exempt_from_b, "completed"),
    "an exemption that lapses": (_nothing, _exempt_from_b_for_a_while, "completed"),
    "a withdrawal": (_nothing, _withdraw, "in_progress"),
    "an enrolment in a second package with the course": (_nothing, _enrol_in_second, "in_progress"),
    "a due date extension": (_nothing, _extend, "in_progress"),
    "an equivalence counting an earlier completion": (_c_done, _c_counts_for_b, "completed"),
}


def _moment(value: Any, start: datetime) -> Any:
    """Return ``value`` with each moment from ``start`` on (an exemption's, a
    withdrawal's: "now", a little later for the second learner) as ``"now+"``."""
    if isinstance(value, dict):
        return {k: _moment(v, start) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_moment(v, start) for v in value)
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(moment, datetime) and moment >= start:
        return "now+"
    return value


def _state(learner: Any, start: datetime) -> list[tuple[Any, ...]]:
    """Return the learner's enrollments' cached fields, by package."""
    return [
        _moment(tuple(row), start)
        for row in Enrollment.objects.filter(learner=learner)
        .order_by("package_id")
        .values_list("package_id", *_CACHE)
    ]


def _status_records(learner: Any, start: datetime) -> list[tuple[Any, ...]]:
    """Return the status-change records of the learner's enrollments, oldest first,
    without what differs between learners (the enrollment and event ids)."""
    ids = {
        str(pk): package
        for pk, package in Enrollment.objects.filter(learner=learner).values_list(
            "pk", "package_id"
        )
    }
    return [
        (ids[target], _moment(before, start), _moment(after, start))
        for target, before, after in AuditEvent.objects.filter(
            action="enrollment.status_changed", target_id__in=list(ids)
        )
        .order_by("id")
        .values_list("target_id", "before", "after")
    ]


def _events_read(queries: CaptureQueriesContext) -> int:
    """Return how many queries read completion event rows (not counts of them; on
    PostgreSQL the read is a server-side cursor's DECLARE)."""
    column = '"learning_completionevent"."occurred_at"'
    return sum(1 for q in queries.captured_queries if column in q["sql"])


@pytest.mark.parametrize("case", list(CASES))
def test_a_write_between_evaluation_and_lock_leaves_what_one_after_the_other_does(
    world: World, case: str
) -> None:
    """The completion is evaluated again under the lock, and the learner ends with the
    statuses and records of the same two writes done one after the other."""
    given, meanwhile, status = CASES[case]
    start = timezone.now()
    # Given two learners in the same state
    raced, raced_enrollment = world.learner()
    given(world, raced, raced_enrollment)
    one_by_one, reference_enrollment = world.learner()
    given(world, one_by_one, reference_enrollment)
    occurred = world.t + 3 * HOUR
    # When one's completion of a is prepared, another write commits, then it is committed
    prepared = learning.prepare_completion(
        actor=world.admin, learner_id=raced.pk, course_id=world.a.pk, occurred_at=occurred
    )
    meanwhile(world, raced, raced_enrollment)
    with CaptureQueriesContext(connection) as under_lock:
        raced_result = learning.commit_completion(prepared)
    # ... and the other's write and completion happen one after the other
    meanwhile(world, one_by_one, reference_enrollment)
    reference = record(one_by_one, world.a, occurred, actor=world.admin)
    # Then the first noticed the change and read the learner's events again under the lock
    assert _events_read(under_lock) == 1
    # ... and both end exactly alike, as the engine says
    assert raced_result.enrollments_changed == reference.enrollments_changed
    assert _state(raced, start) == _state(one_by_one, start)
    assert _status_records(raced, start) == _status_records(one_by_one, start)
    raced_enrollment.refresh_from_db()
    assert raced_enrollment.status == status
    assert drift() == []


def test_with_nothing_in_between_the_evaluation_before_the_lock_is_kept(world: World) -> None:
    """No event is read under the lock, and the result is that of the plain path."""
    start = timezone.now()
    # Given two learners who completed b
    raced, raced_enrollment = world.learner()
    _b_done(world, raced, raced_enrollment)
    other, other_enrollment = world.learner()
    _b_done(world, other, other_enrollment)
    occurred = world.t + 3 * HOUR
    # When one's completion of a is prepared and committed with nothing in between
    prepared = learning.prepare_completion(
        actor=world.admin, learner_id=raced.pk, course_id=world.a.pk, occurred_at=occurred
    )
    with CaptureQueriesContext(connection) as under_lock:
        result = learning.commit_completion(prepared)
    # and the other's is recorded the plain way
    reference = record(other, world.a, occurred, actor=world.admin)
    # Then the prepared evaluation was used, and it is the plain path's
    assert _events_read(under_lock) == 0
    assert result.enrollments_changed == reference.enrollments_changed == 1
    assert _state(raced, start) == _state(other, start)
    assert _status_records(raced, start) == _status_records(other, start)
    raced_enrollment.refresh_from_db()
    assert raced_enrollment.status == "completed"
    assert drift() == []


def test_a_learner_removed_course_or_repeated_key_is_found_under_the_lock(world: World) -> None:
    """The checks that need the lock keep their order: unknown learner, then a
    repeated external id, then an unknown course."""
    learner, _ = world.learner()
    first = learning.record_completion(
        actor=world.admin, learner_id=learner.pk, course_id=world.a.pk, external_id="x-1"
    )
    # The same key again: the stored event, nothing new
    again = learning.commit_completion(
        learning.prepare_completion(
            actor=world.admin, learner_id=learner.pk, course_id=world.a.pk, external_id="x-1"
        )
    )
    assert (again.created, again.event.pk) == (False, first.event.pk)
    with pytest.raises(IdempotencyConflict):
        learning.record_completion(
            actor=world.admin, learner_id=learner.pk, course_id=world.b.pk, external_id="x-1"
        )
    with pytest.raises(LearnerNotFound):
        learning.record_completion(actor=world.admin, learner_id=10**9, course_id=10**9)
    with pytest.raises(CourseNotFound):
        learning.record_completion(actor=world.admin, learner_id=learner.pk, course_id=10**9)


def test_a_void_is_evaluated_before_the_lock_too(world: World) -> None:
    """A void reads its learner's inputs before its transaction and, nothing having
    changed, reads no event under the lock; the statuses are the engine's."""
    learner, enrollment = world.learner()
    record(learner, world.a, world.t + HOUR)
    record(learner, world.b, world.t + HOUR)
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    event = CompletionEvent.objects.get(learner=learner, course=world.b)
    with CaptureQueriesContext(connection) as queries:
        result = learning.void_event(actor=world.admin, event_id=event.pk, reason="Wrong person.")
    opened = next(
        i
        for i, q in enumerate(queries.captured_queries)
        if q["sql"].startswith(("SAVEPOINT", "BEGIN"))
    )
    column = '"learning_completionevent"."occurred_at"'
    # The learner's events (not the voided event itself, read by id under the lock).
    reads = [
        i
        for i, q in enumerate(queries.captured_queries)
        if column in q["sql"] and ('"learner_id" =' in q["sql"] or '"learner_id" IN' in q["sql"])
    ]
    assert len(reads) == 1 and reads[0] < opened
    assert result.enrollments_changed == 1
    enrollment.refresh_from_db()
    assert enrollment.status == "in_progress"
    (change,) = AuditEvent.objects.filter(
        action="enrollment.status_changed", target_id=str(enrollment.pk)
    ).order_by("-id")[:1]
    assert (change.before["status"], change.after["status"]) == ("completed", "in_progress")
    assert change.notes == f"void of event {event.pk}"
    assert drift() == []
