"""Benchmark: compliance standing counts of one package against hand-written SQL, and
the transcript of a learner with three certification periods."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.bench import standing
from coursepack.bench.measure import MS, Row, optional, rolled_back, timed
from coursepack.catalog.models import Course
from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

__all__ = ["lifecycle"]


def lifecycle(runner: Runner) -> list[Row]:
    """Standing counts of one package against the same counts in hand-written SQL
    (``coursepack.bench.standing``), and the transcript of a learner with three
    certification periods."""
    return [*standing.standing_rows(runner), *_three_periods(runner)]


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
