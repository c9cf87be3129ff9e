"""Concurrent writes about the same learner, on PostgreSQL.

Every write about one learner is serialised on the learner's row, and every
enrolment in a package on the package's row; these tests start many writers at
once (behind a barrier) and check that what they leave is exactly what the
engine says about all the events they wrote.

SQLite has one writer at a time (transactions begin IMMEDIATE), so these races
cannot happen there; the tests are skipped on it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from learning_helpers import backdate, base_time, drift, make_learners, record, stored

from coursepack.audit.models import AuditEvent
from coursepack.learning import api as learning
from coursepack.learning.errors import AlreadyEnrolled
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.packaging import api as packaging
from tests.concurrency import at_once
from tests.factories import add_items, make_course, make_group, make_published_package

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgresql_only")]

HOUR = timedelta(hours=1)


def _errors(results: list[Any]) -> list[BaseException]:
    errors = [r for r in results if isinstance(r, BaseException)]
    for e in errors:
        print("ERROR", repr(e))
    return errors


def test_twenty_concurrent_events_leave_the_right_status(admin: Any, learner: Any) -> None:
    """20 events for one learner recorded at once: the stored status, progress and
    completed_at are those of all 20 events, whatever order they committed in."""
    # Given a learner in "6 of 10, two required" and in a package sharing two courses
    t = base_time()
    courses = [make_course() for _ in range(10)]
    choice = make_group(
        kind="choice", min_count=6, items=[(courses[0], True), (courses[1], True), *courses[2:]]
    )
    main = make_published_package(items=[choice])
    side = make_published_package(items=[courses[0], courses[8]])
    # Enrolled at t, before every event (an enrollment is never complete before it existed)
    enrollment = backdate(
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=main.package_id), t
    )
    other = backdate(
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=side.package_id), t
    )
    # Twenty events, newest first; every fifth one a failure
    events: list[tuple[int, datetime, str]] = [
        (i % 10, t + (20 - i) * HOUR, "failed" if i % 5 == 4 else "completed") for i in range(20)
    ]

    # When they are all recorded at once
    results = at_once(
        [
            lambda c=c, at=at, kind=kind: record(learner, courses[c], at, kind=kind)
            for c, at, kind in events
        ]
    )

    # Then every one was stored
    assert _errors(results) == []
    assert CompletionEvent.objects.filter(learner=learner).count() == 20
    assert AuditEvent.objects.filter(action="completion.recorded").count() == 20
    # And the status is the rule's verdict over all of them: first completion per course,
    # both required courses, and the fourth-earliest optional one
    first_done: dict[int, datetime] = {}
    for c, at, kind in events:
        if kind != "failed" and (c not in first_done or at < first_done[c]):
            first_done[c] = at
    optional = sorted(at for c, at in first_done.items() if c >= 2)
    expected = max(first_done[0], first_done[1], optional[3])
    assert stored(enrollment) == ("completed", 1, 1, expected)
    assert stored(other) == ("completed", 2, 2, max(first_done[0], first_done[8]))
    assert drift() == []


def test_concurrent_enrolments_leave_one_enrollment(admin: Any, learner: Any) -> None:
    """Ten enrolments of one learner in one package at once (single and bulk): one
    enrollment; every other single enrolment is told AlreadyEnrolled, every bulk one
    reports the learner as already enrolled."""
    version = make_published_package()
    package_id = version.package_id

    def single() -> Any:
        return learning.enroll(actor=admin, learner_id=learner.pk, package_id=package_id)

    def bulk() -> Any:
        return learning.bulk_enroll(actor=admin, package_id=package_id, learner_ids=[learner.pk])

    results = at_once([single, bulk] * 5)

    assert Enrollment.objects.filter(learner=learner, package_id=package_id).count() == 1
    assert _errors(results) == [r for r in results if isinstance(r, AlreadyEnrolled)]
    made = [r for r in results if isinstance(r, Enrollment)]
    made += [r for r in results if isinstance(r, learning.BulkEnrollResult) and r.enrolled]
    assert len(made) == 1
    bulk_results = [r for r in results if isinstance(r, learning.BulkEnrollResult)]
    assert (
        sum(r.enrolled for r in bulk_results) + sum(isinstance(r, Enrollment) for r in results) == 1
    )
    assert all(r.already_enrolled == [learner.pk] for r in bulk_results if not r.enrolled)
    assert (
        AuditEvent.objects.filter(action="enrollment.created").count()
        + sum(r.enrolled for r in bulk_results)
        == 1
    )


def test_bulk_enrolment_racing_completions_leaves_no_drift(admin: Any) -> None:
    """A bulk enrolment and completions of the learners it enrols, at the same moment:
    each new enrollment counts every event committed before or during it."""
    t = base_time()
    course = make_course()
    version = make_published_package(items=[course])
    ids = make_learners(40)

    def bulk() -> Any:
        return learning.bulk_enroll(
            actor=admin, package_id=version.package_id, learner_ids=ids, chunk_size=10
        )

    def complete(learner_id: int) -> Callable[[], Any]:
        return lambda: learning.record_completion(
            actor=admin, learner_id=learner_id, course_id=course.pk, occurred_at=t
        )

    results = at_once([bulk, *(complete(i) for i in ids[::2])])

    assert _errors(results) == []
    assert Enrollment.objects.count() == 40
    assert drift() == []
    # Training dated before the enrolment counts, from the enrolment
    completed = list(Enrollment.objects.filter(status="completed"))
    assert len(completed) == 20
    assert all(e.completed_at == e.enrolled_at for e in completed)


def test_publish_moving_learners_racing_completions_leaves_no_drift(admin: Any) -> None:
    """Publishing with a moving policy while the moved learners record completions of
    a course only the new version has: each moved enrollment counts every event."""
    t = base_time()
    a, b, c = make_course(), make_course(), make_course()
    v1 = make_published_package(items=[a, b])
    ids = make_learners(20)
    learning.bulk_enroll(actor=admin, package_id=v1.package_id, learner_ids=ids)
    for learner_id in ids:
        learning.record_completion(
            actor=admin, learner_id=learner_id, course_id=a.pk, occurred_at=t
        )
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    add_items(version=draft, items=[c])

    def publish() -> Any:
        return packaging.publish_version(
            actor=admin, version_id=draft.pk, inflight_policy="move_in_progress"
        )

    def complete(learner_id: int) -> Callable[[], Any]:
        return lambda: learning.record_completion(
            actor=admin, learner_id=learner_id, course_id=c.pk, occurred_at=t + HOUR
        )

    results = at_once([publish, *(complete(i) for i in ids)])

    assert _errors(results) == []
    assert Enrollment.objects.filter(version=draft).count() == 20
    assert drift() == []
    assert Enrollment.objects.filter(progress_done=2, progress_needed=3).count() == 20


def test_withdrawals_racing_a_publish_that_moves_them(admin: Any) -> None:
    """Withdrawing learners while a publish moves them: each enrollment ends withdrawn,
    on the version its move history says, with the status the engine gives."""
    t = base_time()
    a, b = make_course(), make_course()
    v1 = make_published_package(items=[a, b])
    ids = make_learners(20)
    learning.bulk_enroll(actor=admin, package_id=v1.package_id, learner_ids=ids)
    for learner_id in ids:
        learning.record_completion(
            actor=admin, learner_id=learner_id, course_id=a.pk, occurred_at=t
        )
    enrollments = list(Enrollment.objects.order_by("pk"))
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    add_items(version=draft, items=[make_course()])

    def publish() -> Any:
        return packaging.publish_version(
            actor=admin, version_id=draft.pk, inflight_policy="move_in_progress"
        )

    def withdraw(enrollment_id: int) -> Callable[[], Any]:
        return lambda: learning.withdraw(actor=admin, enrollment_id=enrollment_id)

    results = at_once([publish, *(withdraw(e.pk) for e in enrollments)])

    assert _errors(results) == []
    for enrollment in enrollments:
        enrollment.refresh_from_db()
        assert enrollment.withdrawn_at is not None
        moves = list(enrollment.moves.all())
        assert enrollment.version_id == (moves[-1].to_version_id if moves else v1.pk)
    assert drift() == []


def test_checking_while_completions_are_recorded_reports_no_drift(admin: Any) -> None:
    """A check running while completions commit sees each enrollment either before or
    after each of them, never half of one: it reports no drift."""
    t = base_time()
    course = make_course()
    version = make_published_package(items=[course])
    ids = make_learners(30)
    learning.bulk_enroll(actor=admin, package_id=version.package_id, learner_ids=ids)

    def check() -> list[int]:
        drifted: list[int] = []
        for _ in range(5):
            drifted += learning.rebuild_statuses(
                actor=admin, fix=False, learners_per_batch=7
            ).drifted
        return drifted

    def complete(learner_id: int) -> Callable[[], Any]:
        return lambda: learning.record_completion(
            actor=admin, learner_id=learner_id, course_id=course.pk, occurred_at=t
        )

    results = at_once([check, check, *(complete(i) for i in ids)])

    assert _errors(results) == []
    assert results[:2] == [[], []]
    assert Enrollment.objects.filter(status="completed").count() == 30


def test_one_external_id_recorded_at_once_is_stored_once(admin: Any, learner: Any) -> None:
    """Ten deliveries of one external id at once (an integration retrying): one event;
    the same facts get the stored event back, different facts are refused."""
    t = base_time()
    course = make_course()
    version = make_published_package(items=[course])
    enrollment = backdate(
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id), t
    )
    someone_else = make_learners(1)[0]

    def same() -> Any:
        return record(learner, course, t, external_id="xapi-7")

    def different() -> Any:
        return learning.record_completion(
            actor=admin,
            learner_id=someone_else,
            course_id=course.pk,
            occurred_at=t,
            external_id="xapi-7",
        )

    results = at_once([same] * 7 + [different] * 3)

    stored_events = CompletionEvent.objects.filter(external_id="xapi-7")
    assert stored_events.count() == 1
    event = stored_events.get()
    outcomes = [
        "created"
        if getattr(r, "created", False)
        else type(r).__name__
        if isinstance(r, BaseException)
        else "repeat"
        for r in results
    ]
    if event.learner_id == learner.pk:
        assert sorted(outcomes) == sorted(
            ["created"] + ["repeat"] * 6 + ["IdempotencyConflict"] * 3
        )
        assert stored(enrollment) == ("completed", 1, 1, t)
    else:
        assert sorted(outcomes) == sorted(
            ["created"] + ["repeat"] * 2 + ["IdempotencyConflict"] * 7
        )
    assert AuditEvent.objects.filter(action="completion.recorded").count() == 1
