"""The reports page and its CSV / XLSX downloads (thin: parse, call selectors, render)."""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header

from coursepack.errors import InvalidInput
from coursepack.jobs import exports as export_jobs
from coursepack.learning import lifecycle_selectors
from coursepack.replica import reads_from_replica
from coursepack.reports import exports, selectors, tables
from coursepack.reports.scope import for_viewer
from coursepack.reports.selectors import FilterChoices, ReportFilters
from coursepack.web.access import PEOPLE_READERS, role_required
from coursepack.web.export_offer import offer
from coursepack.web.report_chart import completions_chart

LEARNERS_PER_PAGE = 100
# The lifecycle standing per package the page shows (as of now), each linked to the
# package's standing page; "expiring" is within this many days, as that page's default.
STANDING_WITHIN_DAYS = 30
STANDING_LABELS = (
    ("current", "Current"),
    ("due_for_recertification", "Due"),
    ("overdue", "Overdue"),
    ("expiring", "Expiring"),
    ("expired", "Expired"),
    ("exempt", "Exempt"),
)


class ReportFilterForm(forms.Form):
    """The report filters, as query parameters ``from``, ``to``, ``package_id``,
    ``version_id``, ``as_of`` and ``known_at``.

    The same names as the API's; ``to`` is excluded from the range.
    """

    def __init__(self, data: Any, *, choices: FilterChoices) -> None:
        super().__init__(data)
        date = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        # "from" is a Python keyword: the fields are named here, not as attributes.
        self.fields["from"] = forms.DateField(required=False, label="From", widget=date)
        self.fields["to"] = forms.DateField(
            required=False,
            label="To (not included)",
            widget=date,
            help_text="The range is [from, to): the day 'to' is not in it.",
        )
        self.fields["package_id"] = forms.TypedChoiceField(
            required=False,
            coerce=int,
            empty_value=None,
            label="Package",
            choices=[("", "All packages"), *choices.packages],
        )
        by_package: dict[str, list[tuple[int, str]]] = {}
        for version_id, package_name, number in choices.versions:
            by_package.setdefault(package_name, []).append(
                (version_id, f"{package_name} v{number}")
            )
        version_choices: list[Any] = [("", "All versions"), *by_package.items()]
        self.fields["version_id"] = forms.TypedChoiceField(
            required=False, coerce=int, empty_value=None, label="Version", choices=version_choices
        )
        moment = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
        self.fields["as_of"] = forms.DateTimeField(
            required=False,
            label="As of",
            widget=moment,
            help_text="Empty: now, from the stored statuses.",
        )
        self.fields["known_at"] = forms.DateTimeField(
            required=False,
            label="As known at",
            widget=moment,
            help_text="Empty: everything on record now; the same as 'As of': what the record showed then.",
        )

    def report_filters(self) -> ReportFilters | None:
        """Return the filters, or None (with the problems added to the form's errors)."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        try:
            return selectors.make_filters(
                date_from=data["from"],
                date_to=data["to"],
                package_id=data["package_id"],
                version_id=data["version_id"],
                as_of=data["as_of"],
                known_at=data["known_at"],
            )
        except InvalidInput as exc:
            for problem in exc.problems or [exc.message]:
                field, _, message = problem.partition(": ")
                if field in self.fields and message:
                    self.add_error(field, message)
                else:
                    self.add_error(None, problem)
            return None

    def query(self) -> str:
        """The valid filters as a query string, to carry into downloads and page links."""
        params = {
            name: (
                timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")
                if isinstance(value, datetime)
                else value.isoformat()
                if hasattr(value, "isoformat")
                else value
            )
            for name, value in self.cleaned_data.items()
            if value is not None
        }
        return urlencode(params)


def filter_form(request: HttpRequest) -> tuple[ReportFilterForm, ReportFilters | None]:
    """Return the report filter form of the query string, and its filters (None: invalid),
    narrowed to the people the user may read (a manager's people; everyone for admins
    and auditors)."""
    form = ReportFilterForm(request.GET, choices=selectors.filter_choices())
    filters = form.report_filters()
    return form, None if filters is None else for_viewer(filters, request.user)


_form = filter_form


def _page(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


@role_required(*PEOPLE_READERS)
@reads_from_replica
def reports(request: HttpRequest) -> HttpResponse:
    """Show the reports for the chosen filters: totals, chart, and every table."""
    form, filters = _form(request)
    context: dict[str, Any] = {"form": form, "filters": filters}
    if filters is not None:
        page = _page(request)
        learner_total = selectors.learner_count(filters)
        pages = max(1, -(-learner_total // LEARNERS_PER_PAGE))
        page = min(page, pages)
        package_report = selectors.package_report(filters)
        over_time = selectors.completions_over_time(filters)
        learners = tables.learners_table(
            selectors.learner_rows(
                filters, offset=(page - 1) * LEARNERS_PER_PAGE, limit=LEARNERS_PER_PAGE
            )
        )
        report_tables = {
            "packages": tables.packages_table(package_report),
            "completions": tables.completions_table(over_time),
            "courses": tables.courses_table(selectors.course_report(filters)),
            # The template and the tests both read the rows: not a one-shot stream.
            "learners": dataclasses.replace(learners, rows=list(learners.rows)),
        }
        query = form.query()
        # The standing per package comes from the summaries, which count everyone: a
        # manager reads their people's standing on the matrix and the standing pages.
        standing = (
            {}
            if filters.scoped
            else lifecycle_selectors.standing_counts_by_package(
                [p.package_id for p in package_report], expiring_within_days=STANDING_WITHIN_DAYS
            )
        )
        context.update(
            standing=[
                (p, [(key, label, standing[p.package_id][key]) for key, label in STANDING_LABELS])
                for p in package_report
                if p.package_id in standing
            ],
            standing_labels=STANDING_LABELS,
            standing_within=STANDING_WITHIN_DAYS,
            totals=selectors.overall(package_report),
            package_count=len(package_report),
            over_time=over_time,
            chart=completions_chart(over_time),
            tables=report_tables,
            query=query,
            learner_total=learner_total,
            learner_page=page,
            learner_pages=pages,
            learner_first=(page - 1) * LEARNERS_PER_PAGE + 1,
            learner_last=min(page * LEARNERS_PER_PAGE, learner_total),
        )
    return render(request, "web/reports.html", context)


def _attachment(response: StreamingHttpResponse, filename: str) -> None:
    header = content_disposition_header(True, filename)
    assert header is not None  # None only for an inline response without a filename
    response["Content-Disposition"] = header


@role_required(*PEOPLE_READERS)
@reads_from_replica
def report_csv(request: HttpRequest, kind: str) -> HttpResponseBase:
    """Stream one report table as CSV, with the page's filters."""
    if kind not in tables.TABLE_KINDS:
        raise Http404("There is no such report table.")
    form, filters = _form(request)
    if filters is None:
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain")
    table_kind = cast(tables.TableKind, kind)
    response = StreamingHttpResponse(
        exports.one_moment(lambda: exports.csv_lines(tables.report_table(table_kind, filters))),
        content_type=exports.CSV_CONTENT_TYPE,
    )
    _attachment(response, exports.export_filename(kind, "csv", timezone.localdate()))
    return response


@role_required(*PEOPLE_READERS)
@reads_from_replica
def report_xlsx(request: HttpRequest) -> HttpResponseBase:
    """Send every report table as one XLSX workbook, one sheet per table; a large one
    is offered as a background export (ADR 0031)."""
    form, filters = _form(request)
    if filters is None:
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain")
    rows = export_jobs.report_rows(filters)
    # A manager's report is written at once: the background exports count everyone.
    if export_jobs.runs_as_job(rows) and not filters.scoped:
        return offer(request, "report", rows)
    # An unnamed temporary file: gone from disk already, freed when the response closes it.
    spool = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    try:
        exports.write_xlsx(
            (tables.report_table(kind, filters) for kind in tables.TABLE_KINDS), spool
        )
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return FileResponse(
        spool,
        as_attachment=True,
        filename=exports.export_filename("all", "xlsx", timezone.localdate()),
        content_type=exports.XLSX_CONTENT_TYPE,
    )
