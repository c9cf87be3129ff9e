"""The compliance standing page of a package: counts per standing and the learners in
each (paged, searchable, CSV and XLSX). Thin: parse, call the selectors, render.

Managers see these pages too, about the people they manage only (ADR 0034); their
downloads are always written at once (their scope is small, and the background
exports count everyone, so they are for admins and auditors)."""

from __future__ import annotations

import tempfile
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
from coursepack.jobs import exports as export_jobs
from coursepack.learning import lifecycle_selectors
from coursepack.organisation import selectors as organisation
from coursepack.packaging import selectors as packaging
from coursepack.reports import exports, scoped
from coursepack.reports.lifecycle_tables import (
    LABELS,
    SECTIONS,
    exceptions_table,
    standing_table,
)
from coursepack.reports.lifecycle_tables import section_rows as _section_rows
from coursepack.reports.tables import ReportTable
from coursepack.web.access import PEOPLE_READERS, role_required
from coursepack.web.export_offer import offer

PER_PAGE = 50


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


@role_required(*PEOPLE_READERS)
def standing(request: HttpRequest, package_id: int) -> HttpResponse:
    """Show how many learners of a package are in each standing now, and who."""
    package, name, days, search = _query(request, package_id)
    now = timezone.now()
    # Read once for the counts and the list: the periods whose exemption has lapsed.
    lapsed = lifecycle_selectors.lapsed_periods([package_id], now)
    counts = scoped.standing_counts(
        request.user, package_id, now=now, expiring_within_days=days, lapsed=lapsed
    )
    entries = scoped.standing_enrollments(
        request.user,
        package_id,
        name,
        now=now,
        expiring_within_days=days,
        search=search,
        lapsed=lapsed,
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
    table = standing_table(
        package, name, now=timezone.now(), within_days=days, search=search, viewer=request.user
    )
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
    """Send the learners in one standing as an XLSX workbook; a large one is offered as
    a background export (ADR 0031)."""
    package, name, days, search = _query(request, package_id)
    rows = export_jobs.standing_rows(
        package_id=package.pk, standing=name, within_days=days, search=search
    )
    if export_jobs.runs_as_job(rows) and organisation.reads_everyone(request.user):
        return offer(request, "standing", rows, package_id=package.pk)
    table, kind = _table(request, package_id)
    return _xlsx(table, kind)


def standing_query(request: HttpRequest, package_id: int) -> tuple[Any, str, int, str]:
    """Return the package, standing, days and search of the query string."""
    return _query(request, package_id)


def _exceptions_query(request: HttpRequest, package_id: int) -> tuple[Any, str, int, Any]:
    package, _, days, _ = _query(request, package_id)
    section = request.GET.get("section", "due-before")
    if section not in SECTIONS:
        section = "due-before"
    found = scoped.package_exceptions(request.user, package_id, lapsing_within_days=days)
    return package, section, days, found


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
    return exceptions_table(package, section, found), f"exceptions-{section}"


@role_required(*PEOPLE_READERS)
def exceptions_csv(request: HttpRequest, package_id: int) -> HttpResponseBase:
    """Stream one section of the exceptions as CSV."""
    table, kind = _exceptions_table(request, package_id)
    return _csv(table, kind)


@role_required(*PEOPLE_READERS)
def exceptions_xlsx(request: HttpRequest, package_id: int) -> HttpResponseBase:
    """Send one section of the exceptions as an XLSX workbook; a large one is offered as
    a background export (ADR 0031)."""
    package, section, days, _ = _exceptions_query(request, package_id)
    rows = export_jobs.exceptions_rows(package_id=package.pk, section=section, within_days=days)
    if export_jobs.runs_as_job(rows) and organisation.reads_everyone(request.user):
        return offer(request, "exceptions", rows, package_id=package.pk)
    table, kind = _exceptions_table(request, package_id)
    return _xlsx(table, kind)
