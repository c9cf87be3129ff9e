"""The reminder dry run over every enrollment (issue 14: <= 60 s over 1,000,000 without
sending), against the same due-soon and overdue counts in hand-written SQL.

The generated data has no addresses and no due dates, so the benchmark first gives
every learner an address and every open enrollment a due date (spread from five weeks
ago to four weeks ahead) inside a transaction it rolls back afterwards.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Mod
from django.utils import timezone

from coursepack.bench.measure import Row
from coursepack.learning.models import Enrollment
from coursepack.notifications import selectors

__all__ = ["reminder_rows"]

_BUCKETS = 10

_SQL = (
    "SELECT "
    "COUNT(*) FILTER (WHERE e.due_in_force > %s AND e.due_in_force <= %s), "
    "COUNT(*) FILTER (WHERE e.overdue_since <= %s) "
    "FROM learning_enrollment e "
    "JOIN auth_user u ON u.id = e.learner_id "
    "JOIN packaging_package p ON p.id = e.package_id "
    "WHERE e.withdrawn_at IS NULL AND e.superseded_at IS NULL AND e.status <> 'completed' "
    "AND u.is_active AND u.email <> '' AND p.status = 'active' "
    "AND NOT EXISTS (SELECT 1 FROM learning_exemption x LEFT JOIN "
    "learning_exemptionrevocation r ON r.exemption_id = x.id WHERE x.enrollment_id = e.id "
    "AND x.course_id IS NULL AND x.group_id IS NULL AND r.id IS NULL)"
)


def _prepare(now: Any) -> None:
    """Give learners addresses and open enrollments due dates (rolled back by the caller)."""
    get_user_model().objects.filter(email="").update(
        email=Concat(F("username"), Value("@bench.example"))
    )
    for bucket in range(_BUCKETS):
        due = now + timedelta(days=7 * bucket - 35, hours=1)
        rows = Enrollment.objects.annotate(b=Mod(F("id"), _BUCKETS)).filter(
            b=bucket, withdrawn_at__isnull=True
        )
        rows.update(due_in_force=due, overdue_since=due)
        rows.filter(status="completed").update(overdue_since=None)


def reminder_rows(runner: Any) -> list[Row]:
    """Time ``notifications.selectors.plan`` (the dry run) over every enrollment."""
    total = Enrollment.objects.count()
    samples = max(2, min(5, getattr(runner.plan, "counts", 3) // 20 or 2))
    with transaction.atomic():
        now = timezone.now()
        started = time.perf_counter()
        _prepare(now)
        prepared = time.perf_counter() - started

        def hand_written() -> tuple[int, int]:
            with connection.cursor() as cursor:
                cursor.execute(_SQL, [now, now + timedelta(days=30), now])
                row = cursor.fetchone()
            return int(row[0] or 0), int(row[1] or 0)

        plan = selectors.plan(now)
        expected = hand_written()
        got = (plan.by_kind["due_soon"], plan.by_kind["overdue"])
        if got != expected:
            raise RuntimeError(f"the dry run counted {got}, the SQL {expected}")
        times, floor = [], []
        for _ in range(samples):
            started = time.perf_counter()
            plan = selectors.plan(now)
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
            hand_written()
            floor.append(time.perf_counter() - started)
        transaction.set_rollback(True)
    op = Row.of(
        "reminder dry run, every enrollment",
        times,
        note=(
            f"notifications.selectors.plan over {total:,} enrollments: {plan.summary()} "
            f"({', '.join(f'{k} {n:,}' for k, n in plan.by_kind.items() if n)}); "
            f"setup {prepared:.1f} s, rolled back"
        ),
    )
    base = Row.of("due-soon and overdue counts in hand-written SQL", floor, floor=True)
    op.ratio = (op.median / base.median) if op.median and base.median else None
    # The target is for 1,000,000 enrollments; scaled linearly below that (at
    # least 1 s: a small run is dominated by the fixed cost of building its ~10 queries).
    budget = max(60.0 * total / 1_000_000, 1.0)
    op.target = f"<=60 s per 1M enrollments ({budget:.1f} s here)"
    op.passed = op.p99 is not None and op.p99 <= budget
    op.extra = {"plan": plan.as_dict()}
    return [op, base]
