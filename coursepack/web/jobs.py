"""Operations pages: a background job's progress, and the audit chain's verification."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from coursepack.errors import NotFound
from coursepack.jobs import api as jobs
from coursepack.jobs import selectors
from coursepack.web.access import STAFF, role_required


@role_required(*STAFF)
def job_page(request: HttpRequest, job_id: int) -> HttpResponse:
    """Show job ``job_id``; the page reloads every few seconds until the job ends."""
    try:
        job = selectors.job_progress(job_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    return render(
        request,
        "web/job.html",
        {"job": job, "running": job.status in ("queued", "running")},
    )


@role_required(*STAFF)
def audit_verification(request: HttpRequest) -> HttpResponse:
    """Show the last full verification of the audit log and check what was appended
    since (auditors' page); POST starts a full verification in the background."""
    if request.method == "POST":
        job = jobs.start_audit_verify(actor=request.user)
        messages.success(
            request, "A full verification of the audit log is queued; this page follows it."
        )
        return redirect(reverse("web:job", args=[job.pk]))
    return render(
        request,
        "web/audit_verification.html",
        {"status": selectors.verification_status()},
    )
