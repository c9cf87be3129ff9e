"""Benchmark: the point-in-time transcript of one learner, as known now and as known
at that moment (no floor: the target is absolute)."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from coursepack.bench.generate import DEFAULT_END
from coursepack.bench.measure import MS, Row, optional, timed
from coursepack.learning import selectors as learning_selectors
from coursepack.learning.models import Enrollment

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

__all__ = ["transcript"]


def transcript(runner: Runner) -> list[Row]:
    transcript = optional("coursepack.learning.transcript", "transcript")
    start = DEFAULT_END - timedelta(days=500)
    moments = [
        start + timedelta(seconds=runner.rng.randint(0, 530 * 86400))
        for _ in range(runner.plan.transcripts + runner.plan.warmup)
    ]
    learners = [e.learner_id for e in runner.open_enrollments(len(moments))]
    if transcript is not None:
        fn = transcript
        note = "learning.transcript.transcript"
    else:

        def fn(learner_id: int, as_of: datetime) -> list[Any]:
            return [
                learning_selectors.enrollment_progress(pk, as_of=as_of)
                for pk in Enrollment.objects.filter(
                    learner_id=learner_id, enrolled_at__lte=as_of
                ).values_list("pk", flat=True)
            ]

        note = "enrollment_progress per enrollment (no transcript module)"
    times = []
    for index, (learner_id, as_of) in enumerate(zip(learners, moments, strict=False)):
        took = timed(functools.partial(fn, learner_id, as_of))
        if index >= runner.plan.warmup:
            times.append(took)
    op = Row.of("point-in-time transcript of one learner", times, note=note)
    op.target, op.passed = "p99 <=20 ms", op.p99 is not None and op.p99 <= 20 * MS
    if transcript is None:
        return [op]
    # The same learners and moments, as known at the moment itself (what the
    # record showed then): two timelines evaluated, and the changes since listed.
    known_times = []
    for index, (learner_id, as_of) in enumerate(zip(learners, moments, strict=False)):
        took = timed(functools.partial(transcript, learner_id, as_of, as_of))
        if index >= runner.plan.warmup:
            known_times.append(took)
    known = Row.of(
        "point-in-time transcript as known at that moment (known_at = as_of)",
        known_times,
        note="learning.transcript.transcript, compared with as known now",
    )
    known.target = "p99 <=20 ms"
    known.passed = known.p99 is not None and known.p99 <= 20 * MS
    return [op, known]
