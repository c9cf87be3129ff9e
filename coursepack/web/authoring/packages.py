"""Packages: the list, creating one, the package page with one version shown, and the
package-level actions (new version, discard draft, retire, reinstate, delete).

Thin: parse, call ``packaging.api`` and the selectors, render or redirect with a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.audit.selectors import LastChange
from coursepack.errors import DomainError, NotFound
from coursepack.jobs import api as jobs
from coursepack.learning import selectors as learning
from coursepack.packaging import api as packaging
from coursepack.packaging import overviews, selectors
from coursepack.packaging.errors import PackageKeyTaken
from coursepack.web.access import ADMIN, EVERYONE, STAFF, role_required
from coursepack.web.authoring.common import actor, not_found, refused
from coursepack.web.authoring.errors import FormErrors, form_errors

LABELS = {"name": "Name", "description": "Description", "category": "Category", "key": "Key"}
ENROLLMENTS_PER_PAGE = 25
PACKAGES_PER_PAGE = 20
STATUS_FILTERS = [
    ("", "Any status"),
    ("not_started", "Not started"),
    ("in_progress", "In progress"),
    ("completed", "Completed"),
]


@dataclass(frozen=True)
class Card:
    """One package as the list shows it."""

    summary: selectors.PackageSummary
    actions: overviews.PackageActions
    released: selectors.VersionSummary | None
    edited: LastChange | None


@role_required(*EVERYONE)
def package_list(request: HttpRequest) -> HttpResponse:
    """List packages in three sections (drafts, active, retired), searchable by name.

    A learner has no use for that list: they are taken to "My training"; a manager
    to their team's page (the list counts everyone's enrollments, outside their scope).
    """
    role = accounts.role_of(request.user)
    if role == Role.LEARNER:
        return redirect("web:my-training")
    if role == Role.MANAGER:
        return redirect("web:team")
    search = request.GET.get("q", "").strip()
    page = Paginator(overviews.package_ids(search), PACKAGES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    summaries = learning.package_summaries(timezone.now(), package_ids=list(page.object_list))
    summaries.sort(key=lambda s: (s.package.name.lower(), s.package.pk))
    edits = overviews.last_edits([s.draft.version.pk for s in summaries if s.draft])
    cards = [
        Card(
            summary=s,
            actions=overviews.package_actions(s),
            released=next((v for v in s.versions if v.state != "draft"), None),
            edited=edits.get(s.draft.version.pk) if s.draft else None,
        )
        for s in summaries
    ]
    retired = [c for c in cards if c.summary.package.status == "retired"]
    open_cards = [c for c in cards if c.summary.package.status != "retired"]
    drafts = [c for c in open_cards if c.summary.draft or not c.summary.versions]
    active = [c for c in open_cards if c.released is not None]
    return render(
        request,
        "web/authoring/package_list.html",
        {
            "drafts": drafts,
            "active": active,
            "retired": retired,
            "search": search,
            "total": page.paginator.count,
            "page": page,
        },
    )


@role_required(*ADMIN)
def package_create(request: HttpRequest) -> HttpResponse:
    """Create a package; its draft v1 opens in the editor."""
    values = {"name": "", "key": "", "description": "", "category": ""}
    errors = FormErrors(labels=LABELS)
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        try:
            draft = packaging.create_package(
                actor=actor(request),
                name=values["name"],
                key=values["key"].strip() or None,
                description=values["description"],
                category=values["category"],
            )
        except PackageKeyTaken:
            errors.add(
                "key", "Another package already has this key: choose another, or leave it blank"
            )
        except DomainError as exc:
            errors = form_errors(exc, LABELS)
        else:
            messages.success(
                request, f"Package “{draft.name}” was created; add its content to draft v1."
            )
            return redirect("web:draft", kind="package", draft_id=draft.pk)
    return render(
        request,
        "web/authoring/package_form.html",
        {"values": values, "errors": errors},
        status=422 if errors else 200,
    )


@role_required(*STAFF)
def package_page(request: HttpRequest, package_id: int) -> HttpResponse:
    """Show a package with one version (the active one unless ``?v=N``): its state and
    dates, requirements, changes from the version before, enrollments and history."""
    now = timezone.now()
    found = learning.package_summaries(now, package_ids=[package_id])
    if not found:
        raise Http404("There is no such package.")
    summary = found[0]
    wanted = request.GET.get("v", "")
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
    context: dict[str, object] = {
        "summary": summary,
        "shown": shown,
        "actions": overviews.package_actions(summary),
        "status_filters": STATUS_FILTERS,
    }
    if shown is not None:
        try:
            context["tree"] = selectors.requirement_tree(shown.version.pk)
        except NotFound as exc:
            raise not_found(exc) from exc
        older = [
            v for v in summary.versions if v.version.version_number < shown.version.version_number
        ]
        if older:
            context["previous"] = older[0].version
            context["changes"] = selectors.diff_versions(
                older[0].version.pk, shown.version.pk
            ).summary()
        status = request.GET.get("status", "")
        if status not in {s for s, _ in STATUS_FILTERS}:
            status = ""
        context["status"] = status
        if shown.state != "draft":
            context["page"] = Paginator(
                learning.version_enrollments(shown.version.pk, status=status),
                ENROLLMENTS_PER_PAGE,
            ).get_page(request.GET.get("page"))
        if shown.state == "draft":
            context["edited"] = overviews.last_edits([shown.version.pk]).get(shown.version.pk)
    return render(request, "web/authoring/package_page.html", context)


def _back(package_id: int) -> HttpResponse:
    return redirect("web:package", package_id=package_id)


@require_POST
@role_required(*ADMIN)
def new_version(request: HttpRequest, package_id: int) -> HttpResponse:
    """Start the next draft as a copy of the version named (or the active one); open it."""
    found = learning.package_summaries(timezone.now(), package_ids=[package_id])
    if not found:
        raise Http404("There is no such package.")
    summary = found[0]
    source_id = request.POST.get("from", "")
    released = [v for v in summary.versions if v.state != "draft"]
    source = next((v for v in released if str(v.version.pk) == source_id), None)
    if source is None:
        source = summary.active or (released[0] if released else None)
    if source is None:
        messages.error(request, "Nothing is published yet: edit and publish the draft instead.")
        return _back(package_id)
    try:
        draft = packaging.create_draft_from(actor=actor(request), version_id=source.version.pk)
    except DomainError as exc:
        refused(request, exc)
        return _back(package_id)
    messages.success(
        request,
        f"Draft v{draft.version_number} was created from v{source.version.version_number}. "
        f"Learners on v{source.version.version_number} keep it; new enrollments get "
        f"v{draft.version_number} once it is published.",
    )
    return redirect("web:draft", kind="package", draft_id=draft.pk)


@require_POST
@role_required(*ADMIN)
def discard_draft(request: HttpRequest, version_id: int) -> HttpResponse:
    """Discard a draft; published and archived versions are never deleted."""
    try:
        version = selectors.get_version(version_id)
        packaging.discard_draft(actor=actor(request), version_id=version_id)
    except NotFound as exc:
        raise not_found(exc) from exc
    except DomainError as exc:
        refused(request, exc)
        return redirect("web:package", package_id=version.package_id)
    messages.success(request, f"Draft v{version.version_number} of “{version.name}” was discarded.")
    return redirect("web:package", package_id=version.package_id)


@require_POST
@role_required(*ADMIN)
def package_status(request: HttpRequest, package_id: int) -> HttpResponse:
    """Retire a package (enrolled learners keep their version) or reinstate it."""
    change = request.POST.get("change")
    notes = request.POST.get("notes", "")
    try:
        if change == "retire":
            package = packaging.retire_package(
                actor=actor(request), package_id=package_id, notes=notes
            )
            messages.success(
                request,
                f"{package.name} is retired: no new enrollments or publishes; learners "
                "already enrolled keep their version.",
            )
        elif change == "reinstate":
            package, job = jobs.reinstate_package(
                actor=actor(request), package_id=package_id, notes=notes
            )
            audience = " Its audience is being enrolled again (a job)." if job else ""
            messages.success(request, f"{package.name} is open for enrollments again.{audience}")
        else:
            messages.error(request, "Choose retire or reinstate.")
    except NotFound as exc:
        raise not_found(exc) from exc
    except DomainError as exc:
        refused(request, exc)
    if request.POST.get("back") == "list":
        return redirect(reverse("web:home"))
    return _back(package_id)


@require_POST
@role_required(*ADMIN)
def package_delete(request: HttpRequest, package_id: int) -> HttpResponse:
    """Delete a never-published package nobody is enrolled in."""
    try:
        package = selectors.get_package(package_id)
        packaging.delete_package(actor=actor(request), package_id=package_id)
    except NotFound as exc:
        raise not_found(exc) from exc
    except DomainError as exc:
        refused(request, exc)
        return _back(package_id)
    messages.success(request, f"Package “{package.name}” was deleted.")
    return redirect("web:home")
