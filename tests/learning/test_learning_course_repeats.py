"""The learners who completed a course over a range of whole days, from the summary rows
(ADR 0040): each course's completions by day less the pairs of one learner's
consecutive completions both in the range. The pairs are kept by the event triggers
whatever order the completions are recorded in (late entries between two others, the
same moment twice, many in one statement) and whatever is voided; they equal a
from-scratch aggregate, and the reads equal the events' aggregate over every range."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from coursepack.learning import api as learning
from coursepack.learning import summaries
from coursepack.learning.models import CompletionEvent, CourseRepeatCount
from coursepack.reports import exact, paging
from coursepack.reports.scope import ReportFilters
from tests.factories import make_admin, make_course, make_learner

pytestmark = pytest.mark.django_db

DAY0 = date(2026, 1, 1)


def _at(day: int, hour: int = 9) -> datetime:
    return datetime.combine(DAY0 + timedelta(days=day), time(hour), tzinfo=UTC)


def _record(admin: Any, learner: Any, course: Any, day: int, kind: str = "completed") -> int:
    return learning.record_completion(
        actor=admin,
        learner_id=learner.pk,
        course_id=course.pk,
        kind=kind,
        occurred_at=_at(day),
        late_reason="From the paper register.",
    ).event.pk


def _raw(
    learner: Any, course: Any, kind: str, occurred_at: datetime, voids_id: int | None = None
) -> CompletionEvent:
    """An event row as a bulk import writes it, behind the services' back."""
    return CompletionEvent(
        learner=learner,
        course=course,
        kind=kind,
        occurred_at=occurred_at,
        recorded_at=datetime.now(UTC),
        source="import",
        voids_id=voids_id,
    )


def _pairs(course: Any) -> dict[tuple[str, str], int]:
    rows = CourseRepeatCount.objects.filter(course=course, n__gt=0)
    return {(str(r.previous_day), str(r.day)): r.n for r in rows}


def _day(n: int) -> str:
    return str(DAY0 + timedelta(days=n))


def _everything_agrees(courses: list[Any]) -> None:
    """No drift, and every range of whole days over the boundaries read from the
    summary rows equals the events' aggregate, for each course."""
    assert summaries.check().tables == {}
    ids = [c.pk for c in courses]
    bounds = [None, *(DAY0 + timedelta(days=d) for d in (0, 5, 10, 11, 15, 20, 21, 30, 31))]
    for first, stop in itertools.product(bounds, bounds):
        if first is not None and stop is not None and stop <= first:
            continue
        if first is None and stop is None:
            continue
        filters = ReportFilters(
            start=None if first is None else datetime.combine(first, time.min, tzinfo=UTC),
            end=None if stop is None else datetime.combine(stop, time.min, tzinfo=UTC),
        )
        got = paging.course_counts_in_range(filters, ids)
        want = exact.course_counts(filters, None)
        for course_id in ids:
            assert got.get(course_id, (0, 0, 0)) == want.get(course_id, (0, 0, 0)), (
                first,
                stop,
                course_id,
            )


def test_a_learners_completions_of_a_course_are_counted_once_over_any_range() -> None:
    admin = make_admin()
    ann, bob = make_learner(username="ann"), make_learner(username="bob")
    course, other = make_course(code="FS-1"), make_course(code="FS-2")

    # In order: two pairs, (10, 20) and (20, 30).
    for day in (10, 20, 30):
        _record(admin, ann, course, day)
    assert _pairs(course) == {(_day(10), _day(20)): 1, (_day(20), _day(30)): 1}
    _everything_agrees([course, other])

    # A late entry between two: (10, 20) splits into (10, 15) and (15, 20).
    _record(admin, ann, course, 15)
    assert _pairs(course) == {
        (_day(10), _day(15)): 1,
        (_day(15), _day(20)): 1,
        (_day(20), _day(30)): 1,
    }
    _everything_agrees([course, other])

    # Failed attempts and another learner's or course's completions make no pair with
    # hers; a second completion on the same day makes a pair within the day.
    _record(admin, ann, course, 12, "failed")
    _record(admin, bob, course, 15)
    _record(admin, ann, other, 15)
    same_day = _record(admin, ann, course, 20, "passed")
    assert _pairs(course) == {
        (_day(10), _day(15)): 1,
        (_day(15), _day(20)): 1,
        (_day(20), _day(20)): 1,
        (_day(20), _day(30)): 1,
    }
    assert _pairs(other) == {}
    _everything_agrees([course, other])

    # Voiding one in the middle joins its neighbours; the first, the last: drops a pair.
    middle = CompletionEvent.objects.get(learner=ann, course=course, occurred_at=_at(15))
    learning.void_event(actor=admin, event_id=middle.pk, reason="Entered against the wrong day.")
    assert _pairs(course) == {
        (_day(10), _day(20)): 1,
        (_day(20), _day(20)): 1,
        (_day(20), _day(30)): 1,
    }
    _everything_agrees([course, other])
    learning.void_event(actor=admin, event_id=same_day, reason="Entered twice.")
    first = CompletionEvent.objects.get(learner=ann, course=course, occurred_at=_at(10))
    learning.void_event(actor=admin, event_id=first.pk, reason="Not hers.")
    assert _pairs(course) == {(_day(20), _day(30)): 1}
    _everything_agrees([course, other])


def test_completions_inserted_in_one_statement_make_the_pairs_of_their_order() -> None:
    """Many events in one INSERT, out of order of occurrence: on PostgreSQL the AFTER row
    triggers all run at the statement's end and see every row; each counts only those
    before it, as on SQLite."""
    admin = make_admin()
    ann = make_learner(username="ann")
    course = make_course(code="FS-1")
    _record(admin, ann, course, 20)
    CompletionEvent.objects.bulk_create(
        [
            _raw(ann, course, kind, _at(day, hour))
            for day, hour, kind in (
                (30, 9, "completed"),
                (10, 9, "passed"),
                (21, 9, "failed"),
                (15, 9, "completed"),
                (10, 9, "completed"),  # the same moment as the second: after it, by id
                (5, 9, "completed"),
            )
        ]
    )
    assert _pairs(course) == {
        (_day(5), _day(10)): 1,
        (_day(10), _day(10)): 1,
        (_day(10), _day(15)): 1,
        (_day(15), _day(20)): 1,
        (_day(20), _day(30)): 1,
    }
    _everything_agrees([course])
    summaries.rebuild()
    assert _pairs(course) == {
        (_day(5), _day(10)): 1,
        (_day(10), _day(10)): 1,
        (_day(10), _day(15)): 1,
        (_day(15), _day(20)): 1,
        (_day(20), _day(30)): 1,
    }


def test_a_void_in_the_same_statement_as_a_completion_is_counted_after_it() -> None:
    """One INSERT of a late completion and, after it, the void of its neighbour (a bulk
    import's corrections): the completion is counted with its neighbour still standing,
    then the void takes the neighbour out, as if they were two statements."""
    admin = make_admin()
    ann = make_learner(username="ann")
    course = make_course(code="FS-1")
    ten = _record(admin, ann, course, 10)
    _record(admin, ann, course, 20)
    CompletionEvent.objects.bulk_create(
        [
            _raw(ann, course, "completed", _at(15)),
            _raw(ann, course, "void", datetime.now(UTC), voids_id=ten),
        ]
    )
    assert _pairs(course) == {(_day(15), _day(20)): 1}
    _everything_agrees([course])


def test_a_void_of_a_void_written_behind_the_services_back_changes_no_count() -> None:
    """The services refuse to void a void; a raw write of one counts nothing on either
    engine (the from-scratch aggregate does not count it either)."""
    admin = make_admin()
    ann = make_learner(username="ann")
    course = make_course(code="FS-1")
    _record(admin, ann, course, 10)
    second = _record(admin, ann, course, 20)
    learning.void_event(actor=admin, event_id=second, reason="Entered twice.")
    void = CompletionEvent.objects.get(voids_id=second)
    CompletionEvent.objects.bulk_create(
        [_raw(ann, course, "void", datetime.now(UTC), voids_id=void.pk)]
    )
    _everything_agrees([course])
