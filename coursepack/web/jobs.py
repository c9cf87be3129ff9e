"""The page of a background job: its state and a progress bar that refreshes itself."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from coursepack.accounts.models import Role
from coursepack.errors import NotFound
from coursepack.jobs import selectors
from coursepack.web.access import role_required


@role_required(Role.ADMIN, Role.AUDITOR)
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
