"""Due dates and exemptions from a learner's progress page and the standing page:
extend one learner's due date, exempt them (all of it or one item), revoke an
exemption, and extend the due dates of ticked learners at once. Thin: parse, call
the services in ``learning.api``, show the refusal at the field and in the summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from coursepack.errors import DomainError, NotFound
from coursepack.learning import api as learning
from coursepack.learning import lifecycle_selectors
from coursepack.learning import selectors as learning_selectors
from coursepack.packaging import selectors as packaging
from coursepack.web.access import role_required
from coursepack.web.operations.common import ADMINS, done, show_error
from coursepack.web.operations.forms import ReasonForm
from coursepack.web.operations.lifecycle_forms import (
    BulkExemptForm,
    BulkExtendForm,
    ExemptForm,
    ExtendDueForm,
    item_choices,
)


def _enrollment(enrollment_id: int) -> Any:
    try:
        return learning_selectors.get_enrollment(enrollment_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


def _aware(moment: datetime) -> datetime:
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _who(enrollment: Any) -> str:
    learner = enrollment.learner
    return str(learner.get_full_name() or learner.username)


@role_required(*ADMINS)
def extend_due(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    """Give one learner a later due date, with a reason."""
    enrollment = _enrollment(enrollment_id)
    form = ExtendDueForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        due_at = _aware(form.cleaned_data["due_at"])
        try:
            learning.extend_due_date(
                actor=request.user,
                enrollment_ids=[enrollment_id],
                due_at=due_at,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            local = timezone.localtime(due_at)
            done(request, f"{_who(enrollment)} is now due on {local:%Y-%m-%d %H:%M}.")
            return redirect(reverse("web:progress", args=[enrollment_id]) + "#lifecycle-title")
    return render(
        request,
        "web/ops/extend_due.html",
        {
            "enrollment": enrollment,
            "state": lifecycle_selectors.enrollment_lifecycle(enrollment).state,
            "form": form,
            "time_zone": timezone.get_current_timezone_name(),
        },
        status=400 if form.errors else 200,
    )


@role_required(*ADMINS)
def exempt(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    """Exempt one learner from the whole enrollment or from one of its items."""
    enrollment = _enrollment(enrollment_id)
    tree = packaging.requirement_tree(enrollment.version_id)
    items = item_choices(tree)
    form = ExemptForm(request.POST if request.method == "POST" else None, items=items)
    if request.method == "POST" and form.is_valid():
        course_id, group_id = form.target()
        ends_at = form.cleaned_data["ends_at"]
        try:
            learning.exempt(
                actor=request.user,
                enrollment_ids=[enrollment_id],
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                course_id=course_id,
                group_id=group_id,
                ends_at=_aware(ends_at) if ends_at is not None else None,
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            choices: Any = form.fields["item"]
            what = str(dict(choices.choices)[form.cleaned_data["item"]])
            done(request, f"{_who(enrollment)} is exempt from {what[0].lower()}{what[1:]}.")
            return redirect(reverse("web:progress", args=[enrollment_id]) + "#lifecycle-title")
    return render(
        request,
        "web/ops/exempt.html",
        {
            "enrollment": enrollment,
            "form": form,
            "time_zone": timezone.get_current_timezone_name(),
        },
        status=400 if form.errors else 200,
    )


@role_required(*ADMINS)
def revoke_exemption(request: HttpRequest, enrollment_id: int, exemption_id: int) -> HttpResponse:
    """Confirm, with a reason, that an exemption stops counting from now on."""
    enrollment = _enrollment(enrollment_id)
    exemption = (
        lifecycle_selectors.enrollment_exemptions(enrollment_id).filter(pk=exemption_id).first()
    )
    if exemption is None:
        raise Http404("There is no such exemption.")
    form = ReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            learning.revoke_exemption(
                actor=request.user, exemption_id=exemption_id, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            done(request, f"Revoked {_who(enrollment)}'s exemption; it no longer counts from now.")
            return redirect(reverse("web:progress", args=[enrollment_id]) + "#lifecycle-title")
    return render(
        request,
        "web/ops/revoke_exemption.html",
        {"enrollment": enrollment, "exemption": exemption, "form": form},
        status=400 if form.errors else 200,
    )


def _package(package_id: int) -> Any:
    try:
        return packaging.get_package(package_id)
    except NotFound:
        raise Http404("There is no such package.") from None


def _back_to_standing(request: HttpRequest, package_id: int) -> HttpResponse:
    """Return to the standing page the learners were ticked on, on the same standing."""
    standing = request.POST.get("standing", "")
    back = reverse("web:standing", args=[package_id])
    return redirect(back + (f"?standing={standing}" if standing.isidentifier() else ""))


@role_required(*ADMINS)
def bulk_extend(request: HttpRequest, package_id: int) -> HttpResponse:
    """Extend the due dates of the learners ticked on the standing page."""
    package = _package(package_id)
    if request.method != "POST":
        return redirect("web:standing", package_id)
    form = BulkExtendForm(request.POST)
    if form.is_valid():
        ids = form.cleaned_data["enrollments"]
        due_at = _aware(form.cleaned_data["due_at"])
        try:
            rows = learning.extend_due_date(
                actor=request.user,
                enrollment_ids=ids,
                due_at=due_at,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            n = len(rows)
            local = timezone.localtime(due_at)
            done(
                request,
                f"Extended {n} {'learner' if n == 1 else 'learners'}' due date"
                f" to {local:%Y-%m-%d %H:%M}.",
            )
            return _back_to_standing(request, package_id)
    return render(
        request,
        "web/lifecycle/bulk_extend.html",
        {
            "package": package,
            "form": form,
            "ticked": request.POST.getlist("enrollments"),
            "time_zone": timezone.get_current_timezone_name(),
        },
        status=400,
    )


@role_required(*ADMINS)
def bulk_exempt(request: HttpRequest, package_id: int) -> HttpResponse:
    """Exempt the learners ticked on the standing page: the first post (from the standing
    page) shows the exemption dialog for them; the dialog's post exempts them all in one
    transaction, or none, saying which enrollment was refused and why."""
    package = _package(package_id)
    if request.method != "POST":
        return redirect("web:standing", package_id)
    active = packaging.active_version(package_id, timezone.now())
    items = item_choices(packaging.requirement_tree(active.pk)) if active is not None else []
    confirming = request.POST.get("step") == "exempt"
    form = BulkExemptForm(request.POST if confirming else None, items=items)
    ticked = request.POST.getlist("enrollments")
    status = 200
    if not ticked:
        form.add_error(None, "Tick at least one learner on the standing page first.")
        status = 400
    elif confirming and form.is_valid():
        course_id, group_id = form.target()
        ends_at = form.cleaned_data["ends_at"]
        try:
            rows = learning.exempt(
                actor=request.user,
                enrollment_ids=form.cleaned_data["enrollments"],
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                course_id=course_id,
                group_id=group_id,
                ends_at=_aware(ends_at) if ends_at is not None else None,
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            n = len(rows)
            choices: Any = form.fields["item"]
            what = str(dict(choices.choices)[form.cleaned_data["item"]])
            until = ""
            if ends_at is not None:
                until = f" until {timezone.localtime(_aware(ends_at)):%Y-%m-%d %H:%M}"
            done(
                request,
                f"Exempted {n} {'learner' if n == 1 else 'learners'} from "
                f"{what[0].lower()}{what[1:]}{until}.",
            )
            return _back_to_standing(request, package_id)
    if form.errors:
        status = 400
    return render(
        request,
        "web/lifecycle/bulk_exempt.html",
        {
            "package": package,
            "form": form,
            "ticked": ticked,
            "standing": request.POST.get("standing", ""),
            "time_zone": timezone.get_current_timezone_name(),
        },
        status=status,
    )
