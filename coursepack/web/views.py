"""Server-rendered pages (thin: parse, call selectors, render)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.errors import NotFound
from coursepack.learning import selectors as learning_selectors
from coursepack.packaging import selectors
from coursepack.web.access import EVERYONE, STAFF, role_required


@role_required(*EVERYONE)
def home(request: HttpRequest) -> HttpResponse:
    """List every package with its active version, draft and history.

    A learner has no use for that list: they are taken to their own transcript.
    """
    if accounts.role_of(request.user) == Role.LEARNER:
        return redirect("web:transcript", learner_id=request.user.pk)
    summaries = learning_selectors.package_summaries(timezone.now())
    return render(request, "web/package_list.html", {"summaries": summaries})


@role_required(*STAFF)
def package_detail(request: HttpRequest, package_id: int) -> HttpResponse:
    """Show one version of a package (the active one unless ``?v=N``), its rules and history."""
    now = timezone.now()
    found = learning_selectors.package_summaries(now, package_ids=[package_id])
    if not found:
        raise Http404("There is no such package.")
    summary = found[0]
    wanted = request.GET.get("v")
    shown = None
    for entry in summary.versions:
        if (wanted and str(entry.version.version_number) == wanted) or (
            not wanted and entry.state == "active"
        ):
            shown = entry
    if shown is None and summary.versions:
        if wanted:
            raise Http404("That package has no such version.")
        shown = summary.versions[0]
    tree = changes = previous = None
    if shown is not None:
        try:
            tree = selectors.requirement_tree(shown.version.pk)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        older = [
            v for v in summary.versions if v.version.version_number < shown.version.version_number
        ]
        if older:
            previous = older[0].version
            changes = selectors.diff_versions(previous.pk, shown.version.pk).summary()
    return render(
        request,
        "web/package_detail.html",
        {
            "summary": summary,
            "shown": shown,
            "tree": tree,
            "changes": changes,
            "previous": previous,
        },
    )
