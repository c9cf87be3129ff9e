"""The page that offers to prepare a large export in the background (ADR 0031): where
every XLSX download goes when the one rule (``jobs.exports.runs_as_job``) says job."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from coursepack.jobs import exports

TITLES = {
    "report": "All report tables",
    "matrix": "Training matrix",
    "standing": "Learners in one standing",
    "exceptions": "Exceptions",
}


def back_to(export: str, package_id: int | None) -> str:
    """Return the page an export of ``export`` is requested from."""
    if export in ("standing", "exceptions"):
        return reverse(f"web:{export}", args=[package_id])
    return reverse("web:reports" if export == "report" else "web:matrix")


def offer(
    request: HttpRequest,
    export: str,
    rows: int,
    *,
    package_id: int | None = None,
    timeline: int | None = None,
) -> HttpResponse:
    """Render the page that offers to prepare a large export in the background: the
    one rule (``exports.runs_as_job``) sent the download here, or (``timeline``: the
    enrollments it works out) a report on a past timeline too long for a request."""
    query = request.GET.copy()
    if package_id is not None:
        query["package"] = str(package_id)
    return render(
        request,
        "web/exports/offer.html",
        {
            "export": export,
            "title": TITLES[export],
            "rows": rows,
            "limit": exports.inline_max_rows(),
            "timeline": timeline,
            "timeline_limit": exports.timeline_inline_max(),
            "query": query.urlencode(),
            "keep_hours": exports.keep_hours(),
            "back": back_to(export, package_id),
        },
    )
