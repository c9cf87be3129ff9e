"""The standing counts of one package (issue 13: 100,000 enrollments, p99 <= 50 ms and
<= 1.5x hand-written SQL), against the same counts in hand-written SQL.

Two packages are timed:

* the history package as generated: no due dates, no validity, so every period is
  current, in progress or not started, and the summary rows decide every one;
* a package with due dates, a validity and whole-enrollment waivers, built inside a
  transaction rolled back afterwards: one period for each open period of the history
  package (same learners, statuses and enrolment times), each not complete one due on
  a day spread over a year around now, each complete one expiring on a day spread from
  90 days ago to a year ahead, and one in 200 exempt from the whole package (a third
  of those waivers with an end ahead). Hundreds of periods then fall on each day the
  standings compare with (now, now + 30 days, the window, the grace), which the
  summary rows cannot decide and the selector reads one by one.

The floor is one aggregate in hand-written SQL over every open period of the package
(its status, period number, due-from and expiry moments, its previous period's expiry
and whether a whole-enrollment waiver is in force): the verdicts of
``standing_terms.standing_q`` written out by hand. It does not recount periods
whose cached standing counts a waiver that has since lapsed (the selector asks the
engine for those); the generated data has none.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from coursepack.bench.measure import Row
from coursepack.bench.scales import HISTORY_PACKAGE
from coursepack.learning import lifecycle_selectors, summaries
from coursepack.learning.models import Enrollment, Exemption
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors as packaging_selectors

__all__ = ["standing_rows"]

MS = 0.001
_NAMES = (
    "current",
    "due_for_recertification",
    "expiring",
    "overdue",
    "expired",
    "exempt",
    "in_progress",
    "not_started",
)
# The dated package's version: due 30 days after enrolment, valid a year, the window
# opens 60 days before expiry, 30 days of grace.
_WINDOW, _GRACE, _VALID = 60, 30, 365

# Every open period of a package, with its previous period's expiry and whether a
# whole-enrollment waiver is in force (%(now)s), then the eight counts.
_PERIODS = (
    "SELECT e.status, e.period_number > 1 AS later, e.overdue_since, e.expires_at, "
    "p.expires_at AS previous_expires, e.id IN (SELECT x.enrollment_id FROM learning_exemption x "
    "LEFT JOIN learning_exemptionrevocation r ON r.exemption_id = x.id WHERE x.course_id IS NULL "
    "AND x.group_id IS NULL AND r.id IS NULL AND (x.ends_at IS NULL OR x.ends_at > %(now)s)) AS ex "
    "FROM learning_enrollment e LEFT JOIN learning_enrollment p ON p.id = e.previous_period_id "
    "WHERE e.package_id = %(package)s AND e.withdrawn_at IS NULL AND e.superseded_at IS NULL"
)
# No version of the package has a validity: only the first-period standings occur.
_UNDATED = (
    "SELECT "
    "COUNT(*) FILTER (WHERE status = 'completed' AND NOT ex), 0, 0, "
    "COUNT(*) FILTER (WHERE status <> 'completed' AND NOT ex AND NOT later "
    "AND overdue_since < %(now)s), 0, "
    "COUNT(*) FILTER (WHERE ex), "
    "COUNT(*) FILTER (WHERE status = 'in_progress' AND NOT ex AND NOT later "
    "AND (overdue_since IS NULL OR overdue_since >= %(now)s)), "
    "COUNT(*) FILTER (WHERE status = 'not_started' AND NOT ex AND NOT later "
    "AND (overdue_since IS NULL OR overdue_since >= %(now)s)) "
    f"FROM ({_PERIODS}) s"
)
# One version with a validity (window, grace), the package's only released one.
_DATED = (
    "SELECT "
    "COUNT(*) FILTER (WHERE NOT ex AND status = 'completed' "
    "AND (expires_at IS NULL OR expires_at > %(window)s)), "
    "COUNT(*) FILTER (WHERE NOT ex AND ((status = 'completed' AND expires_at > %(now)s "
    "AND expires_at <= %(window)s) OR (status <> 'completed' AND later "
    "AND previous_expires > %(now)s))), "
    "COUNT(*) FILTER (WHERE NOT ex AND status = 'completed' AND expires_at > %(now)s "
    "AND expires_at <= %(within)s), "
    "COUNT(*) FILTER (WHERE NOT ex AND ((status = 'completed' AND expires_at <= %(now)s "
    "AND expires_at > %(grace)s) OR (status <> 'completed' AND ((later "
    "AND previous_expires <= %(now)s AND previous_expires > %(grace)s) "
    "OR (NOT later AND overdue_since < %(now)s))))), "
    "COUNT(*) FILTER (WHERE NOT ex AND ((status = 'completed' AND expires_at <= %(grace)s) "
    "OR (status <> 'completed' AND later AND previous_expires <= %(grace)s))), "
    "COUNT(*) FILTER (WHERE ex), "
    "COUNT(*) FILTER (WHERE NOT ex AND status = 'in_progress' AND NOT later "
    "AND (overdue_since IS NULL OR overdue_since >= %(now)s)), "
    "COUNT(*) FILTER (WHERE NOT ex AND status = 'not_started' AND NOT later "
    "AND (overdue_since IS NULL OR overdue_since >= %(now)s)) "
    f"FROM ({_PERIODS}) s"
)


def _floor(sql: str, package_id: int, now: datetime, within: int) -> Callable[[], dict[str, int]]:
    days = timedelta(days=1)
    moment = connection.ops.adapt_datetimefield_value
    params = {
        "now": moment(now),
        "package": package_id,
        "window": moment(now + _WINDOW * days),
        "grace": moment(now - _GRACE * days),
        "within": moment(now + within * days),
    }

    def hand_written() -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return dict(zip(_NAMES, (int(n or 0) for n in row), strict=True))

    return hand_written


def _time(
    runner: Any, label: str, package_id: int, sql: str, note: str, now: datetime
) -> list[Row]:
    within = 30
    hand_written = _floor(sql, package_id, now, within)

    def fn() -> dict[str, int]:
        return lifecycle_selectors.standing_counts(package_id, now=now, expiring_within_days=within)

    expected, got = hand_written(), fn()
    if got != expected:
        raise RuntimeError(f"the selector counted {got}, the SQL {expected}")
    times, floor = [], []
    for index in range(runner.plan.counts + runner.plan.warmup):
        started = time.perf_counter()
        fn()
        took_op = time.perf_counter() - started
        started = time.perf_counter()
        hand_written()
        took_floor = time.perf_counter() - started
        if index >= runner.plan.warmup:
            times.append(took_op)
            floor.append(took_floor)
    shown = ", ".join(f"{k} {n:,}" for k, n in got.items() if n)
    op = Row.of(label, times, note=f"{note}: {shown}")
    base = Row.of(f"{label}: the same counts in hand-written SQL", floor, floor=True)
    op.ratio = op.median / base.median if op.median and base.median else None
    op.target = "p99 <=50 ms, <=1.5x SQL"
    op.passed = op.p99 is not None and op.p99 <= 50 * MS and (op.ratio or 99) <= 1.5
    return [op, base]


def _dated_package(runner: Any, source_id: int, now: datetime) -> tuple[int, int, float]:
    """Build the dated package (the caller rolls it back); return its id, its periods
    and the seconds the setup took."""
    started = time.perf_counter()
    rng = random.Random(runner.seed)
    source = runner.packages[HISTORY_PACKAGE]
    released = source.versions.exclude(status="draft").order_by("-version_number").first()
    course_ids = (
        sorted(packaging_selectors.version_course_ids(released.pk)) if released is not None else []
    )
    draft = packaging.create_package(actor=runner.admin, name="Bench: dated standing")
    for course_id in course_ids[:3]:
        packaging.add_item(actor=runner.admin, version_id=draft.pk, course_id=course_id)
    packaging.set_version_lifecycle(
        actor=runner.admin,
        version_id=draft.pk,
        due_kind="after_enrolment",
        due_days=30,
        valid_days=_VALID,
        window_days=_WINDOW,
        grace_days=_GRACE,
    )
    packaging.publish_version(actor=runner.admin, version_id=draft.pk)
    day = 86400
    periods = []
    for learner_id, enrolled_at, status, completed_at in (
        Enrollment.objects.filter(
            package_id=source_id, withdrawn_at__isnull=True, superseded_at__isnull=True
        )
        .order_by("pk")
        .values_list("learner_id", "enrolled_at", "status", "completed_at")
    ):
        e = Enrollment(
            learner_id=learner_id,
            package_id=draft.package_id,
            version_id=draft.pk,
            enrolled_at=enrolled_at,
            status=status,
            completed_at=completed_at,
        )
        if status == "completed":
            e.expires_at = now + timedelta(seconds=rng.randint(-90 * day, _VALID * day))
        else:
            due = now + timedelta(seconds=rng.randint(-182 * day, 182 * day))
            e.due_at = e.due_in_force = due
            e.overdue_since = due
        periods.append(e)
    with summaries.deferred():  # counted once, not row by row (ADR 0037)
        Enrollment.objects.bulk_create(periods, batch_size=2000)
    ids = list(Enrollment.objects.filter(package_id=draft.package_id).values_list("pk", flat=True))
    exempt = rng.sample(ids, len(ids) // 200)
    Exemption.objects.bulk_create(
        Exemption(
            enrollment_id=pk,
            reason="administrative",
            effective_at=now - timedelta(days=10),
            ends_at=(now + timedelta(seconds=rng.randint(1, 90 * day))) if n % 3 == 0 else None,
            recorded_at=now - timedelta(days=10),
            recorded_by=runner.admin,
        )
        for n, pk in enumerate(exempt)
    )
    if connection.vendor == "postgresql":
        # Autovacuum cannot see rows of an open transaction: without this the planner
        # takes the new package for empty and may read its periods by the wrong index
        # (docs/benchmarks.md, standing counts on PostgreSQL). Committed periods are
        # analysed by autovacuum once a tenth of the table has changed.
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE learning_enrollment, learning_exemption, learning_standingcount"
            )
    return draft.package_id, len(ids), time.perf_counter() - started


def standing_rows(runner: Any) -> list[Row]:
    """Time the standing counts of the history package as generated, and of a package
    with due dates, a validity and waivers (rolled back), against hand-written SQL."""
    package = runner.packages[HISTORY_PACKAGE]
    now = timezone.now()
    size = Enrollment.objects.filter(package=package).count()
    rows = _time(
        runner,
        "standing counts, one package",
        package.pk,
        _UNDATED,
        f"lifecycle_selectors.standing_counts, {size:,} enrollments, no dates",
        now,
    )
    with transaction.atomic():
        package_id, periods, setup = _dated_package(runner, package.pk, now)
        rows += _time(
            runner,
            "standing counts, one package with due dates, validity and waivers",
            package_id,
            _DATED,
            f"lifecycle_selectors.standing_counts, {periods:,} periods "
            f"(setup {setup:.1f} s, rolled back)",
            now,
        )
        transaction.set_rollback(True)
    return rows
