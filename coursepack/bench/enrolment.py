"""Benchmark: bulk enrolment of the large case's learners (each run rolled back)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model

from coursepack.bench.measure import Row, rolled_back
from coursepack.bench.scales import EMPTY_PACKAGE
from coursepack.learning import api as learning

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

__all__ = ["bulk_enroll"]


def bulk_enroll(runner: Runner) -> list[Row]:
    User = get_user_model()
    package = runner.packages[EMPTY_PACKAGE]
    learners = list(
        User.objects.filter(username__startswith="bench-learner-")
        .order_by("pk")
        .values_list("pk", flat=True)[: runner.scale.big]
    )
    times = []
    for _ in range(runner.plan.bulk_runs):
        with rolled_back():
            started = time.perf_counter()
            result = learning.bulk_enroll(
                actor=runner.admin, package_id=package.pk, learner_ids=learners
            )
            times.append(time.perf_counter() - started)
            if result.enrolled != len(learners):
                raise RuntimeError(f"enrolled {result.enrolled} of {len(learners)}")
    op = Row.of(
        f"bulk enrol {len(learners):,} learners",
        times,
        note="each run rolled back",
    )
    op.target = "<=10 s"
    op.passed = op.p99 is not None and op.p99 <= 10
    return [op]
