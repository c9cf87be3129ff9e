"""The equivalences page: which course counts for which, since when, ended or applied
retroactively; create one after seeing its impact (check, then confirm), end one, and
apply one retroactively after seeing its impact. Thin: parse, call services, render."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from coursepack.accounts import api as accounts
from coursepack.catalog import selectors as catalog
from coursepack.errors import DomainError
from coursepack.learning import api as learning
from coursepack.learning import lifecycle_selectors
from coursepack.web.access import STAFF, role_required
from coursepack.web.operations.common import ADMINS, done, show_error


class EquivalenceForm(forms.Form):
    """Which course counts for which, both ways or not, from now or retroactively."""

    source_course_id = forms.TypedChoiceField(coerce=int, label="A completion of")
    target_course_id = forms.TypedChoiceField(coerce=int, label="counts for")
    both_ways = forms.BooleanField(required=False, label="And the other way round")
    retroactive = forms.BooleanField(
        required=False, label="Count earlier completions too (retroactive)"
    )
    notes = forms.CharField(
        required=False, max_length=20_000, label="Notes", widget=forms.Textarea({"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Choose a course")] + [
            (c.pk, f"{c.code} {c.name}") for c in catalog.courses()
        ]
        for name in ("source_course_id", "target_course_id"):
            field: Any = self.fields[name]
            field.choices = choices


class NotesForm(forms.Form):
    notes = forms.CharField(
        required=False, max_length=20_000, label="Notes", widget=forms.Textarea({"rows": 2})
    )


def _rows() -> list[dict[str, Any]]:
    rows = []
    for eq in lifecycle_selectors.equivalences():
        changes = {c.kind: c.occurred_at for c in eq.changes.all()}
        rows.append({"eq": eq, "ended": changes.get("end"), "applied": changes.get("retroactive")})
    return rows


def _page(request: HttpRequest, form: EquivalenceForm, **extra: Any) -> HttpResponse:
    status = 400 if form.errors else 200
    return render(
        request,
        "web/lifecycle/equivalences.html",
        {"rows": _rows(), "form": form, "is_admin": _is_admin(request), **extra},
        status=status,
    )


def _is_admin(request: HttpRequest) -> bool:
    return bool(accounts.role_of(request.user) in ADMINS)


@role_required(*STAFF)
def equivalences(request: HttpRequest) -> HttpResponse:
    """List the equivalences; for admins, the form to propose a new one."""
    return _page(request, EquivalenceForm())


@role_required(*ADMINS)
def create(request: HttpRequest) -> HttpResponse:
    """Check: show the impact of the proposed equivalence; confirm: create it."""
    if request.method != "POST":
        return redirect("web:equivalences")
    form = EquivalenceForm(request.POST)
    if not form.is_valid():
        return _page(request, form)
    data = form.cleaned_data
    args = {
        "source_course_id": data["source_course_id"],
        "target_course_id": data["target_course_id"],
        "both_ways": data["both_ways"],
        "retroactive": data["retroactive"],
    }
    try:
        if request.POST.get("step") != "confirm":
            impact = learning.equivalence_impact(**args)
            return _page(request, form, impact=impact)
        _, impact = learning.create_equivalence(actor=request.user, notes=data["notes"], **args)
    except DomainError as exc:
        show_error(form, exc)
        return _page(request, form)
    n = impact.would_complete
    done(
        request,
        f"Created the equivalence; {n} {'enrollment' if n == 1 else 'enrollments'}"
        " became complete.",
    )
    return redirect("web:equivalences")


def _equivalence(equivalence_id: int) -> dict[str, Any]:
    for row in _rows():
        if row["eq"].pk == equivalence_id:
            return row
    raise Http404("There is no such equivalence.")


@role_required(*ADMINS)
def change(request: HttpRequest, equivalence_id: int, kind: str) -> HttpResponse:
    """End an equivalence, or apply it retroactively (its impact shown first)."""
    if kind not in ("end", "retroactive"):
        raise Http404("There is no such change.")
    row = _equivalence(equivalence_id)
    eq = row["eq"]
    form = NotesForm(request.POST if request.method == "POST" else None)
    impact = None
    if kind == "retroactive":
        impact = learning.equivalence_impact(equivalence_id=eq.pk)
    if request.method == "POST" and form.is_valid():
        service = (
            learning.end_equivalence if kind == "end" else learning.apply_equivalence_retroactively
        )
        try:
            service(actor=request.user, equivalence_id=eq.pk, notes=form.cleaned_data["notes"])
        except DomainError as exc:
            show_error(form, exc)
        else:
            what = "Ended" if kind == "end" else "Applied retroactively"
            done(request, f"{what}: {eq.source.code} for {eq.target.code}.")
            return redirect(reverse("web:equivalences"))
    return render(
        request,
        "web/lifecycle/equivalence_change.html",
        {"row": row, "eq": eq, "kind": kind, "form": form, "impact": impact},
        status=400 if form.errors else 200,
    )
