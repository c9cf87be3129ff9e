"""Large XLSX exports on pages: the offer to prepare one in the background, its
progress (htmx polling), and its download (ADR 0031). Thin: parse, call the
export service, render."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from coursepack.errors import DomainError, NotFound
from coursepack.jobs import exports
from coursepack.jobs.errors import ExportExpired, ExportNotReady
from coursepack.reports.exports import XLSX_CONTENT_TYPE
from coursepack.web import lifecycle, matrix, reports
from coursepack.web.access import EVERYONE, PEOPLE_READERS, role_required
from coursepack.web.export_offer import TITLES, back_to


def _moment(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _package(request: HttpRequest) -> int:
    try:
        return int(request.GET.get("package", ""))
    except ValueError:
        raise Http404("There is no such package.") from None


@require_POST
@role_required(*PEOPLE_READERS)
def start(request: HttpRequest) -> HttpResponseBase:
    """Queue the export the query string describes (``export=report|matrix|standing|
    exceptions`` and that page's filters), then follow it on its page."""
    export = request.GET.get("export", "")
    package_id = None
    try:
        if export == "report":
            form, filters = reports.filter_form(request)
            if filters is None:
                messages.error(
                    request, f"The report filters are not valid: {form.errors.as_text()}"
                )
                return redirect(reverse("web:reports"))
            job = exports.start_report_export(actor=request.user, filters=filters)  # type: ignore[arg-type]
        elif export == "matrix":
            filters_, sort = matrix.export_query(request)
            job = exports.start_matrix_export(actor=request.user, filters=filters_, sort=sort)  # type: ignore[arg-type]
        elif export == "standing":
            package_id = _package(request)
            package, name, days, search = lifecycle.standing_query(request, package_id)
            job = exports.start_standing_export(
                actor=request.user,  # type: ignore[arg-type]
                package_id=package.pk,
                standing=name,
                within_days=days,
                search=search,
            )
        elif export == "exceptions":
            package_id = _package(request)
            package, _, days, _ = lifecycle.standing_query(request, package_id)
            section = request.GET.get("section", "due-before")
            job = exports.start_exceptions_export(
                actor=request.user,  # type: ignore[arg-type]
                package_id=package.pk,
                section=section,
                within_days=days,
            )
        else:
            raise Http404("There is no such export.")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back_to(export, package_id) if export in TITLES else reverse("web:home"))
    messages.success(
        request, "The export is being prepared in the background; this page follows it."
    )
    return redirect(reverse("web:export", args=[job.pk]))


@role_required(*EVERYONE)
def export_page(request: HttpRequest, job_id: int) -> HttpResponse:
    """Show an export's progress (updated every few seconds while it runs) and its
    download when written; only its requester and admins see it."""
    try:
        job = exports.export_job(viewer=request.user, job_id=job_id)  # type: ignore[arg-type]
        progress = exports.export_progress(viewer=request.user, job_id=job_id)  # type: ignore[arg-type]
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    export = str(job.params.get("export", "report"))
    removed = bool(progress.result.get("removed_at"))
    return render(
        request,
        "web/exports/export.html",
        {
            "job": progress,
            "title": TITLES.get(export, export),
            "running": progress.status in ("queued", "running"),
            "expires_at": exports.expires_at(job),
            "removed": removed,
            "filename": progress.result.get("filename", ""),
            "as_of": _moment(progress.result.get("as_of")),
            "steps": exports.counts_steps(job),
        },
    )


@role_required(*EVERYONE)
def download(request: HttpRequest, job_id: int) -> HttpResponseBase:
    """Send a finished export's file (its requester and admins)."""
    try:
        found = exports.export_file(viewer=request.user, job_id=job_id)  # type: ignore[arg-type]
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except (ExportNotReady, ExportExpired) as exc:
        messages.error(request, exc.message)
        return redirect(reverse("web:export", args=[job_id]))
    return FileResponse(
        found.path.open("rb"),
        as_attachment=True,
        filename=found.filename,
        content_type=XLSX_CONTENT_TYPE,
    )
