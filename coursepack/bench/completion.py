"""Benchmark: record one completion through the service, against a bare INSERT of the event.

The floor's event is on a course outside all of the learner's versions, so it
changes no stored status and the cache stays exact for the benchmarks after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.bench.measure import MS, Row, ratio, timed
from coursepack.catalog.models import Course
from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment
from coursepack.packaging import selectors as packaging_selectors

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

__all__ = ["completion"]


def completion(runner: Runner) -> list[Row]:
    plan = runner.plan
    picks = []
    for enrollment in runner.open_enrollments(plan.completions + plan.warmup):
        tree_courses = sorted(packaging_selectors.version_course_ids(enrollment.version_id))
        mine: set[int] = set()
        for version_id in Enrollment.objects.filter(learner_id=enrollment.learner_id).values_list(
            "version_id", flat=True
        ):
            mine |= packaging_selectors.version_course_ids(version_id)
        # The floor's event is on a course outside all of the learner's
        # versions, so it changes no stored status and the cache stays exact.
        outside = _course_outside(runner, mine)
        picks.append((enrollment.learner_id, runner.rng.choice(tree_courses), outside))
    sql = (
        "INSERT INTO learning_completionevent (learner_id, course_id, kind, occurred_at, "
        "recorded_at, recorded_by_id, source, external_id, evidence_note, late_reason, voids_id) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, %s, '', NULL) RETURNING id"
    )
    # The floor's events bypass the service, so they have no audit records: the log
    # declares them afterwards (verify_audit names them instead of failing on them).
    unrecorded: list[int] = []
    times: list[float] = []
    floor: list[float] = []
    changed = 0
    for index, (learner_id, course_id, outside) in enumerate(picks):

        def record(learner_id: int = learner_id, course_id: int = course_id) -> None:
            nonlocal changed
            result = learning.record_completion(
                actor=runner.admin,
                learner_id=learner_id,
                course_id=course_id,
                kind="completed",
                source="api",
            )
            changed += result.enrollments_changed

        def bare_insert(learner_id: int = learner_id, course_id: int = outside) -> None:
            now = timezone.now()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    sql,
                    [learner_id, course_id, "completed", now, now, runner.admin.pk, "api", ""],
                )
                unrecorded.append(cursor.fetchone()[0])

        took_op = timed(record)
        took_floor = timed(bare_insert)
        if index >= plan.warmup:
            times.append(took_op)
            floor.append(took_floor)
    with transaction.atomic():
        audit.declare_loaded_without_records(
            actor=runner.admin,
            ranges={"learning.completionevent": audit.id_ranges(unrecorded)},
            notes="The completion benchmark's floor: bare INSERTs of completion events, "
            "timed against learning.record_completion.",
            at=timezone.now(),
        )
    op = Row.of(
        "record one completion + update affected enrollments",
        times,
        note=f"{changed} status changes",
    )
    base = Row.of("bare INSERT of the event row, own transaction", floor, floor=True)
    op.ratio = ratio(op.median, base.median)
    targets = ["<=3x floor"]
    ok = op.ratio is not None and op.ratio <= 3
    if runner.sqlite:
        targets.insert(0, "p99 <=5 ms")
        ok = ok and op.p99 is not None and op.p99 <= 5 * MS
    op.target, op.passed = ", ".join(targets), ok
    return [op, base]


def _course_outside(runner: Runner, courses: set[int]) -> int:

    candidates = Course.objects.exclude(pk__in=list(courses)).values_list("pk", flat=True)
    found = candidates.order_by("?" if runner.sqlite else "pk").first()
    if found is None:
        raise RuntimeError("every course is in this learner's versions")
    return int(found)
