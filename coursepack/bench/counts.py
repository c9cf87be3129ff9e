"""Benchmark: per-version completion counts of the history package (the large one),
through the report selector (or the learning summaries where there is no reports
app), against the same aggregate in hand-written SQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import connection
from django.utils import timezone

from coursepack.bench.measure import MS, Row, optional, paired, ratio
from coursepack.bench.scales import HISTORY_PACKAGE
from coursepack.learning import selectors as learning_selectors
from coursepack.learning.models import Enrollment

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

__all__ = ["counts"]


def counts(runner: Runner) -> list[Row]:
    package = runner.packages[HISTORY_PACKAGE]
    size = Enrollment.objects.filter(package=package).count()
    package_report = optional("coursepack.reports.selectors", "package_report")
    filters_type = optional("coursepack.reports.selectors", "ReportFilters")
    label = "per-version completion counts, one package"
    fn: Callable[[], dict[int, tuple[int, int]]]
    if package_report is not None and filters_type is not None:

        def fn() -> dict[int, tuple[int, int]]:
            (row,) = package_report(filters_type(package_id=package.pk))
            return {v.version_id: (v.counts.enrolled, v.counts.completed) for v in row.versions}

        note = f"reports.selectors.package_report, {size:,} enrollments"
    else:

        def fn() -> dict[int, tuple[int, int]]:
            (summary,) = learning_selectors.package_summaries(timezone.now(), [package.pk])
            return {v.version.pk: (v.enrolled, v.completed) for v in summary.versions}

        note = f"learning.selectors.package_summaries (no reports app), {size:,} enrollments"
    sql = (
        "SELECT version_id, "
        "COUNT(*) FILTER (WHERE withdrawn_at IS NULL), "
        "COUNT(*) FILTER (WHERE withdrawn_at IS NOT NULL), "
        "COUNT(*) FILTER (WHERE withdrawn_at IS NULL AND status = 'not_started'), "
        "COUNT(*) FILTER (WHERE withdrawn_at IS NULL AND status = 'in_progress'), "
        "COUNT(*) FILTER (WHERE withdrawn_at IS NULL AND status = 'completed'), "
        "COUNT(*) FILTER (WHERE withdrawn_at IS NULL AND completed_at IS NOT NULL) "
        "FROM learning_enrollment WHERE package_id = %s GROUP BY version_id"
    )

    def hand_written() -> dict[int, tuple[int, int]]:
        with connection.cursor() as cursor:
            cursor.execute(sql, [package.pk])
            return {r[0]: (r[1], r[5]) for r in cursor.fetchall()}

    expected = hand_written()
    got = {k: v for k, v in fn().items() if v != (0, 0)}
    if got != expected:
        raise RuntimeError(f"the selector counted {got}, the SQL {expected}")
    times, floor = paired(fn, hand_written, samples=runner.plan.counts, warmup=runner.plan.warmup)
    op = Row.of(label, times, note=note)
    base = Row.of("the same aggregate in hand-written SQL", floor, floor=True)
    op.ratio = ratio(op.median, base.median)
    op.target = "p99 <=50 ms, <=1.5x SQL"
    op.passed = op.p99 is not None and op.p99 <= 50 * MS and (op.ratio or 99) <= 1.5
    return [op, base]
