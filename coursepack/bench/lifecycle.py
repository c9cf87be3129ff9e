"""Benchmark: compliance standing counts of one package against hand-written SQL, and
the transcript of a learner with three certification periods."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import connection
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.bench.measure import MS, Row, optional, paired, ratio, rolled_back, timed
from coursepack.bench.scales import HISTORY_PACKAGE
from coursepack.catalog.models import Course
from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

__all__ = ["lifecycle"]


def lifecycle(runner: Runner) -> list[Row]:
    """Standing counts of the history package (the large one) against the same
    aggregate in hand-written SQL, and the transcript of a learner with three
    certification periods."""
    standing_counts = optional("coursepack.learning.lifecycle_selectors", "standing_counts")
    if standing_counts is None:
        return [Row(operation="lifecycle", error="no lifecycle selectors")]
    package = runner.packages[HISTORY_PACKAGE]
    size = Enrollment.objects.filter(package=package).count()
    now = timezone.now()
    within = timedelta(days=30)
    # The bench's versions carry no validity, so only these standings can occur;
    # the SQL says them directly (the selector handles validity per version too).
    sql = (
        "SELECT "
        "COUNT(*) FILTER (WHERE status = 'completed' AND NOT ex), "
        "COUNT(*) FILTER (WHERE status <> 'completed' AND NOT ex AND period_number = 1 "
        "AND overdue_since < %s), "
        "COUNT(*) FILTER (WHERE ex), "
        "COUNT(*) FILTER (WHERE status = 'in_progress' AND NOT ex AND period_number = 1 "
        "AND (overdue_since IS NULL OR overdue_since >= %s)), "
        "COUNT(*) FILTER (WHERE status = 'not_started' AND NOT ex AND period_number = 1 "
        "AND (overdue_since IS NULL OR overdue_since >= %s)) "
        "FROM (SELECT status, period_number, overdue_since, id IN ("
        "SELECT x.enrollment_id FROM learning_exemption x LEFT JOIN "
        "learning_exemptionrevocation r ON r.exemption_id = x.id WHERE "
        "x.course_id IS NULL AND x.group_id IS NULL AND r.id IS NULL) AS ex "
        "FROM learning_enrollment WHERE package_id = %s AND withdrawn_at IS NULL "
        "AND superseded_at IS NULL) e"
    )

    def hand_written() -> tuple[int, ...]:
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, now, now, package.pk])
            row = cursor.fetchone()
        return tuple(int(n or 0) for n in row)

    def fn() -> tuple[int, ...]:
        c = standing_counts(package.pk, now=now, expiring_within_days=within.days)
        return (c["current"], c["overdue"], c["exempt"], c["in_progress"], c["not_started"])

    expected = hand_written()
    if fn() != expected:
        raise RuntimeError(f"the selector counted {fn()}, the SQL {expected}")
    times, floor = paired(fn, hand_written, samples=runner.plan.counts, warmup=runner.plan.warmup)
    op = Row.of(
        "standing counts, one package",
        times,
        note=f"learning.lifecycle_selectors.standing_counts, {size:,} enrollments",
    )
    base = Row.of("the same standing counts in hand-written SQL", floor, floor=True)
    op.ratio = ratio(op.median, base.median)
    op.target = "p99 <=50 ms, <=1.5x SQL"
    op.passed = op.p99 is not None and op.p99 <= 50 * MS and (op.ratio or 99) <= 1.5
    return [op, base, *_three_periods(runner)]


def _three_periods(runner: Runner) -> list[Row]:
    """Time the transcript of a learner with three certification periods (built
    through the services with the clock set back, then rolled back)."""
    transcript = optional("coursepack.learning.transcript", "transcript")
    if transcript is None:
        return []
    rows: list[Row] = []
    with rolled_back():
        real_now = timezone.now
        start = real_now() - timedelta(days=800)
        moment = [start]
        timezone.now = lambda: moment[0]
        try:
            course = Course.objects.order_by("pk").first()
            assert course is not None
            draft = packaging.create_package(actor=runner.admin, name="Bench: annual")
            packaging.add_item(actor=runner.admin, version_id=draft.pk, course_id=course.pk)
            packaging.set_version_lifecycle(
                actor=runner.admin,
                version_id=draft.pk,
                due_kind="after_enrolment",
                due_days=30,
                valid_days=365,
                window_days=60,
            )
            packaging.publish_version(actor=runner.admin, version_id=draft.pk)
            learner = accounts.create_user(actor=runner.admin, username="bench-annual")
            learning.enroll(actor=runner.admin, learner_id=learner.pk, package_id=draft.package_id)
            for offset in (10, 320, 700):
                moment[0] = start + timedelta(days=offset)
                learning.open_certification_periods(actor=None)
                learning.record_completion(
                    actor=runner.admin, learner_id=learner.pk, course_id=course.pk
                )
            moment[0] = start + timedelta(days=700)
            learning.open_certification_periods(actor=None)
        finally:
            timezone.now = real_now
        periods = Enrollment.objects.filter(learner=learner).count()
        as_of = real_now()
        times = []
        for index in range(runner.plan.transcripts + runner.plan.warmup):
            took = timed(functools.partial(transcript, learner.pk, as_of))
            if index >= runner.plan.warmup:
                times.append(took)
        op = Row.of(
            "transcript of a learner with three certification periods",
            times,
            note=f"learning.transcript.transcript, {periods} periods",
        )
        op.target, op.passed = "p99 <=20 ms", op.p99 is not None and op.p99 <= 20 * MS
        rows.append(op)
    return rows
