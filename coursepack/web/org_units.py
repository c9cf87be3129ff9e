"""The org-unit pages: the organisation's tree, and one unit (rename, move, deactivate,
its managers, the people placed in it). Admins change units; auditors read them.

Thin: parse a form, call an ``organisation`` service (each one audited transaction),
show a refusal beside the field it is about, render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from coursepack.accounts import api as accounts
from coursepack.errors import DomainError, NotFound
from coursepack.organisation import api as organisation
from coursepack.organisation import selectors
from coursepack.organisation.errors import OrgUnitCodeTaken, OrgUnitCycle
from coursepack.organisation.selectors import OrgUnitRow
from coursepack.web.access import ADMIN, STAFF, role_required
from coursepack.web.operations.common import done

#: How many of a unit's people its page lists (the count is always whole).
SHOWN = 200
TOP = ""


@dataclass
class Node:
    """One unit of the tree with the units directly below it."""

    row: OrgUnitRow
    managers: list[str]
    children: list[Node] = field(default_factory=list)


def _tree(rows: list[OrgUnitRow], names: dict[int, str]) -> list[Node]:
    """Nest the units (given in path order) under their parents."""
    roots: list[Node] = []
    by_id: dict[int, Node] = {}
    for row in rows:
        node = Node(row, [names.get(i, str(i)) for i in row.manager_ids])
        by_id[row.id] = node
        parent = by_id.get(row.parent_id) if row.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)
    return roots


def _parent_choices(rows: list[OrgUnitRow], *, exclude_path: str = "") -> list[tuple[str, str]]:
    """Active units as choices of a parent, indented by depth (a unit cannot go under
    itself or a unit below it, so those are left out)."""
    choices = [(TOP, "None: a top-level unit")]
    for row in rows:
        if not row.active or (exclude_path and row.path.startswith(exclude_path)):
            continue
        choices.append((str(row.id), f"{'— ' * row.depth}{row.name} ({row.code})"))
    return choices


def _parent_id(value: str) -> int | None:
    return int(value) if value else None


class UnitForm(forms.Form):
    """A new unit: its code, name and parent."""

    code = forms.CharField(
        label="Code",
        max_length=64,
        help_text="The unit's key in the HR system: the people file names units by it.",
    )
    name = forms.CharField(label="Name", max_length=200)
    parent = forms.ChoiceField(label="Part of", required=False)


class RenameForm(forms.Form):
    code = forms.CharField(label="Code", max_length=64)
    name = forms.CharField(label="Name", max_length=200)


class MoveForm(forms.Form):
    parent = forms.ChoiceField(
        label="Move under",
        required=False,
        help_text="Everything below this unit moves with it.",
    )


class ManagersForm(forms.Form):
    usernames = forms.CharField(
        label="Managers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=(
            "Usernames, one per line or separated by commas; leave empty for none. A manager "
            "reads the records of everyone in this unit and below it. A learner named here "
            "is given the manager role."
        ),
    )


class PlaceForm(forms.Form):
    username = forms.CharField(
        label="Person",
        max_length=150,
        help_text="Their username. Someone placed elsewhere moves to this unit.",
    )
    manager = forms.CharField(
        label="Line manager",
        max_length=150,
        required=False,
        help_text="Username of the person they report to (gets the manager digest); optional.",
    )


def _is_admin(request: HttpRequest) -> bool:
    return accounts.role_of(request.user) in ADMIN


@role_required(*STAFF)
def units(request: HttpRequest) -> HttpResponse:
    """Show the organisation as a tree; admins add units to it."""
    rows = selectors.unit_rows(request.user)
    form = UnitForm(request.POST or None)
    form.fields["parent"].choices = _parent_choices(rows)  # type: ignore[attr-defined]
    if request.method == "POST":
        if not _is_admin(request):
            raise PermissionDenied("Only a training admin changes org units.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                unit = organisation.create_unit(
                    actor=request.user,
                    code=data["code"],
                    name=data["name"],
                    parent_id=_parent_id(data["parent"]),
                )
            except OrgUnitCodeTaken as exc:
                form.add_error("code", exc.message)
            except DomainError as exc:
                _show(form, exc)
            else:
                done(request, f"Org unit {unit.name} ({unit.code}) was created.")
                return redirect("web:org-unit", unit_id=unit.pk)
    names = selectors.usernames(sorted({i for row in rows for i in row.manager_ids}))
    return render(
        request,
        "web/org_units/tree.html",
        {
            "tree": _tree(rows, names),
            "count": len(rows),
            "form": form,
            "is_admin": _is_admin(request),
        },
        status=400 if form.errors else 200,
    )


def _usernames(text: str) -> list[str]:
    return [n for n in (part.strip() for part in text.replace(",", "\n").splitlines()) if n]


def _person(form: forms.Form, name: str, username: str) -> int | None:
    """Return the id of ``username``, or put "no such person" beside field ``name``."""
    found = selectors.person_id(username)
    if found is None:
        form.add_error(name, f"There is nobody with the username {username!r}.")
    return found


def _act(request: HttpRequest, unit_id: int, action: str, form: forms.Form) -> str | None:
    """Carry out one of the unit page's forms; return what happened, or None when the
    form now holds the errors to show."""
    if not form.is_valid():
        return None
    data = form.cleaned_data
    actor = request.user
    try:
        if action == "rename":
            unit = organisation.rename_unit(
                actor=actor, unit_id=unit_id, name=data["name"], code=data["code"]
            )
            return f"The unit is now {unit.name} ({unit.code})."
        if action == "move":
            unit = organisation.move_unit(
                actor=actor, unit_id=unit_id, parent_id=_parent_id(data["parent"])
            )
            return f"{unit.name} moved, with everything below it."
        if action == "deactivate":
            organisation.deactivate_unit(actor=actor, unit_id=unit_id)
            return "The unit was deactivated."
        if action == "reactivate":
            organisation.reactivate_unit(actor=actor, unit_id=unit_id)
            return "The unit is active again."
        if action == "managers":
            ids = [_person(form, "usernames", n) for n in _usernames(data["usernames"])]
            if form.errors:
                return None
            organisation.set_unit_managers(
                actor=actor, unit_id=unit_id, user_ids=[i for i in ids if i is not None]
            )
            return "The unit's managers were saved."
        if action == "place":
            person = _person(form, "username", data["username"])
            manager = _person(form, "manager", data["manager"]) if data["manager"] else None
            if form.errors or person is None:
                return None
            organisation.place_person(
                actor=actor, user_id=person, org_unit_id=unit_id, manager_id=manager
            )
            return f"{data['username']} is placed in this unit."
    except OrgUnitCodeTaken as exc:
        form.add_error("code", exc.message)
    except OrgUnitCycle as exc:
        form.add_error("parent", exc.message)
    except DomainError as exc:
        _show(form, exc)
    return None


#: The services' names of fields that the unit page's forms call otherwise.
_FIELDS = {"manager_id": "manager", "user_id": "username", "parent_id": "parent"}


def _show(form: forms.Form, exc: DomainError) -> None:
    """Show a refusal: each problem naming a field of the form beside it, the rest on top."""
    form.add_error(None, exc.message)
    for problem in exc.problems:
        name, _, message = problem.partition(": ")
        name = _FIELDS.get(name, name)
        if message and name in form.fields:
            form.add_error(name, message)
        else:
            form.add_error(None, problem)


_FORMS: dict[str, type[forms.Form]] = {
    "rename": RenameForm,
    "move": MoveForm,
    "deactivate": forms.Form,
    "reactivate": forms.Form,
    "managers": ManagersForm,
    "place": PlaceForm,
}


@role_required(*STAFF)
def unit(request: HttpRequest, unit_id: int) -> HttpResponse:
    """Show one org unit: where it sits, its managers and people; admins rename, move,
    deactivate or reactivate it, set its managers and place people in it."""
    try:
        found = selectors.get_unit(unit_id, viewer=request.user)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    action = request.POST.get("action", "") if request.method == "POST" else ""
    failed: forms.Form | None = None
    if action:
        if not _is_admin(request):
            raise PermissionDenied("Only a training admin changes org units.")
        if action not in _FORMS:
            raise Http404("There is no such change of an org unit.")
        form = _FORMS[action](request.POST, prefix=action)
        if action == "move":
            rows = selectors.unit_rows(request.user)
            form.fields["parent"].choices = _parent_choices(rows, exclude_path=found.path)  # type: ignore[attr-defined]
        message = _act(request, unit_id, action, form)
        if message is not None:
            done(request, message)
            return redirect("web:org-unit", unit_id=unit_id)
        failed = form
    return _unit_page(request, unit_id, action, failed)


def _unit_page(
    request: HttpRequest, unit_id: int, action: str, failed: forms.Form | None
) -> HttpResponse:
    rows = selectors.unit_rows(request.user)
    row = next(r for r in rows if r.id == unit_id)
    below = [r for r in rows if r.path.startswith(row.path) and r.id != row.id]
    ancestors = [r for r in rows if row.path.startswith(r.path) and r.id != row.id]
    names = selectors.usernames(row.manager_ids)
    managers = [names.get(i, str(i)) for i in row.manager_ids]

    def bound(name: str, initial: dict[str, Any]) -> forms.Form:
        if failed is not None and action == name:
            return failed
        return _FORMS[name](initial=initial, prefix=name)

    move = bound("move", {"parent": str(row.parent_id or "")})
    move.fields["parent"].choices = _parent_choices(rows, exclude_path=row.path)  # type: ignore[attr-defined]
    total, people = selectors.placed_people(unit_id, limit=SHOWN)
    context = {
        "unit": row,
        "ancestors": ancestors,
        "below": below,
        "managers": managers,
        "people": people,
        "people_total": total,
        "shown": SHOWN,
        "is_admin": _is_admin(request),
        "failed": failed,
        "action": action,
        "rename": bound("rename", {"code": row.code, "name": row.name}),
        "move": move,
        "status_form": bound("deactivate" if row.active else "reactivate", {}),
        "managers_form": bound("managers", {"usernames": "\n".join(managers)}),
        "place": bound("place", {}),
    }
    return render(
        request, "web/org_units/unit.html", context, status=400 if failed is not None else 200
    )
