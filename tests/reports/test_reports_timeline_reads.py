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
