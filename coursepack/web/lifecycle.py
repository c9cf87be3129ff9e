"""The compliance standing page of a package: counts per standing and the learners in
each (paged, searchable, CSV and XLSX). Thin: parse, call the selectors, render.

Managers see these pages too, about the people they manage only (ADR 0034)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.errors import NotFound
from coursepack.packaging import selectors as packaging
from coursepack.reports import exports, scoped
from coursepack.reports.tables import Column, ReportTable, TableRow
from coursepack.web.access import PEOPLE_READERS, role_required

PER_PAGE = 50

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


def _query(request: HttpRequest, package_id: int) -> tuple[Any, str, int, str]:
    try:
        package = packaging.get_package(package_id)
    except NotFound:
        raise Http404("There is no such package.") from None
    standing = request.GET.get("standing", "overdue")
    if standing not in LABELS:
        standing = "overdue"
    try:
        days = max(0, min(3660, int(request.GET.get("within", "30"))))
    except ValueError:
        days = 30
    search = request.GET.get("q", "").replace("\x00", "")[:150]
    return package, standing, days, search


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
                _overdue_since(e.overdue_since, now),
                "yes" if e.completed_late else "",
                e.expires_at,
            )
        )


def _overdue_since(moment: datetime | None, now: datetime) -> datetime | None:
    """Return when the enrollment became overdue, or None while it is not (yet) overdue.

    The cache stores the moment it *will* be overdue from (its due date in force), so
    that overdue is derived from dates with no job; a future moment is not shown.
    """
    return moment if moment is not None and moment < now else None


@role_required(*PEOPLE_READERS)
def standing(request: HttpRequest, package_id: int) -> HttpResponse:
    """Show how many learners of a package are in each standing now, and who."""
    package, name, days, search = _query(request, package_id)
    now = timezone.now()
    counts = scoped.standing_counts(request.user, package_id, now=now, expiring_within_days=days)
    entries = scoped.standing_enrollments(
        request.user, package_id, name, now=now, expiring_within_days=days, search=search
    )
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/lifecycle/standing.html",
        {
            "package": package,
            "counts": [(key, label, counts[key]) for key, label in LABELS.items()],
            "standing": name,
            "standing_label": LABELS[name],
            "within": days,
            "search": search,
            "page": page,
            "now": now,
            "is_admin": accounts.role_of(request.user) == Role.ADMIN,
            "time_zone": timezone.get_current_timezone_name(),
        },
    )


def _table(request: HttpRequest, package_id: int) -> tuple[ReportTable, str]:
    package, name, days, search = _query(request, package_id)
    now = timezone.now()
    entries = scoped.standing_enrollments(
        request.user, package_id, name, now=now, expiring_within_days=days, search=search
    )
    title = f"{package.name} — {LABELS[name]}"
    table = ReportTable("learners", title[:31], _COLUMNS, _rows(entries.iterator(), now))
    return table, f"standing-{name}"


def _csv(table: ReportTable, kind: str) -> HttpResponseBase:
    response = StreamingHttpResponse(
        exports.csv_lines(table), content_type=exports.CSV_CONTENT_TYPE
    )
    header = content_disposition_header(
        True, exports.export_filename(kind, "csv", timezone.localdate())
    )
    assert header is not None
    response["Content-Disposition"] = header
    return response


def _xlsx(table: ReportTable, kind: str) -> HttpResponseBase:
    spool = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    try:
        exports.write_xlsx([table], spool)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return FileResponse(
        spool,
        as_attachment=True,
        filename=exports.export_filename(kind, "xlsx", timezone.localdate()),
        content_type=exports.XLSX_CONTENT_TYPE,
    )


@role_required(*PEOPLE_READERS)
def standing_csv(request: HttpRequest, package_id: int) -> HttpResponseBase:
    """Stream the learners in one standing as CSV."""
    table, kind = _table(request, package_id)
    return _csv(table, kind)


@role_required(*PEOPLE_READERS)
def standing_xlsx(request: HttpRequest, package_id: int) -> HttpResponseBase:
    """Send the learners in one standing as an XLSX workbook."""
    table, kind = _table(request, package_id)
    return _xlsx(table, kind)


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


def _exceptions_query(request: HttpRequest, package_id: int) -> tuple[Any, str, int, Any]:
    package, _, days, _ = _query(request, package_id)
    section = request.GET.get("section", "due-before")
    if section not in SECTIONS:
        section = "due-before"
    found = scoped.package_exceptions(request.user, package_id, lapsing_within_days=days)
    return package, section, days, found


def _section_rows(found: Any, section: str) -> Any:
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


@role_required(*PEOPLE_READERS)
def exceptions(request: HttpRequest, package_id: int) -> HttpResponse:
    """Show a package's exceptions, one section at a time (paged, CSV and XLSX): due
    already passed at enrolment, completed late, exemptions in force, and exemptions
    about to lapse (ending within N days)."""
    package, section, days, found = _exceptions_query(request, package_id)
    rows = _section_rows(found, section)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/lifecycle/exceptions.html",
        {
            "package": package,
            "sections": [
                (key, title, _section_rows(found, key).count()) for key, title in SECTIONS.items()
            ],
            "section": section,
            "section_title": SECTIONS[section],
            "exemption_rows": section in ("exempt", "lapsing"),
            "within": days,
            "page": page,
        },
    )


def _exceptions_table(request: HttpRequest, package_id: int) -> tuple[ReportTable, str]:
    package, section, _, found = _exceptions_query(request, package_id)
    columns = _EXEMPTION_COLUMNS if section in ("exempt", "lapsing") else _PERIOD_COLUMNS
    title = f"{package.name} — {SECTIONS[section]}"
    rows = _exception_rows(_section_rows(found, section).iterator(), section)
    return ReportTable("learners", title[:31], columns, rows), f"exceptions-{section}"


@role_required(*PEOPLE_READERS)
def exceptions_csv(request: HttpRequest, package_id: int) -> HttpResponseBase:
    """Stream one section of the exceptions as CSV."""
    table, kind = _exceptions_table(request, package_id)
    return _csv(table, kind)


@role_required(*PEOPLE_READERS)
def exceptions_xlsx(request: HttpRequest, package_id: int) -> HttpResponseBase:
    """Send one section of the exceptions as an XLSX workbook."""
    table, kind = _exceptions_table(request, package_id)
    return _xlsx(table, kind)
