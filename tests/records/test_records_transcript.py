"""Point-in-time transcripts, by example: version moves, withdrawals, later voids,
back-dated events, moments before enrolment, and independence from the status cache.

Each test runs on a hand-moved clock (``frozen_clock``) so that enrolments, moves,
voids and withdrawals happen days apart, as they do in real life.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from records_helpers import frozen_clock

from coursepack.errors import InvalidInput
from coursepack.learning import api as learning
from coursepack.learning.errors import LearnerNotFound
from coursepack.learning.models import Enrollment
from coursepack.learning.transcript import TranscriptStatus, transcript
from coursepack.packaging import api as packaging
from tests.factories import add_items, make_course, make_published_package

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def _record(learner: Any, course: Any, at: datetime, kind: str = "completed", **kw: Any) -> int:
    result = learning.record_completion(
        actor=None, learner_id=learner.pk, course_id=course.pk, kind=kind, occurred_at=at, **kw
    )
    return result.event.pk


def test_moved_enrollment_shows_the_version_it_was_on_at_each_moment(
    admin: Any, learner: Any
) -> None:
    """Before a move the transcript shows the old version and its verdict; from the
    moment of the move, the new version, its verdict and the move itself."""
    with frozen_clock() as clock:
        # Given a learner on v1 (one course), who completed it
        a, b = make_course(name="Phishing Awareness"), make_course(name="Password Security")
        v1 = make_published_package(actor=admin, items=[a])
        enrolled_at = clock.advance(DAY)
        enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=v1.package_id)
        clock.advance(DAY)
        _record(learner, a, clock.now() - SECOND)
        # And a second learner, enrolled but not started
        draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
        add_items(actor=admin, version=draft, items=[b])
        other = learning.enroll(
            actor=admin,
            learner_id=type(learner).objects.create_user(username="other").pk,
            package_id=v1.package_id,
        )
        # When v2 adds a second course and moves everyone not yet complete
        moved_at = clock.advance(DAY)
        packaging.publish_version(
            actor=admin, version_id=draft.pk, inflight_policy="move_in_progress"
        )
        later = clock.advance(DAY)

    # Then the complete learner stayed on v1 throughout
    before, after = transcript(learner.pk, moved_at - SECOND), transcript(learner.pk, later)
    assert [(e.version_number, e.status) for e in before.enrollments] == [(1, "completed")]
    assert [(e.version_number, e.status) for e in after.enrollments] == [(1, "completed")]
    assert after.enrollments[0].enrolled_at == enrolled_at
    assert after.enrollments[0].enrollment_id == enrollment.pk
    # And the other learner was on v1 until the publish and on v2 from then on
    just_before = transcript(other.learner_id, moved_at - timedelta(microseconds=1))
    (row,) = just_before.enrollments
    assert (row.version_id, row.version_number, row.moves) == (v1.pk, 1, ())
    assert (row.progress_done, row.progress_needed) == (0, 1)
    (row,) = transcript(other.learner_id, moved_at).enrollments
    assert (row.version_id, row.version_number) == (draft.pk, 2)
    assert (row.progress_done, row.progress_needed) == (0, 2)
    assert [
        (m.from_version_number, m.to_version_number, m.moved_at, m.policy) for m in row.moves
    ] == [(1, 2, moved_at, "move_in_progress")]
    assert row.why_not_complete == ("Complete Phishing Awareness.", "Complete Password Security.")


def test_withdrawn_enrollment_is_frozen_at_its_withdrawal(admin: Any, learner: Any) -> None:
    """Up to the withdrawal the enrollment shows its live status; from then on it says
    withdrawn, with its progress as at the withdrawal, whatever the learner did after."""
    with frozen_clock() as clock:
        # Given a learner enrolled in two required courses, one done
        a, b = make_course(), make_course()
        version = make_published_package(actor=admin, items=[a, b])
        clock.advance(DAY)
        enrollment = learning.enroll(
            actor=admin, learner_id=learner.pk, package_id=version.package_id
        )
        done_a = clock.advance(DAY)
        _record(learner, a, done_a)
        # When the enrollment is withdrawn, and the learner completes the other course later
        withdrawn_at = clock.advance(DAY)
        learning.withdraw(actor=admin, enrollment_id=enrollment.pk, notes="Left the team.")
        done_b = clock.advance(DAY)
        _record(learner, b, done_b)

    # Then before the withdrawal it is in progress, not withdrawn
    (row,) = transcript(learner.pk, withdrawn_at - SECOND).enrollments
    assert (row.status, row.withdrawn_at, row.progress_done) == ("in_progress", None, 1)
    # And from the withdrawal on it is withdrawn, frozen at 1 of 2, never completed
    for t in (withdrawn_at, done_b, done_b + 30 * DAY):
        (row,) = transcript(learner.pk, t).enrollments
        assert row.status == TranscriptStatus.WITHDRAWN
        assert row.progress_status == "in_progress"
        assert (row.withdrawn_at, row.progress_done, row.progress_needed) == (withdrawn_at, 1, 2)
        assert row.completed_at is None
    # But the later event is on the learner's record all the same
    assert [e.occurred_at for e in transcript(learner.pk, done_b).events] == [done_a, done_b]


def test_event_voided_later_counted_as_known_then_and_says_when_and_why_it_was_voided(
    admin: Any, learner: Any
) -> None:
    """As known before the void, the enrollment was complete and the event counted,
    marked as voided later with the void's date and reason; as known now the void
    corrects the record: the event never counted, at any moment."""
    with frozen_clock() as clock:
        # Given a completed enrollment
        course = make_course(name="Fire Safety")
        version = make_published_package(actor=admin, items=[course])
        clock.advance(DAY)
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
        done = clock.advance(DAY) - timedelta(hours=3)
        event_id = _record(learner, course, done, source="import", evidence_note="LMS export")
        # When the event is voided two days later
        voided_at = clock.advance(2 * DAY)
        void = learning.void_event(actor=admin, event_id=event_id, reason="Wrong learner.")

    # Then as of the day before the void, as known then: completed, the event counted,
    # voided later
    then = transcript(learner.pk, voided_at - DAY, known_at=voided_at - DAY)
    (row,) = then.enrollments
    assert (row.status, row.completed_at) == ("completed", done)
    (event,) = then.events
    assert (event.event_id, event.source, event.evidence_note) == (event_id, "import", "LMS export")
    assert (event.counted, event.voided, event.voided_later) == (True, False, True)
    assert event.void is not None
    assert (event.void.voided_at, event.void.reason) == (voided_at, "Wrong learner.")
    assert event.void.recorded_by == admin.username
    # And as of the same day as known now, the event never counted: not started
    known_now = transcript(learner.pk, voided_at - DAY)
    assert [(r.status, r.completed_at) for r in known_now.enrollments] == [("not_started", None)]
    assert [(e.counted, e.voided) for e in known_now.events] == [(False, True)]
    # And as of the void: not started, the event voided, the void listed as an event
    now = transcript(learner.pk, voided_at)
    (row,) = now.enrollments
    assert (row.status, row.completed_at) == ("not_started", None)
    assert [(e.event_id, e.kind, e.counted, e.voided) for e in now.events] == [
        (event_id, "completed", False, True),
        (void.event.pk, "void", False, False),
    ]
    assert [e.event_id for e in now.completions] == [event_id]


def test_before_enrolment_there_is_no_enrollment_but_earlier_events_are_listed(
    admin: Any, learner: Any
) -> None:
    """As of a moment before the enrolment the transcript has no enrollment; events that
    occurred by then are listed (they count for the enrollment once it exists)."""
    with frozen_clock() as clock:
        course = make_course()
        version = make_published_package(actor=admin, items=[course])
        earlier = clock.advance(DAY)
        _record(learner, course, earlier)
        enrolled_at = clock.advance(DAY)
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)

    before = transcript(learner.pk, enrolled_at - SECOND)
    assert before.enrollments == ()
    assert [e.occurred_at for e in before.events] == [earlier]
    assert transcript(learner.pk, earlier - SECOND).events == ()
    (row,) = transcript(learner.pk, enrolled_at).enrollments
    # Complete from the enrolment, never before it: satisfied by earlier training
    assert (row.status, row.completed_at, row.satisfied_at) == ("completed", enrolled_at, earlier)
    assert row.satisfied_by_earlier_training


def test_back_dated_event_counts_from_when_it_occurred_and_says_it_was_recorded_later(
    admin: Any, learner: Any
) -> None:
    """An import recorded today for a course done last week counts as of last week (the
    transcript answers what was true then) and is marked as recorded later."""
    with frozen_clock() as clock:
        course = make_course()
        version = make_published_package(actor=admin, items=[course])
        clock.advance(DAY)
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
        recorded = clock.advance(10 * DAY)
        occurred = recorded - 7 * DAY
        _record(learner, course, occurred, source="import")

    then = transcript(learner.pk, occurred + DAY)
    assert then.enrollments[0].status == "completed"
    (event,) = then.events
    assert (event.recorded_at, event.recorded_later, event.counted) == (recorded, True, True)
    assert transcript(learner.pk, recorded).events[0].recorded_later is False


def test_transcript_never_reads_the_stored_status_cache(admin: Any, learner: Any) -> None:
    """Corrupting the cached status, progress and completed_at changes nothing."""
    course = make_course()
    version = make_published_package(actor=admin, items=[course])
    learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    Enrollment.objects.filter(learner=learner).update(
        status="completed", progress_done=9, progress_needed=9
    )
    (row,) = transcript(learner.pk, datetime.now().astimezone() + DAY).enrollments
    assert (row.status, row.progress_done, row.progress_needed) == ("not_started", 0, 1)


def test_re_enrolment_after_withdrawal_lists_both_enrollments(admin: Any, learner: Any) -> None:
    """A learner withdrawn and enrolled again has two enrollments: the first withdrawn,
    the second live, each with its own dates."""
    with frozen_clock() as clock:
        version = make_published_package(actor=admin)
        clock.advance(DAY)
        first = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
        clock.advance(DAY)
        learning.withdraw(actor=admin, enrollment_id=first.pk)
        again = clock.advance(DAY)
        second = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
        end = clock.advance(DAY)

    rows = transcript(learner.pk, end).enrollments
    assert [(r.enrollment_id, r.status) for r in rows] == [
        (first.pk, "withdrawn"),
        (second.pk, "not_started"),
    ]
    assert [r.enrollment_id for r in transcript(learner.pk, again - SECOND).enrollments] == [
        first.pk
    ]


def test_unknown_learner_and_naive_moment_are_refused(learner: Any) -> None:
    """A learner that does not exist is not found; a moment without a time zone is refused."""
    with pytest.raises(LearnerNotFound):
        transcript(learner.pk + 1000, datetime.now().astimezone())
    with pytest.raises(InvalidInput):
        transcript(learner.pk, datetime(2024, 3, 1, 12, 0))
