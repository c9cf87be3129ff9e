"""Operations pages: a background job's progress, and the audit chain's verification."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.errors import NotFound
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
    """Verify the audit chain now and say whether it is intact (auditors' page)."""
    report = audit.verify_chain()
    return render(
        request,
        "web/audit_verification.html",
        {"report": report, "verified_at": timezone.now()},
    )
