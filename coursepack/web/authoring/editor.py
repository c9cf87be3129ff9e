"""The draft editor, for package drafts and group drafts alike.

Every edit is one small form (add, remove, required, move, details) that carries the
draft's revision; the service refuses it if the draft changed since (StaleRevision),
so an edit made meanwhile elsewhere is never overwritten. Without JavaScript a form
posts and the page comes back with a message; with ``editor.js`` the same forms are
sent in the background (autosave) and the server answers with the refreshed item
list and the new revision (``X-Revision``), or with the refusal and its status.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from coursepack.errors import DomainError, NotFound
from coursepack.packaging import api as packaging
from coursepack.packaging import overviews
from coursepack.packaging.errors import StaleRevision
from coursepack.web.access import ADMIN, role_required
from coursepack.web.authoring.common import actor, not_found
from coursepack.web.authoring.errors import FormErrors, form_errors

KINDS = {"package", "group"}
DETAIL_LABELS = {
    "name": "Name",
    "description": "Description",
    "kind": "Rule",
    "min_count": "How many to complete",
}
GROUP_KINDS = [
    ("family", "Family: complete 1 of the items (e.g. one language edition)"),
    ("series", "Series: complete all, in order (each unlocks the next)"),
    ("choice", "Choice: complete X of the items, including every required one"),
]


def _view(kind: str, draft_id: int) -> overviews.DraftView:
    try:
        if kind == "group":
            return overviews.group_draft_view(draft_id)
        return overviews.package_draft_view(draft_id)
    except NotFound as exc:
        raise not_found(exc) from exc


def _is_background(request: HttpRequest) -> bool:
    return request.headers.get("X-Coursepack-Autosave") == "1"


def _revision(request: HttpRequest) -> int | None:
    raw = request.POST.get("revision", "")
    return int(raw) if raw.isdigit() else None


def _home_of(view: overviews.DraftView) -> str:
    if view.kind == "group":
        return reverse("web:group", args=[view.owner_id])
    return reverse("web:package", args=[view.owner_id]) + f"?v={view.version_number}"


@role_required(*ADMIN)
def draft(request: HttpRequest, kind: str, draft_id: int) -> HttpResponse:
    """Show the editor of a draft: details, items, and search to add content."""
    if kind not in KINDS:
        raise not_found(NotFound("There is no such kind of draft."))
    view = _view(kind, draft_id)
    if not view.is_draft:
        messages.info(
            request,
            f"Version {view.version_number} is {view.status} and never changes; "
            "create a new version to edit it.",
        )
        return redirect(_home_of(view))
    search = request.GET.get("q", "")
    return render(
        request,
        "web/authoring/editor.html",
        _context(view, search=search, errors=FormErrors(labels=DETAIL_LABELS)),
    )


def _context(
    view: overviews.DraftView, *, search: str, errors: FormErrors, values: Any = None
) -> dict[str, Any]:
    return {
        "view": view,
        "search": search,
        "hits": overviews.search_content(
            search, exclude_group=view.owner_id if view.kind == "group" else None
        ),
        "errors": errors,
        "values": values
        or {
            "name": view.name,
            "description": view.description,
            "kind": view.group_kind,
            "min_count": "" if view.min_count is None else view.min_count,
        },
        "group_kinds": GROUP_KINDS,
        "home": _home_of(view),
    }


def _saved(
    request: HttpRequest, view_kind: str, draft_id: int, message: str, anchor: str = ""
) -> HttpResponse:
    """Answer a saved edit: the item list for editor.js, else back to the editor."""
    if _is_background(request):
        view = _view(view_kind, draft_id)
        html = render_to_string("web/authoring/_draft_items.html", {"view": view}, request=request)
        response = HttpResponse(html)
        response["X-Revision"] = str(view.revision)
        response["X-Message"] = message
        return response
    messages.success(request, message)
    return redirect(reverse("web:draft", args=[view_kind, draft_id]) + anchor)


def _not_saved(
    request: HttpRequest, view_kind: str, draft_id: int, exc: DomainError
) -> HttpResponse:
    """Answer a refused edit: its message and status for editor.js, else a banner."""
    stale = isinstance(exc, StaleRevision)
    text = exc.message + ("" if not exc.problems else " " + " ".join(exc.problems))
    if stale:
        text = (
            "This draft was changed in another tab or by another admin since you opened it; "
            "your change was not saved. Reload the draft to see the latest version, then "
            "make your change again."
        )
    if _is_background(request):
        return HttpResponse(text, status=412 if stale else 422, content_type="text/plain")
    messages.error(request, text)
    return redirect("web:draft", kind=view_kind, draft_id=draft_id)


def _optional_int(raw: str, name: str, errors: FormErrors) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit():
        errors.add(name, f"{DETAIL_LABELS[name]} must be a whole number, like 2")
        return None
    return int(raw)


@require_POST
@role_required(*ADMIN)
def draft_details(request: HttpRequest, kind: str, draft_id: int) -> HttpResponse:
    """Save a draft's name and description (and a group's rule)."""
    values = {k: request.POST.get(k, "") for k in ("name", "description", "kind", "min_count")}
    errors = FormErrors(labels=DETAIL_LABELS)
    try:
        if kind == "group":
            min_count = _optional_int(values["min_count"], "min_count", errors)
            if not errors:
                packaging.update_group_draft(
                    actor=actor(request),
                    group_version_id=draft_id,
                    name=values["name"],
                    description=values["description"],
                    kind=values["kind"],
                    min_count=min_count if values["kind"] == "choice" else None,
                    expected_revision=_revision(request),
                )
        elif kind == "package":
            packaging.update_draft(
                actor=actor(request),
                version_id=draft_id,
                name=values["name"],
                description=values["description"],
                expected_revision=_revision(request),
            )
        else:
            raise not_found(NotFound("There is no such kind of draft."))
    except StaleRevision as exc:
        return _not_saved(request, kind, draft_id, exc)
    except NotFound as exc:
        raise not_found(exc) from exc
    except DomainError as exc:
        errors = form_errors(exc, DETAIL_LABELS)
    if errors:
        if _is_background(request):
            text = " ".join(message for _, message in errors.summary)
            return HttpResponse(text, status=422, content_type="text/plain")
        view = _view(kind, draft_id)
        return render(
            request,
            "web/authoring/editor.html",
            _context(view, search="", errors=errors, values=values),
            status=422,
        )
    return _saved(request, kind, draft_id, "Details saved.")


@require_POST
@role_required(*ADMIN)
def draft_add(request: HttpRequest, kind: str, draft_id: int) -> HttpResponse:
    """Add a course or a group (at its newest published version) at the end of a draft."""
    target_kind, _, raw_id = request.POST.get("target", "").partition(":")
    if target_kind not in {"course", "group"} or not raw_id.isdigit():
        return _not_saved(
            request, kind, draft_id, DomainError("Choose a course or a group to add.")
        )
    target = {f"{target_kind}_id": int(raw_id)}
    required = request.POST.get("required") == "1"
    try:
        if kind == "group":
            packaging.add_group_item(
                actor=actor(request),
                group_version_id=draft_id,
                required=required,
                expected_revision=_revision(request),
                **target,
            )
        else:
            packaging.add_item(
                actor=actor(request),
                version_id=draft_id,
                required=required,
                expected_revision=_revision(request),
                **target,
            )
    except DomainError as exc:
        return _not_saved(request, kind, draft_id, exc)
    label = request.POST.get("label", "The item")
    flag = "required" if required else "optional"
    return _saved(request, kind, draft_id, f"{label} was added ({flag}).", "#draft-items")


@require_POST
@role_required(*ADMIN)
def draft_item(request: HttpRequest, kind: str, draft_id: int, item_id: int) -> HttpResponse:
    """Change one item of a draft: required or optional, remove, move, or take the
    newest version of its group."""
    op = request.POST.get("op", "")
    revision = _revision(request)
    label = request.POST.get("label", "The item")
    who = actor(request)
    group = kind == "group"
    try:
        if op in {"required", "optional"}:
            if group:
                packaging.set_group_item_required(
                    actor=who,
                    group_version_id=draft_id,
                    item_id=item_id,
                    required=op == "required",
                    expected_revision=revision,
                )
            else:
                packaging.set_item_required(
                    actor=who,
                    version_id=draft_id,
                    item_id=item_id,
                    required=op == "required",
                    expected_revision=revision,
                )
            message = f"{label} is now {op}."
        elif op == "remove":
            if group:
                packaging.remove_group_item(
                    actor=who,
                    group_version_id=draft_id,
                    item_id=item_id,
                    expected_revision=revision,
                )
            else:
                packaging.remove_item(
                    actor=who, version_id=draft_id, item_id=item_id, expected_revision=revision
                )
            message = f"{label} was removed."
        elif op in {"up", "down", "move"}:
            position = _target_position(request, op)
            if group:
                packaging.move_group_item(
                    actor=who,
                    group_version_id=draft_id,
                    item_id=item_id,
                    position=position,
                    expected_revision=revision,
                )
            else:
                packaging.move_item(
                    actor=who,
                    version_id=draft_id,
                    item_id=item_id,
                    position=position,
                    expected_revision=revision,
                )
            message = f"{label} moved to position {position}."
        elif op == "use_latest" and not group:
            packaging.use_latest_group_version(
                actor=who, version_id=draft_id, item_id=item_id, expected_revision=revision
            )
            message = f"{label} now uses the group's newest published version."
        else:
            return _not_saved(request, kind, draft_id, DomainError("That change is not known."))
    except DomainError as exc:
        return _not_saved(request, kind, draft_id, exc)
    return _saved(request, kind, draft_id, message, f"#item-{item_id}")


def _target_position(request: HttpRequest, op: str) -> int:
    current = request.POST.get("position", "")
    at = int(current) if current.isdigit() else 0
    if op == "up":
        return at - 1
    if op == "down":
        return at + 1
    wanted = request.POST.get("to", "")
    return int(wanted) if wanted.isdigit() else 0


@require_GET
@role_required(*ADMIN)
def draft_search(request: HttpRequest, kind: str, draft_id: int) -> HttpResponse:
    """Return the search results to add (a fragment for htmx; the editor without it)."""
    if not request.headers.get("HX-Request"):
        return redirect(
            reverse("web:draft", args=[kind, draft_id]) + f"?q={request.GET.get('q', '')}#add"
        )
    view = _view(kind, draft_id)
    search = request.GET.get("q", "")
    return render(
        request,
        "web/authoring/_search_results.html",
        {
            "view": view,
            "search": search,
            "hits": overviews.search_content(
                search, exclude_group=view.owner_id if kind == "group" else None
            ),
        },
    )
