"""The tables of a package's standing and exceptions pages, as their downloads (CSV,
XLSX, an export job) write them: one definition for the page module and the job."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from coursepack.learning import lifecycle_selectors
from coursepack.reports import scoped
from coursepack.reports.tables import Column, ReportTable, TableRow

__all__ = [
    "LABELS",
    "SECTIONS",
    "exceptions_table",
    "overdue_since",
    "section_rows",
    "standing_table",
]

#: Each standing as the page names it, in the page's order.
LABELS = {
    "current": "Current",
    "expiring": "Expiring soon",
    "due_for_recertification": "Due for recertification",
    "overdue": "Overdue",
    "expired": "Expired",
    "exempt": "Exempt",
    "in_progress": "In progress",
    "not_started": "Not started",
}

_COLUMNS = (
    Column("Learner", width=24),
    Column("Version", numeric=True, width=8),
    Column("Period", numeric=True, width=8),
    Column("Status", width=14),
    Column("Completed at", width=20),
    Column("Due", width=20),
    Column("Overdue since", width=20),
    Column("Completed late", width=10),
    Column("Expires", width=20),
)


def overdue_since(moment: datetime | None, now: datetime) -> datetime | None:
    """Return when the enrollment became overdue, or None while it is not (yet) overdue.

    The cache stores the moment it *will* be overdue from (its due date in force), so
    that overdue is derived from dates with no job; a future moment is not shown.
    """
    return moment if moment is not None and moment < now else None


def _rows(entries: Iterator[Any], now: datetime) -> Iterator[TableRow]:
    for e in entries:
        yield TableRow(
            (
                e.learner.get_username(),
                e.version.version_number,
                e.period_number,
                e.status.replace("_", " "),
                e.completed_at,
                e.due_in_force,
                overdue_since(e.overdue_since, now),
                "yes" if e.completed_late else "",
                e.expires_at,
            )
        )


def standing_table(
    package: Any,
    standing: str,
    *,
    now: datetime,
    within_days: int,
    search: str,
    viewer: Any = None,
) -> ReportTable:
    """Return the learners of ``package`` in ``standing`` at ``now`` as a table (only
    those ``viewer`` may read, if given: a manager's people, ADR 0034)."""
    if viewer is None:
        entries = lifecycle_selectors.standing_enrollments(
            package.pk, standing, now=now, expiring_within_days=within_days, search=search
        )
    else:
        entries = scoped.standing_enrollments(
            viewer, package.pk, standing, now=now, expiring_within_days=within_days, search=search
        )
    title = f"{package.name} — {LABELS[standing]}"
    return ReportTable("learners", title[:31], _COLUMNS, _rows(entries.iterator(), now))


def standing_rows(
    package_id: int, standing: str, *, now: datetime, within_days: int, search: str
) -> int:
    """Return how many rows :func:`standing_table` holds."""
    return lifecycle_selectors.standing_enrollments(
        package_id, standing, now=now, expiring_within_days=within_days, search=search
    ).count()


#: The exceptions report's sections, in the page's order.
SECTIONS = {
    "due-before": "Due date already passed at enrolment",
    "late": "Completed late",
    "exempt": "Exemptions in force",
    "lapsing": "Exemptions about to lapse",
}

_PERIOD_COLUMNS = (
    Column("Learner", width=24),
    Column("Version", numeric=True, width=8),
    Column("Period", numeric=True, width=8),
    Column("Enrolled", width=20),
    Column("Due", width=20),
    Column("Completed at", width=20),
)

_EXEMPTION_COLUMNS = (
    Column("Learner", width=24),
    Column("Exempt from", width=30),
    Column("Reason", width=26),
    Column("Note", width=30),
    Column("Since", width=20),
    Column("Valid until", width=20),
    Column("By", width=16),
)


def section_rows(found: Any, section: str) -> Any:
    """Return the rows of one section of ``found`` (``package_exceptions``)."""
    return {
        "due-before": found.due_before_enrolment,
        "late": found.completed_late,
        "exempt": found.exemptions,
        "lapsing": found.lapsing,
    }[section]


def _exempt_from(x: Any) -> str:
    if x.course is not None:
        return f"{x.course.code} {x.course.name}"
    if x.group is not None:
        return str(x.group.name)
    return "Whole enrollment"


def _exception_rows(entries: Iterator[Any], section: str) -> Iterator[TableRow]:
    for e in entries:
        if section in ("exempt", "lapsing"):
            yield TableRow(
                (
                    e.enrollment.learner.get_username(),
                    _exempt_from(e),
                    e.get_reason_display(),
                    e.note,
                    e.effective_at,
                    e.ends_at,
                    e.recorded_by.get_username() if e.recorded_by else "",
                )
            )
        else:
            yield TableRow(
                (
                    e.learner.get_username(),
                    e.version.version_number,
                    e.period_number,
                    e.enrolled_at,
                    e.due_in_force,
                    e.completed_at,
                )
            )


def exceptions_table(package: Any, section: str, found: Any) -> ReportTable:
    """Return one section of a package's exceptions (``found``) as a table."""
    columns = _EXEMPTION_COLUMNS if section in ("exempt", "lapsing") else _PERIOD_COLUMNS
    title = f"{package.name} — {SECTIONS[section]}"
    rows = _exception_rows(section_rows(found, section).iterator(), section)
    return ReportTable("learners", title[:31], columns, rows)
