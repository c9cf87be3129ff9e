"""The report tables: the columns and rows that the page shows and the exports write.

One definition serves the page, the CSV and the XLSX, so the three always have
the same columns and the same numbers. Cells are plain values (numbers, text,
moments); formatting them is the page's and each export format's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Literal, get_args

from django.utils import timezone

from coursepack.reports.selectors import (
    CompletionsOverTime,
    CourseRow,
    LearnerRow,
    PackageRow,
    ReportFilters,
    StatusCounts,
    completions_over_time,
    course_report,
    learner_rows,
    package_report,
)

__all__ = [
    "TABLE_KINDS",
    "Cell",
    "Column",
    "ReportTable",
    "TableKind",
    "TableRow",
    "completions_table",
    "courses_table",
    "learners_table",
    "packages_table",
    "report_table",
]

Cell = int | float | str | datetime | None
# In the order of the page (and of the XLSX sheets).
TableKind = Literal["packages", "completions", "courses", "learners"]
TABLE_KINDS: tuple[TableKind, ...] = get_args(TableKind)


@dataclass(frozen=True)
class Column:
    """One column: its header, and whether it holds numbers (right-aligned)."""

    header: str
    numeric: bool = False
    # A width hint in characters, for spreadsheets.
    width: int = 12
    # The page shows the cell as a badge (a version's state).
    badge: bool = False


@dataclass(frozen=True)
class TableRow:
    """One row of cells; ``total`` marks a row that adds up the rows below it."""

    cells: tuple[Cell, ...]
    total: bool = False


@dataclass(frozen=True)
class ReportTable:
    """A titled table. ``rows`` may be a one-shot iterator (the learners stream)."""

    kind: TableKind
    title: str
    columns: tuple[Column, ...]
    rows: Iterable[TableRow]


def _moment(value: datetime | None, zone: tzinfo) -> datetime | None:
    """A moment in ``zone`` (the current time zone, looked up once per table), to the
    second: what every format shows."""
    return None if value is None else value.astimezone(zone).replace(microsecond=0)


_COUNT_COLUMNS = (
    Column("Enrolled (open)", numeric=True),
    Column("Withdrawn", numeric=True),
    Column("Not started", numeric=True),
    Column("In progress", numeric=True),
    Column("Completed", numeric=True),
    Column("Completion rate (%)", numeric=True, width=14),
    Column("Completed in range", numeric=True, width=14),
)


def _count_cells(counts: StatusCounts) -> tuple[Cell, ...]:
    return (
        counts.enrolled,
        counts.withdrawn,
        counts.not_started,
        counts.in_progress,
        counts.completed,
        counts.completion_percent,
        counts.completed_in_range,
    )


ALL_VERSIONS = "All versions"


def packages_table(report: list[PackageRow]) -> ReportTable:
    """Each package's total row ("All versions"), then one row per released version."""

    def rows() -> Iterator[TableRow]:
        for package in report:
            yield TableRow(
                cells=(package.name, ALL_VERSIONS, None, *_count_cells(package.totals)),
                total=True,
            )
            for version in package.versions:
                yield TableRow(
                    cells=(
                        package.name,
                        f"v{version.version_number}",
                        version.state,
                        *_count_cells(version.counts),
                    )
                )

    return ReportTable(
        kind="packages",
        title="Packages and versions",
        columns=(
            Column("Package", width=36),
            Column("Version"),
            Column("State", badge=True),
            *_COUNT_COLUMNS,
        ),
        rows=list(rows()),
    )


def courses_table(report: list[CourseRow]) -> ReportTable:
    """One row per course."""
    return ReportTable(
        kind="courses",
        title="Courses",
        columns=(
            Column("Code"),
            Column("Course", width=36),
            Column("Learners completed", numeric=True, width=18),
            Column("Failed attempts", numeric=True, width=16),
            Column("Events voided", numeric=True, width=14),
        ),
        rows=[
            TableRow(
                cells=(
                    row.code,
                    row.name,
                    row.learners_completed,
                    row.failed_attempts,
                    row.events_voided,
                )
            )
            for row in report
        ],
    )


def learners_table(report: Iterable[LearnerRow]) -> ReportTable:
    """One row per learner; lazy when ``report`` is."""
    zone = timezone.get_current_timezone()
    return ReportTable(
        kind="learners",
        title="Learners",
        columns=(
            Column("Username", width=18),
            Column("Name", width=24),
            Column("Enrollments (open)", numeric=True, width=18),
            Column("Withdrawn", numeric=True),
            Column("Not started", numeric=True),
            Column("In progress", numeric=True),
            Column("Completed", numeric=True),
            Column("Last completion", width=20),
        ),
        rows=(
            TableRow(
                cells=(
                    row.username,
                    row.full_name,
                    row.enrollments,
                    row.withdrawn,
                    row.not_started,
                    row.in_progress,
                    row.completed,
                    _moment(row.last_completed_at, zone),
                )
            )
            for row in report
        ),
    )


_PERIOD_HEADERS = {"day": "Day", "week": "Week starting", "month": "Month", "year": "Year"}


def _period_label(day: date, bucket: str) -> str:
    if bucket == "year":
        return f"{day.year:04d}"
    if bucket == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def completions_table(over_time: CompletionsOverTime) -> ReportTable:
    """One row per period: the completions of each version, and all of them together
    (versions the selector added up, ``over_time.other``, in one column)."""
    totals = over_time.totals()
    other = () if over_time.other is None else (over_time.other,)
    return ReportTable(
        kind="completions",
        title="Completions over time",
        columns=(
            Column(_PERIOD_HEADERS[over_time.bucket], width=14),
            *(Column(s.label, numeric=True, width=max(12, len(s.label))) for s in over_time.series),
            *(Column(f"Other versions ({over_time.other_versions})", numeric=True) for _ in other),
            Column("Total", numeric=True),
        ),
        rows=[
            TableRow(
                cells=(
                    _period_label(day, over_time.bucket),
                    *(s.counts[i] for s in over_time.series),
                    *(counts[i] for counts in other),
                    totals[i],
                )
            )
            for i, day in enumerate(over_time.periods)
        ],
    )


def report_table(
    kind: TableKind, filters: ReportFilters, *, offset: int = 0, limit: int | None = None
) -> ReportTable:
    """Return the table ``kind`` for ``filters``; ``offset``/``limit`` page the learners."""
    if kind == "packages":
        return packages_table(package_report(filters))
    if kind == "courses":
        return courses_table(course_report(filters))
    if kind == "learners":
        return learners_table(learner_rows(filters, offset=offset, limit=limit))
    return completions_table(completions_over_time(filters))
