"""The reports page and its CSV / XLSX downloads (thin: parse, call selectors, render)."""

from __future__ import annotations

import dataclasses
import html
import tempfile
from collections.abc import Iterator
from datetime import datetime
from itertools import chain
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
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.choices import BaseChoiceIterator
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString, mark_safe

from coursepack.errors import InvalidInput
from coursepack.jobs import exports as export_jobs
from coursepack.learning import lifecycle_selectors
from coursepack.replica import reads_from_replica
from coursepack.reports import exports, scope, selectors, tables
from coursepack.reports.scope import for_viewer
from coursepack.reports.selectors import ReportFilters
from coursepack.web.access import PEOPLE_READERS, role_required
from coursepack.web.export_offer import offer
from coursepack.web.report_chart import SHOWN_VERSIONS, completions_chart

# Each long table shows a page at a time (issue 19): a page costs what it shows, not
# what the organisation holds. Each has its own page number in the query string.
LEARNERS_PER_PAGE = 100
PACKAGES_PER_PAGE = 20
COURSES_PER_PAGE = 50
# The chart's numbers are shown as a table below it for at most this many versions (a
# column each); past that, they are in the CSV and the XLSX.
CHART_TABLE_VERSIONS = 12
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


def _html(value: Any) -> str:
    """``conditional_escape(value)`` as a plain string: ``html.escape`` (what Django's
    ``escape`` calls) without a lazy-string wrapper and a SafeString per call."""
    if type(value) is str:
        return html.escape(value)
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))


def _attributes(attrs: dict[str, Any]) -> str:
    """``flatatt(attrs)``: the attributes with a value sorted by name, then the true
    booleans sorted, as one string (no ``format_html`` per attribute)."""
    valued = sorted(
        (name, value)
        for name, value in attrs.items()
        if not isinstance(value, bool) and value is not None
    )
    flags = sorted(name for name, value in attrs.items() if isinstance(value, bool) and value)
    return "".join(f' {_html(name)}="{_html(value)}"' for name, value in valued) + "".join(
        f" {_html(name)}" for name in flags
    )


# The options of a select written once per list of choices: the package filter writes
# the same 300 options on every report page (~0.45 ms each time). Keyed on the choices
# themselves, so a renamed package makes a new entry; emptied past _OPTION_LISTS_KEPT
# entries (a version select per package, the package select).
_OPTION_LISTS: dict[tuple[tuple[Any, Any], ...], str] = {}
_OPTION_LISTS_KEPT = 256
# Choices whose values and labels are of these types only are memoised: two lists that
# compare equal then write the same options (True == 1, but str(True) != str(1)).
_PLAIN_TYPES = frozenset({int, str})


def _options(choices: tuple[tuple[Any, Any], ...]) -> str:
    """The ``<option>`` elements of ``choices``, none selected, one a line."""
    return "\n".join(
        f'<option value="{html.escape(str(key))}">{html.escape(str(label))}</option>'
        for key, label in choices
    )


class PlainSelect(forms.Select):
    """A select whose options are written here rather than by a template each: the
    package filter lists every package (300 at the full scale: ~25 ms as templates)."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        # Each choice a tuple (hashable if its texts are), as ``for key, label`` reads it.
        choices = tuple(map(tuple, self.choices))
        if _PLAIN_TYPES.issuperset(map(type, chain.from_iterable(choices))):
            options = _OPTION_LISTS.get(choices)
            if options is None:
                if len(_OPTION_LISTS) >= _OPTION_LISTS_KEPT:
                    _OPTION_LISTS.clear()
                options = _OPTION_LISTS[choices] = _options(choices)
        else:
            options = _options(choices)
        # The chosen ones marked: an option's start, ``<option value="…">``, is found
        # nowhere else (its value escaped has no quote; a label escaped has no "<").
        for chosen in {str(v) for v in self.format_value(value)}:
            start = f'<option value="{html.escape(chosen)}">'
            options = options.replace(start, f"{start[:-1]} selected>")
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        # Safe: every value in it went through html.escape.
        return mark_safe(f"<select{_attributes(final)}>\n{options}\n</select>")


class _PlainInput(forms.widgets.Input):
    """An input written here rather than by Django's widget template (the same HTML:
    type, name, value, then the attributes): the filter form's four date and time
    fields took ~0.8 ms a report page as templates."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        shown = widget["value"]
        # Safe: the value goes through html.escape, as the template's autoescape does.
        value_attr = "" if shown is None else f' value="{html.escape(str(shown))}"'
        # The attributes in their order, as ``attrs.html`` writes them (``flatatt`` would
        # put the boolean ones last).
        attributes = "".join(
            f" {html.escape(str(key))}"
            if value is True
            else f' {html.escape(str(key))}="{html.escape(str(value))}"'
            for key, value in widget["attrs"].items()
            if value is not False
        )
        # Safe: every text in it went through html.escape (type and name as
        # format_html would: conditional_escape).
        return mark_safe(
            f'<input type="{_html(widget["type"])}" name="{_html(widget["name"])}"'
            f"{value_attr}{attributes}>"
        )


class PlainDateInput(_PlainInput, forms.DateInput):
    """``forms.DateInput`` without its template."""


class PlainDateTimeInput(_PlainInput, forms.DateTimeInput):
    """``forms.DateTimeInput`` without its template."""


class _Options(BaseChoiceIterator):
    """Choices already in their final form (value, label): Django takes a choice
    iterator as it is, where it would normalise a list item by item for the field and
    again for its widget (300 packages at the full scale)."""

    def __init__(self, options: list[tuple[Any, str]]) -> None:
        self.options = options

    def __iter__(self) -> Iterator[tuple[Any, str]]:
        return iter(self.options)


class ReportFilterForm(forms.Form):
    """The report filters, as query parameters ``from``, ``to``, ``package_id``,
    ``version_id``, ``as_of`` and ``known_at``.

    The same names as the API's; ``to`` is excluded from the range.
    """

    def __init__(
        self,
        data: Any,
        *,
        packages: list[tuple[int, str]],
        versions: list[tuple[int, int]],
    ) -> None:
        """``versions`` are the chosen package's (the version select lists only those;
        choosing a package fetches its versions with htmx, or on Apply)."""
        super().__init__(data)
        date = PlainDateInput(attrs={"type": "date"}, format="%Y-%m-%d")
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
            choices=_Options([("", "All packages"), *packages]),
            widget=PlainSelect(
                attrs={
                    "hx-get": reverse("web:report-versions"),
                    "hx-trigger": "change",
                    "hx-target": "#id_version_id",
                    "hx-swap": "innerHTML",
                }
            ),
        )
        self.fields["version_id"] = forms.TypedChoiceField(
            required=False,
            coerce=int,
            empty_value=None,
            label="Version",
            choices=_Options(
                [("", "All versions"), *((pk, f"v{number}") for pk, number in versions)]
            ),
            widget=PlainSelect(),
        )
        moment = PlainDateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
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
    versions = selectors.version_choices(
        _chosen(request, "package_id"), _chosen(request, "version_id")
    )
    request._report_versions = versions  # type: ignore[attr-defined]
    form = ReportFilterForm(request.GET, packages=package_choices(request), versions=versions)
    filters = form.report_filters()
    return form, None if filters is None else for_viewer(filters, request.user)


_form = filter_form


def package_choices(request: HttpRequest) -> list[tuple[int, str]]:
    """``selectors.package_choices()``, read once per request: the package filter's
    options, which are also the packages the report lists when none is chosen."""
    found: list[tuple[int, str]] | None = getattr(request, "_report_packages", None)
    if found is None:
        found = selectors.package_choices()
        request._report_packages = found  # type: ignore[attr-defined]
    return found


def _chosen(request: HttpRequest, name: str) -> int | None:
    """The id in the query parameter ``name``, if it is one (the form checks it)."""
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) < 19 else None


@role_required(*PEOPLE_READERS)
@reads_from_replica
def report_versions(request: HttpRequest) -> HttpResponse:
    """The version filter's options for the chosen package (htmx, on choosing one)."""
    versions = selectors.version_choices(_chosen(request, "package_id"))
    return render(request, "web/_report_version_options.html", {"versions": versions})


# The page number parameter of each paged table; the learners' is "page" (the first).
_PAGE_PARAMS = {"packages": "packages_page", "courses": "courses_page", "learners": "page"}


def _page(request: HttpRequest, name: str = "page") -> int:
    try:
        return max(1, int(request.GET.get(name, "1")))
    except ValueError:
        return 1


@dataclasses.dataclass(frozen=True)
class TablePage:
    """Where one paged table is: its rows ``first`` to ``last`` of ``total``, and the
    links to the previous and next page (None: none), keeping the others' pages.

    ``total`` is None when the count follows the page (``count_url``, fetched once the
    page is shown): then ``pages`` is None too, and ``next`` is known from the page's
    rows."""

    number: int
    pages: int | None
    total: int | None
    first: int
    last: int
    previous: str | None
    next: str | None
    count_url: str | None = None


def _link(query: str, numbers: dict[str, int], kind: str, to: int) -> str:
    params = {_PAGE_PARAMS[k]: (to if k == kind else n) for k, n in numbers.items()}
    shown = urlencode({name: n for name, n in params.items() if n > 1})
    return "?" + "&".join(p for p in (query, shown) if p) + f"#report-{kind}"


def _pages(query: str, numbers: dict[str, int], kind: str, total: int, per_page: int) -> TablePage:
    """The pager of table ``kind`` at ``numbers[kind]`` (already within its pages)."""
    number = numbers[kind]
    pages = max(1, -(-total // per_page))
    return TablePage(
        number=number,
        pages=pages,
        total=total,
        first=(number - 1) * per_page + 1,
        last=min(number * per_page, total),
        previous=_link(query, numbers, kind, number - 1) if number > 1 else None,
        next=_link(query, numbers, kind, number + 1) if number < pages else None,
    )


def _pages_counted_later(
    query: str, numbers: dict[str, int], kind: str, shown: int, more: bool, per_page: int
) -> TablePage:
    """The pager of table ``kind`` at ``numbers[kind]``, which shows ``shown`` rows and
    has ``more`` after them, its total counted by a request of its own."""
    number = numbers[kind]
    first = (number - 1) * per_page + 1
    return TablePage(
        number=number,
        pages=None,
        total=None,
        first=first,
        last=first + shown - 1,
        previous=_link(query, numbers, kind, number - 1) if number > 1 else None,
        next=_link(query, numbers, kind, number + 1) if more else None,
        count_url=reverse("web:report-learner-count") + (f"?{query}" if query else ""),
    )


def _count_follows(filters: ReportFilters) -> bool:
    """Whether the learners' count follows the page: over a time range it reads every
    enrollment begun in it (a year at the benchmark's full scale: 197,000 enrollments of
    125,000 learners, ~100 ms, a third of the page), so the page shows its learners at
    once and fetches their count after (ADR 0036, amended). Every other count is one
    summary row or an index count; a timeline's learners are worked out anyway."""
    return (filters.start is not None or filters.end is not None) and not filters.on_timeline


@role_required(*PEOPLE_READERS)
@reads_from_replica
def reports(request: HttpRequest) -> HttpResponse:
    """Show the reports for the chosen filters: totals, chart, and every table."""
    form, filters = _form(request)
    context: dict[str, Any] = {"form": form, "filters": filters}
    long_timeline = None if filters is None else export_jobs.long_timeline(filters)
    if filters is not None and long_timeline is not None:
        # Worked out from every enrollment's events: prepared in the background (ADR 0039).
        context.update(
            long_timeline=long_timeline,
            timeline_limit=export_jobs.timeline_inline_max(),
            query=form.query(),
            may_export=not filters.scoped,
        )
    elif filters is not None:
        # Under the limit, a timeline's answers are worked out once for every table.
        with scope.answers_kept():
            context.update(_report(request, form, filters))
    return render(request, "web/reports.html", context)


def _report(request: HttpRequest, form: ReportFilterForm, filters: ReportFilters) -> dict[str, Any]:
    """The reports page's totals, chart, tables and pagers for valid filters."""
    context: dict[str, Any] = {}
    query = form.query()
    asked = {kind: _page(request, param) for kind, param in _PAGE_PARAMS.items()}
    counted_later = _count_follows(filters)
    learner_total = None if counted_later else selectors.learner_count(filters)
    numbers = dict(asked)
    if learner_total is not None:
        numbers["learners"] = min(asked["learners"], max(1, -(-learner_total // LEARNERS_PER_PAGE)))
    choices = package_choices(request)
    package_page = selectors.package_report_page(
        filters,
        offset=(numbers["packages"] - 1) * PACKAGES_PER_PAGE,
        limit=PACKAGES_PER_PAGE,
        choices=choices,
    )
    if not package_page.rows and numbers["packages"] > 1:
        numbers["packages"] = max(1, -(-package_page.package_count // PACKAGES_PER_PAGE))
        package_page = selectors.package_report_page(
            filters,
            offset=(numbers["packages"] - 1) * PACKAGES_PER_PAGE,
            limit=PACKAGES_PER_PAGE,
            choices=choices,
        )
    # A chosen package's versions, read once for both tables.
    version_ids = package_page.version_ids
    course_page = selectors.course_page(
        filters,
        offset=(numbers["courses"] - 1) * COURSES_PER_PAGE,
        limit=COURSES_PER_PAGE,
        version_ids=version_ids,
    )
    if not course_page.rows and numbers["courses"] > 1:
        numbers["courses"] = max(1, -(-course_page.course_count // COURSES_PER_PAGE))
        course_page = selectors.course_page(
            filters,
            offset=(numbers["courses"] - 1) * COURSES_PER_PAGE,
            limit=COURSES_PER_PAGE,
            version_ids=version_ids,
        )
    # The chart draws SHOWN_VERSIONS versions and "Other versions"; the table behind
    # it is shown up to CHART_TABLE_VERSIONS versions: past that, the database adds
    # the others up (ADR 0036, the chart folded by the database).
    over_time = selectors.completions_over_time(
        filters, top=SHOWN_VERSIONS, whole_up_to=CHART_TABLE_VERSIONS
    )
    # Counted later: one row more than the page says whether a next page follows.
    found = _learner_page(filters, numbers["learners"], more=counted_later)
    if counted_later and not found and numbers["learners"] > 1:
        # Past the last page (an old link): counted now, to show the last page.
        learner_total = selectors.learner_count(filters)
        numbers["learners"] = max(1, -(-learner_total // LEARNERS_PER_PAGE))
        counted_later = False
        found = _learner_page(filters, numbers["learners"], more=False)
    more = len(found) > LEARNERS_PER_PAGE
    learners = tables.learners_table(found[:LEARNERS_PER_PAGE])
    report_tables = {
        "packages": tables.packages_table(package_page.rows),
        "completions": tables.completions_table(over_time),
        "courses": tables.courses_table(course_page.rows),
        # The template and the tests both read the rows: not a one-shot stream.
        "learners": dataclasses.replace(learners, rows=list(learners.rows)),
    }
    # The standing of the packages on the page, from the summaries, which count
    # everyone: a manager reads their people's standing on the matrix and the
    # standing pages.
    standing = (
        {}
        if filters.scoped
        else lifecycle_selectors.standing_counts_by_package(
            [p.package_id for p in package_page.rows],
            expiring_within_days=STANDING_WITHIN_DAYS,
            versions=_standing_versions(request, filters, package_page),
        )
    )
    learner_pager = (
        _pages(query, numbers, "learners", learner_total, LEARNERS_PER_PAGE)
        if learner_total is not None
        else _pages_counted_later(
            query, numbers, "learners", min(len(found), LEARNERS_PER_PAGE), more, LEARNERS_PER_PAGE
        )
    )
    context.update(
        standing=[
            (p, [(key, label, standing[p.package_id][key]) for key, label in STANDING_LABELS])
            for p in package_page.rows
            if p.package_id in standing
        ],
        standing_labels=STANDING_LABELS,
        standing_within=STANDING_WITHIN_DAYS,
        totals=package_page.totals,
        package_count=package_page.package_count,
        over_time=over_time,
        chart=completions_chart(over_time),
        chart_table=over_time.other is None and len(over_time.series) <= CHART_TABLE_VERSIONS,
        tables=report_tables,
        query=query,
        pagers={
            "packages": _pages(
                query, numbers, "packages", package_page.package_count, PACKAGES_PER_PAGE
            ),
            "courses": _pages(
                query, numbers, "courses", course_page.course_count, COURSES_PER_PAGE
            ),
            "learners": learner_pager,
        },
        learner_total=learner_total,
        learner_page=learner_pager.number,
        learner_pages=learner_pager.pages,
        learner_first=learner_pager.first,
        learner_last=learner_pager.last,
    )
    return context


def _learner_page(filters: ReportFilters, number: int, *, more: bool) -> list[Any]:
    """The learners' rows of page ``number``, and with ``more`` the next one's first."""
    return list(
        selectors.learner_rows(
            filters,
            offset=(number - 1) * LEARNERS_PER_PAGE,
            limit=LEARNERS_PER_PAGE + (1 if more else 0),
        )
    )


@role_required(*PEOPLE_READERS)
@reads_from_replica
def report_learner_count(request: HttpRequest) -> HttpResponse:
    """How many learners the reports page lists for its filters: fetched by the page
    once shown (htmx, the number alone), or a page of its own without JavaScript."""
    form, filters = _form(request)
    if filters is None:
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain")
    total = selectors.learner_count(filters)
    if request.headers.get("HX-Request"):
        return HttpResponse(f"{total:,}", content_type="text/plain; charset=utf-8")
    query = form.query()
    return render(
        request,
        "web/report_learner_count.html",
        {
            "total": total,
            "filters": filters,
            "back": reverse("web:reports") + (f"?{query}" if query else "") + "#report-learners",
        },
    )


def _standing_versions(
    request: HttpRequest, filters: ReportFilters, package_page: selectors.PackagePage
) -> dict[int, int] | None:
    """The released versions of the packages on the page, with their package, if this
    request has read them already: the package table lists them all unless a version is
    chosen; then the version filter's options are its package's (None: read them)."""
    if filters.version_id is None:
        return {v.version_id: p.package_id for p in package_page.rows for v in p.versions}
    if filters.package_id is None or len(package_page.rows) != 1:
        return None
    package_id = package_page.rows[0].package_id
    if package_id != filters.package_id:
        return None
    options: list[tuple[int, int]] = getattr(request, "_report_versions", [])
    return {version_id: package_id for version_id, _ in options} or None


def _prepared_in_background(
    request: HttpRequest, filters: ReportFilters, enrollments: int
) -> HttpResponse:
    """A download of a report on a past timeline too long to work out in the request:
    the offer to prepare every table as an XLSX job, or (a manager, whose report the
    background exports do not narrow) the reports page saying why it is not shown."""
    if filters.scoped:
        return redirect(f"{reverse('web:reports')}?{request.GET.urlencode()}")
    return offer(request, "report", 0, timeline=enrollments)


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
    long_timeline = export_jobs.long_timeline(filters)
    if long_timeline is not None:
        return _prepared_in_background(request, filters, long_timeline)
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
    long_timeline = export_jobs.long_timeline(filters)
    if long_timeline is not None:
        return _prepared_in_background(request, filters, long_timeline)
    rows = export_jobs.report_rows(filters)
    # A manager's report is written at once: the background exports count everyone.
    if export_jobs.runs_as_job(rows) and not filters.scoped:
        return offer(request, "report", rows)
    # An unnamed temporary file: gone from disk already, freed when the response closes it.
    spool = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    try:
        # Under the limit, a timeline's answers are worked out once for every sheet.
        with scope.answers_kept():
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
