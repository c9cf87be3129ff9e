"""The group library: every reusable group, its versions, and who uses which version.

A group draft is edited in the same editor as a package draft (``editor.py``).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from coursepack.errors import DomainError, NotFound
from coursepack.packaging import api as packaging
from coursepack.packaging import overviews
from coursepack.packaging.errors import GroupKeyTaken
from coursepack.web.access import ADMIN, STAFF, role_required
from coursepack.web.authoring.common import actor, not_found, refused
from coursepack.web.authoring.editor import GROUP_KINDS
from coursepack.web.authoring.errors import FormErrors, form_errors

LABELS = {
    "name": "Name",
    "key": "Key",
    "description": "Description",
    "kind": "Rule",
    "min_count": "How many to complete",
}


@role_required(*STAFF)
def group_list(request: HttpRequest) -> HttpResponse:
    """List every reusable group with its rule, versions and the package versions using it."""
    search = request.GET.get("q", "").strip()
    return render(
        request,
        "web/authoring/group_list.html",
        {"groups": overviews.group_library(search), "search": search},
    )


@role_required(*ADMIN)
def group_create(request: HttpRequest) -> HttpResponse:
    """Create a group; its draft v1 opens in the editor."""
    values = {"name": "", "key": "", "description": "", "kind": "", "min_count": ""}
    errors = FormErrors(labels=LABELS)
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        min_count = None
        raw = values["min_count"].strip()
        if values["kind"] == "choice" and raw:
            if raw.isdigit():
                min_count = int(raw)
            else:
                errors.add("min_count", "How many to complete must be a whole number, like 2")
        if not values["kind"]:
            errors.add("kind", "Choose the group's rule: family, series or choice")
        if not errors:
            try:
                draft = packaging.create_group(
                    actor=actor(request),
                    name=values["name"],
                    key=values["key"].strip() or None,
                    description=values["description"],
                    kind=values["kind"],
                    min_count=min_count,
                )
            except GroupKeyTaken:
                errors.add(
                    "key", "Another group already has this key: choose another, or leave it blank"
                )
            except DomainError as exc:
                errors = form_errors(exc, LABELS)
            else:
                messages.success(request, f"Group “{draft.name}” was created; add its items.")
                return redirect("web:draft", kind="group", draft_id=draft.pk)
    return render(
        request,
        "web/authoring/group_form.html",
        {"values": values, "errors": errors, "group_kinds": GROUP_KINDS},
        status=422 if errors else 200,
    )


@role_required(*STAFF)
def group_page(request: HttpRequest, group_id: int) -> HttpResponse:
    """Show one group: its versions, its draft, and which package versions pin which."""
    found = overviews.group_library(group_id=group_id)
    if not found:
        raise Http404("There is no such course group.")
    entry = found[0]
    shown = entry.published or entry.draft
    view = overviews.group_draft_view(shown.pk) if shown is not None else None
    return render(request, "web/authoring/group_page.html", {"group": entry, "view": view})


@require_POST
@role_required(*ADMIN)
def group_new_draft(request: HttpRequest, group_id: int) -> HttpResponse:
    """Start the group's next draft from its newest published version; open it."""
    try:
        draft = packaging.new_group_draft(actor=actor(request), group_id=group_id)
    except NotFound as exc:
        raise not_found(exc) from exc
    except DomainError as exc:
        refused(request, exc)
        return redirect("web:group", group_id=group_id)
    messages.success(
        request,
        f"Draft v{draft.version_number} of “{draft.name}” was created. Packages keep the "
        "version they pin until an admin takes the new one.",
    )
    return redirect("web:draft", kind="group", draft_id=draft.pk)


@require_POST
@role_required(*ADMIN)
def group_discard(request: HttpRequest, group_version_id: int) -> HttpResponse:
    """Discard a group draft that no package draft uses."""
    try:
        view = overviews.group_draft_view(group_version_id)
        packaging.discard_group_draft(actor=actor(request), group_version_id=group_version_id)
    except NotFound as exc:
        raise not_found(exc) from exc
    except DomainError as exc:
        refused(request, exc)
        return redirect("web:group", group_id=view.owner_id)
    messages.success(request, f"Draft v{view.version_number} of “{view.name}” was discarded.")
    if overviews.group_library(group_id=view.owner_id):
        return redirect("web:group", group_id=view.owner_id)
    return redirect("web:groups")
