"""Benchmarks of the report pages, their exports and the lists (issue 19, ADR 0027).

Each report page is timed through Django's whole stack in this process (server time:
middleware, session, view, template) against a floor measured in the same run:
reading the summary rows the page answers from with hand-written SQL. The CSV
exports are timed to their first byte; the whole organisation's XLSX against
writing the same cells with bare openpyxl (write-only) in the same run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.core import signals
from django.db import close_old_connections, connection
from django.test import Client, override_settings

from coursepack.bench.measure import Row
from coursepack.bench.scales import HISTORY_PACKAGE
from coursepack.bench.xlsx_floor import bare_xlsx, organisation_sheets
from coursepack.reports import tables

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

MS = 0.001

# The summary rows each page reads, as hand-written SQL (%(p)s: the package, %(v)s: a version).
_VERSION_COUNTS = (
    "SELECT version_id, state, status, SUM(n) FROM learning_enrollmentdaycount {where} "
    "GROUP BY version_id, state, status"
)
_COMPLETIONS = (
    "SELECT version_id, day, SUM(n) FROM learning_completiondaycount {where} "
    "GROUP BY version_id, day"
)
_COURSES = "SELECT course_id, learners, failed, voided FROM learning_coursecount"
# The learners table's first page and count (ADR 0027): with no filter, one summary row
# per learner; with a package, version or range, the index on (package, learner,
# version) or the enrollments in range. {scope}: a condition on enrollment x.
_LEARNER_COUNTS = (
    "SELECT e.learner_id, SUM(CASE WHEN e.withdrawn_at IS NULL AND e.superseded_at IS NULL "
    "THEN 1 ELSE 0 END), SUM(CASE WHEN e.withdrawn_at IS NOT NULL THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN e.status = 'not_started' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN e.status = 'in_progress' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN e.status = 'completed' THEN 1 ELSE 0 END), MAX(e.completed_at) "
    "FROM learning_enrollment e WHERE {outer} "
    "e.learner_id IN (SELECT u.id FROM auth_user u WHERE EXISTS ({listed}) "
    "ORDER BY u.username LIMIT 100) GROUP BY e.learner_id"
)
_EVERY_LEARNER = "SELECT 1 FROM learning_learnercount c WHERE c.learner_id = u.id AND c.n > 0"
_LEARNER_TOTAL = "SELECT COUNT(*) FROM learning_learnercount WHERE n > 0"
_SCOPED_LEARNERS = "SELECT 1 FROM learning_enrollment x WHERE x.learner_id = u.id AND {scope}"
_SCOPED_TOTAL = "SELECT COUNT(DISTINCT learner_id) FROM learning_enrollment x WHERE {scope}"


def _learners(scope: str | None) -> list[str]:
    """The learners table's two statements for enrollments matching ``scope`` (None:
    every enrollment, from the summary rows)."""
    if scope is None:
        return [_LEARNER_TOTAL, _LEARNER_COUNTS.format(outer="", listed=_EVERY_LEARNER)]
    return [
        _SCOPED_TOTAL.format(scope=scope),
        _LEARNER_COUNTS.format(
            outer=scope.replace("x.", "e.") + " AND",
            listed=_SCOPED_LEARNERS.format(scope=scope),
        ),
    ]


_STANDING = (
    "SELECT package_id, status, later, overdue_day, expires_day, previous_version_id, "
    "previous_expires_day, n FROM learning_standingcount {where}"
)


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, -(-int(fraction * 100) * len(ordered) // 100) - 1)]


@contextmanager
def _one_connection() -> Iterator[None]:
    """Keep Django from closing the connection at each request's end (as its test client
    does in tests), so the pages are timed on a warm connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _sql_reader(statements: list[tuple[str, dict[str, Any]]]) -> Callable[[], int]:
    def read() -> int:
        found = 0
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                found += len(cursor.fetchall())
        return found

    return read


def _ratio(value: float | None, floor: float | None) -> float | None:
    return None if not value or not floor else value / floor


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def report_pages(runner: Runner) -> list[Row]:
    """Time each report page, the package list and the learners list against reading
    their summary rows in hand-written SQL; the CSVs' first byte; the whole
    organisation's XLSX against bare openpyxl writing the same cells."""
    package = runner.packages[HISTORY_PACKAGE]
    version = package.versions.exclude(status="draft").order_by("-version_number").first()
    if version is None:
        raise RuntimeError(f"{package.name} has no released version")
    p = {"p": package.pk, "v": version.pk}
    on_package = "WHERE package_id = %(p)s"
    on_version = "WHERE package_id = %(p)s AND version_id = %(v)s"
    every: list[tuple[str, dict[str, Any]]] = [
        (_VERSION_COUNTS.format(where=""), {}),
        (_COMPLETIONS.format(where=""), {}),
        (_COURSES, {}),
        (_STANDING.format(where=""), {}),
        *((sql, {}) for sql in _learners(None)),
    ]
    one = [
        (_VERSION_COUNTS.format(where=on_package), p),
        (_COMPLETIONS.format(where=on_package), p),
        (_STANDING.format(where=on_package), p),
        *((sql, p) for sql in _learners("x.package_id = %(p)s")),
    ]
    adapt = connection.ops.adapt_datetimefield_value
    year = {
        "from": adapt(datetime(2025, 1, 1, tzinfo=UTC)),
        "to": adapt(datetime(2026, 1, 1, tzinfo=UTC)),
    }
    in_year = "x.enrolled_at >= %(from)s AND x.enrolled_at < %(to)s"
    cases: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]] = [
        ("report page: all packages", "/reports/", every),
        ("report page: one package", f"/reports/?package_id={package.pk}", one),
        (
            "report page: one version",
            f"/reports/?package_id={package.pk}&version_id={version.pk}",
            [
                (_VERSION_COUNTS.format(where=on_version), p),
                (_COMPLETIONS.format(where=on_version), p),
                (_STANDING.format(where=on_package), p),
                *((sql, p) for sql in _learners("x.package_id = %(p)s AND x.version_id = %(v)s")),
            ],
        ),
        (
            "report page: all packages, one year [from, to)",
            "/reports/?from=2025-01-01&to=2026-01-01",
            [*every[:4], *((sql, year) for sql in _learners(in_year))],
        ),
        ("standing page, one package", f"/packages/{package.pk}/standing/", one[2:3]),
        ("package list (first page)", "/", [(_VERSION_COUNTS.format(where=""), {})]),
        ("learners list (first page)", "/learners/", []),
    ]
    client = Client(HTTP_HOST="localhost")
    client.force_login(runner.admin)
    n = runner.plan.pages + runner.plan.warmup
    rows: list[Row] = []
    with _one_connection():
        for label, url, statements in cases:
            read = _sql_reader(statements)
            times, floor = [], []
            for index in range(n):
                started = time.perf_counter()
                response = client.get(url)
                took = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"GET {url}: {response.status_code}")
                took_floor = _timed(read) if statements else None
                if index >= runner.plan.warmup:
                    times.append(took)
                    if took_floor is not None:
                        floor.append(took_floor)
            p95 = _percentile(times, 0.95)
            row = Row.of(label, times, note=f"server time, p95 {p95 * 1000:.0f} ms")
            row.extra["p95"] = p95
            if floor:
                base = Row.of("  its summary rows in hand-written SQL", floor, floor=True)
                row.ratio = _ratio(row.median, base.median)
                row.target = "p95 <=300 ms, <=2x SQL"
                row.passed = p95 <= 300 * MS and (row.ratio or 99) <= 2
                rows += [row, base]
            else:
                row.target = "p95 <=300 ms"
                row.passed = p95 <= 300 * MS
                rows.append(row)
        rows += _csv_first_byte(client, runner)
        # The whole organisation's XLSX takes minutes at the full scale: a run measuring
        # only the pages may leave it out (BENCH_REPORTS_XLSX=0).
        if os.environ.get("BENCH_REPORTS_XLSX", "1") != "0":
            rows += _xlsx(client, runner)
    return rows


def _csv_first_byte(client: Client, runner: Runner) -> list[Row]:
    """Time each report CSV to its first byte (the view returns a stream; the first
    chunk is the header row and the first rows)."""
    rows = []
    for kind in tables.TABLE_KINDS:
        times = []
        for index in range(runner.plan.pages + runner.plan.warmup):
            started = time.perf_counter()
            response = client.get(f"/reports/{kind}.csv")
            chunks = iter(response.streaming_content)  # type: ignore[attr-defined]
            next(chunks)
            took = time.perf_counter() - started
            response.close()
            if index >= runner.plan.warmup:
                times.append(took)
        row = Row.of(f"CSV first byte: {kind}.csv", times, note="server time to the first chunk")
        row.target = "<=1 s"
        row.passed = max(times) <= 1
        rows.append(row)
    return rows


def _xlsx(client: Client, runner: Runner) -> list[Row]:
    """The whole organisation's XLSX as the page sends it (inline) against bare openpyxl
    writing the same cells in write-only mode."""
    sheets = organisation_sheets()

    def bare() -> int:
        return bare_xlsx(sheets)

    times, floor = [], []
    for index in range(max(3, runner.plan.pages // 4) + 1):
        started = time.perf_counter()
        # Inline whatever its size: the export job is timed in bench/exports.py.
        with override_settings(EXPORT_INLINE_MAX_ROWS=2**62):
            response = client.get("/reports/report.xlsx")
        content: Iterator[bytes] = response.streaming_content  # type: ignore[attr-defined]
        size = sum(len(chunk) for chunk in content)
        took = time.perf_counter() - started
        if not size:
            raise RuntimeError("the XLSX is empty")
        took_floor = _timed(bare)
        if index:
            times.append(took)
            floor.append(took_floor)
    cell_count = sum(len(h) * (1 + len(b)) for _, h, b in sheets)
    row = Row.of(
        "XLSX, whole organisation (inline, not yet a job)",
        times,
        note=f"{cell_count:,} cells",
    )
    base = Row.of("  the same cells, bare openpyxl write-only", floor, floor=True)
    row.ratio = _ratio(row.median, base.median)
    row.target = "<=2x bare openpyxl (as a job)"
    row.passed = (row.ratio or 99) <= 2
    return [row, base]
