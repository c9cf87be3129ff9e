"""The training matrix page, a manager's home (their team's matrix and overdue list),
and a package's audience (rule, impact preview, save). Thin: parse, call the read model
or services, render."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.audiences import api as audiences
from coursepack.audiences import selectors as audience_selectors
from coursepack.errors import DomainError, NotFound
from coursepack.jobs import api as jobs
from coursepack.jobs import exports as export_jobs
from coursepack.packaging import selectors as packaging
from coursepack.reports import exports, matrix
from coursepack.web.access import STAFF, role_required
from coursepack.web.export_offer import offer
from coursepack.web.operations.common import ADMINS, done, show_error

MATRIX_ROLES = (*STAFF, Role.MANAGER)


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 1 <= number <= 2**53 else None


def _query(request: HttpRequest) -> tuple[matrix.MatrixFilters, str, int, int]:
    """Parse the matrix's filters, sort and pages from the query string (lenient: a
    value that makes no sense is ignored)."""
    get = request.GET
    state = get.get("state", "")
    packages = tuple(p for p in (_int(v) for v in get.getlist("package")) if p is not None)
    manager_id = request.user.pk if get.get("reports") == "direct" else None
    filters = matrix.MatrixFilters(
        org_unit_id=_int(get.get("unit")),
        manager_id=manager_id,
        state=state if state in matrix.STATES else "",
        package_ids=packages[:300],
        search=get.get("q", "").replace("\x00", "")[:150],
    )
    sort = get.get("sort", "name")
    return filters, sort, _int(get.get("page")) or 1, _int(get.get("cols")) or 1


def _matrix_context(request: HttpRequest) -> dict[str, Any]:
    scope = matrix.scope_for(request.user)  # type: ignore[arg-type]
    filters, sort, page, cols = _query(request)
    table = matrix.matrix_page(scope, filters, sort=sort, page=page, column_page=cols)
    return {
        "table": table,
        "filters": filters,
        "units": matrix.unit_options(scope),
        "states": [(k, label) for k, (label, _) in matrix.STATES.items()],
        "is_manager": accounts.role_of(request.user) == Role.MANAGER,
        "direct": request.GET.get("reports") == "direct",
        "export_query": request.GET.urlencode(),
    }


@role_required(*MATRIX_ROLES)
def matrix_view(request: HttpRequest) -> HttpResponse:
    """Show the training matrix: people by packages, each cell the standing now."""
    return render(request, "web/matrix/matrix.html", _matrix_context(request))


def export_query(request: HttpRequest) -> tuple[matrix.MatrixFilters, str]:
    """Return the matrix filters and sort of the query string (as the page reads them)."""
    filters, sort, _, _ = _query(request)
    return filters, sort if sort in matrix.SORTS else "name"


@role_required(*MATRIX_ROLES)
def matrix_xlsx(request: HttpRequest) -> HttpResponseBase:
    """Send the whole filtered matrix as XLSX (cells coloured by standing, a legend); a
    large one is offered as a background export (ADR 0031)."""
    filters, sort, _, _ = _query(request)
    rows = export_jobs.matrix_rows(request.user, filters)  # type: ignore[arg-type]
    if export_jobs.runs_as_job(rows):
        return offer(request, "matrix", rows)
    spool = matrix.matrix_xlsx_file(matrix.scope_for(request.user), filters, sort=sort)  # type: ignore[arg-type]
    return FileResponse(
        spool,
        as_attachment=True,
        filename=matrix.export_filename(timezone.localdate()),
        content_type=exports.XLSX_CONTENT_TYPE,
    )


@role_required(Role.MANAGER)
def team(request: HttpRequest) -> HttpResponse:
    """A manager's home: who in their team is overdue, and their team's matrix."""
    context = _matrix_context(request)
    context["overdue"] = matrix.overdue_list(matrix.scope_for(request.user), limit=50)  # type: ignore[arg-type]
    return render(request, "web/matrix/team.html", context)


class AudienceForm(forms.Form):
    """A package's audience: AND across the kinds, OR within a kind."""

    org_unit_ids = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        label="Org units (each with everything below it)",
        widget=forms.SelectMultiple({"size": 8}),
    )
    job_titles = forms.CharField(
        required=False,
        label="Job titles (one per line; any of them)",
        widget=forms.Textarea({"rows": 3}),
        max_length=40_000,
    )
    hired_after = forms.DateField(
        required=False,
        label="Hired after (leave empty for any hire date)",
        widget=forms.DateInput({"type": "date"}),
    )
    leaver_policy = forms.ChoiceField(
        choices=[
            ("withdraw", "Withdraw leavers' unfinished enrollments (completed records are kept)"),
            ("keep", "Keep leavers' enrollments"),
        ],
        initial="withdraw",
        label="When someone leaves the audience",
        widget=forms.RadioSelect,
    )
    notes = forms.CharField(
        required=False, max_length=20_000, label="Notes", widget=forms.Textarea({"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["org_unit_ids"]
        field.choices = audience_selectors.unit_options()

    def rule(self) -> audiences.Rule:
        data = self.cleaned_data
        return audiences.check_rule(
            org_unit_ids=data["org_unit_ids"],
            job_titles=[t for t in data["job_titles"].splitlines() if t.strip()],
            hired_after=data["hired_after"],
            leaver_policy=data["leaver_policy"],
        )


def _initial(package_id: int) -> dict[str, Any] | None:
    try:
        audience = audience_selectors.audience_of_package(package_id)
    except NotFound:
        return None
    rule = audience_selectors.rule_of(audience)
    return {
        "org_unit_ids": list(rule.org_unit_ids),
        "job_titles": "\n".join(rule.job_titles),
        "hired_after": rule.hired_after,
        "leaver_policy": rule.leaver_policy,
    }


@role_required(*STAFF)
def audience(request: HttpRequest, package_id: int) -> HttpResponse:
    """Show a package's audience; admins change it after previewing its impact."""
    try:
        package = packaging.get_package(package_id)
    except NotFound:
        raise Http404("There is no such package.") from None
    is_admin = accounts.role_of(request.user) in ADMINS
    initial = _initial(package_id)
    impact = None
    if request.method == "POST" and is_admin:
        form = AudienceForm(request.POST)
        if form.is_valid():
            try:
                rule = form.rule()
                if request.POST.get("step") != "save":
                    impact = audiences.preview(package_id=package_id, rule=rule)
                else:
                    saved, job = jobs.save_audience(
                        actor=request.user,
                        package_id=package_id,
                        rule=rule,
                        notes=form.cleaned_data["notes"],
                    )
                    if job is not None:
                        done(
                            request,
                            f"Saved the audience ({saved.impact.summary}); a job applies it.",
                        )
                        return redirect(reverse("web:job", args=[job.pk]))
                    i = saved.impact
                    done(
                        request,
                        f"Saved the audience: {len(i.enrol)} enrolled, {len(i.withdraw)} "
                        f"withdrawn, {len(i.keep)} leavers' records kept.",
                    )
                    return redirect(reverse("web:audience", args=[package_id]))
            except DomainError as exc:
                show_error(form, exc)
    else:
        form = AudienceForm(initial=initial or {"leaver_policy": "withdraw"})
    return render(
        request,
        "web/matrix/audience.html",
        {
            "package": package,
            "form": form,
            "impact": impact,
            "has_audience": initial is not None,
            "is_admin": is_admin,
        },
        status=400 if form.errors else 200,
    )
