"""What a report on a timeline reads: one package's report works out its enrollments
from the events that can count for them, on all its versions' courses and the courses
equivalent to those, never a learner's other events (most of what a learner has); and
a learner's events are found through the (learner, course) index alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coursepack.learning import api as learning
from coursepack.learning.models import CompletionEvent
from coursepack.learning.transcript import timeline_answers, transcript
from coursepack.packaging import selectors as packaging_selectors
from coursepack.reports import selectors
from coursepack.reports.scope import ReportFilters, answers_kept
from tests.factories import (
    make_admin,
    make_course,
    make_learner,
    make_published_package,
    publish_new_version,
)

pytestmark = pytest.mark.django_db


def _event_reads(run: Callable[[], Any]) -> tuple[Any, list[set[int]]]:
    """Run ``run``; return its result and, for each read of the events it made, the
    courses of the rows that read fetched (the statement run again as it was)."""
    statements: list[tuple[str, Any]] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "learning_completionevent" in sql and sql.lstrip().upper().startswith("SELECT"):
            statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        result = run()
    courses = []
    for sql, params in statements:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            names = [column[0] for column in cursor.description]
            at = names.index("course_id")
            courses.append({row[at] for row in cursor.fetchall()})
    return result, courses


def test_a_packages_timeline_reads_its_courses_events_and_the_equivalent_ones_only() -> None:
    # Given a package on course A, then on A and D, another on B and C, and B counting
    # for A
    admin = make_admin()
    a, b, c, d = (make_course(actor=admin) for _ in range(4))
    first = publish_new_version(
        actor=admin, from_version=make_published_package(actor=admin, items=[a]), add=[d]
    )
    second = make_published_package(actor=admin, items=[b, c])
    learner = make_learner()
    for version in (first, second):
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    learning.create_equivalence(
        actor=admin, source_course_id=b.pk, target_course_id=a.pk, retroactive=True
    )
    # ... and the learner completed B, C and D, and a completion of C was voided
    before = timezone.now() - timedelta(hours=2)
    for course, at in ((b, before), (d, before), (c, before), (c, before - timedelta(hours=1))):
        voided = learning.record_completion(
            actor=admin,
            learner_id=learner.pk,
            course_id=course.pk,
            kind="completed",
            occurred_at=at,
        )
    learning.void_event(actor=admin, event_id=voided.event.pk, reason="Wrong learner.")
    as_of = timezone.now() + timedelta(minutes=1)
    known_at = timezone.now()

    # When the first package's report works its enrollment out on a timeline
    answers, reads = _event_reads(
        lambda: list(timeline_answers(as_of=as_of, known_at=known_at, package_id=first.package_id))
    )

    # Then it is the transcript's row: completed, through the equivalence
    expected = [
        e
        for e in transcript(learner.pk, as_of, known_at=known_at).enrollments
        if e.package_id == first.package_id
    ]

    def shown(entry: Any) -> tuple[Any, ...]:
        return (
            entry.version_id,
            entry.enrolled_at,
            entry.withdrawn_at,
            entry.progress_status,
            entry.completed_at,
        )

    assert [tuple(answer) for _, answer in answers] == [shown(e) for e in expected]
    assert expected[0].status == "completed"
    assert expected[0].lifecycle.equivalences_used
    # ... read from the events on its versions' courses and B: none of C's, nor the void
    # of one
    assert reads == [{b.pk, d.pk}]
    # ... where every package's report reads them all
    _, every = _event_reads(
        lambda: list(timeline_answers(as_of=as_of, known_at=known_at, package_id=None))
    )
    assert every == [{b.pk, c.pk, d.pk}]
    assert CompletionEvent.objects.filter(learner=learner, course=c).count() == 3


def test_a_learners_events_are_found_by_the_learner_course_index_alone() -> None:
    """The foreign key's own index on (learner) is gone (migration 0014): it is a prefix
    of (learner, course), and PostgreSQL chose it to read every event of a learner."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(
            cursor, CompletionEvent._meta.db_table
        )
    indexes = [c["columns"] for c in constraints.values() if c["index"] and not c["unique"]]
    assert ["learner_id", "course_id"] in indexes
    assert ["learner_id"] not in indexes


def test_a_versions_tree_is_read_once_per_timeline_before_it_is_cached() -> None:
    """Inside a transaction (an export reads at one moment) the tree cache learns a
    version only once it commits: a timeline reads each version's tree once, not once
    per enrollment (a million reads for a whole organisation's export)."""
    admin = make_admin()
    version = make_published_package(actor=admin, items=[make_course(actor=admin)])
    for _ in range(5):
        learning.enroll(actor=admin, learner_id=make_learner().pk, package_id=version.package_id)
    packaging_selectors.clear_caches()

    with CaptureQueriesContext(connection) as queries:
        answers = list(
            timeline_answers(as_of=timezone.now(), known_at=timezone.now(), package_id=None)
        )

    assert [answer.version_id for _, answer in answers] == [version.pk] * 5
    trees = [q for q in queries.captured_queries if "packaging_packageversionitem" in q["sql"]]
    assert len(trees) == 1


def test_a_packages_course_table_on_a_timeline_counts_the_events_its_answers_read() -> None:
    # Given a package on courses A and B, and four learners enrolled in it
    admin = make_admin()
    a, b, other = (make_course(actor=admin) for _ in range(3))
    version = make_published_package(actor=admin, items=[a, b])
    package_id = version.package_id
    make_published_package(actor=admin, items=[other])
    l1, l2, l3, l4 = (make_learner() for _ in range(4))
    enrolled = {
        learner.pk: learning.enroll(actor=admin, learner_id=learner.pk, package_id=package_id)
        for learner in (l1, l2, l3, l4)
    }
    hours_ago = timezone.now() - timedelta(hours=3)

    def record(learner: Any, course: Any, kind: str, hours: float = 0) -> Any:
        return learning.record_completion(
            actor=admin,
            learner_id=learner.pk,
            course_id=course.pk,
            kind=kind,
            occurred_at=hours_ago + timedelta(hours=hours),
        ).event

    # ... L1 completed A and failed B, L2 failed A then passed it, L3 completed B, and
    # L1 also completed a course of no version of the package
    voided = record(l1, a, "completed")
    record(l1, b, "failed")
    record(l2, a, "failed")
    record(l2, a, "passed", hours=1)
    record(l3, b, "completed")
    record(l1, other, "completed")
    known_before = timezone.now()
    # ... then L1's completion of A was voided, L3 withdrew, and L4's completion of A two
    # hours ago was recorded
    learning.void_event(actor=admin, event_id=voided.pk, reason="Wrong learner.")
    learning.withdraw(actor=admin, enrollment_id=enrolled[l3.pk].pk)
    record(l4, a, "completed", hours=1)
    as_of = timezone.now() + timedelta(minutes=1)

    def table(filters: ReportFilters) -> dict[int, tuple[int, int, int]]:
        rows = selectors.course_page(filters, offset=0, limit=10).rows
        return {
            r.course_id: (r.learners_completed, r.failed_attempts, r.events_voided) for r in rows
        }

    expected = {
        # As known now: A completed by L2 and L4, L2's failure, L1's voided completion;
        # B: L1's failure (L3 has withdrawn).
        timezone.now(): {a.pk: (2, 1, 1), b.pk: (0, 1, 0)},
        # As known before: L1's completion stands, L3 is enrolled, L4's is not known.
        known_before: {a.pk: (2, 1, 0), b.pk: (1, 1, 0)},
    }
    for known_at, counts in expected.items():
        for start, end in ((None, None), (hours_ago + timedelta(minutes=30), None)):
            filters = ReportFilters(
                package_id=package_id, as_of=as_of, known_at=known_at, start=start, end=end
            )
            read_again = table(filters)
            # When the page works the answers out first, then shows the course table
            with answers_kept():
                selectors.package_report_page(filters, offset=0, limit=10)
                from_batches, reads = _event_reads(lambda f=filters: table(f))
            # Then the table counts the events the answers read: no read of its own
            assert reads == []
            assert from_batches == read_again
            if start is None:
                assert from_batches == counts
            else:
                # From half an hour in: L2's pass and L4's completion (one hour in) alone
                completed = 1 if known_at == known_before else 2
                assert from_batches == {a.pk: (completed, 0, 0), b.pk: (0, 0, 0)}
