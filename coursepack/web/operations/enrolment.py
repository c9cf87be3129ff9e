"""Enrol one learner or many (search and tick, paste usernames, or a CSV file, always
through a dry-run preview), a version's enrollments, and withdrawing."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from coursepack.errors import DomainError, NotFound
from coursepack.learning import api as learning
from coursepack.learning import roster
from coursepack.learning import selectors as learning_selectors
from coursepack.learning.models import EnrollmentStatus
from coursepack.packaging import selectors as packaging
from coursepack.web.access import STAFF, role_required
from coursepack.web.operations.common import ADMINS, PER_PAGE, done, show_error
from coursepack.web.operations.forms import EnrolForm, NotesForm

# Previews waiting for confirmation, kept in the session by a one-time key: the
# confirmation enrols exactly the learners the preview showed.
_SESSION_KEY = "cp_enrolment_previews"
_KEPT_PREVIEWS = 3


def _packages() -> list[tuple[int, str]]:
    """Return the packages one can enrol in now (those with an active version)."""
    found = []
    for summary in learning_selectors.package_summaries(timezone.now()):
        active = summary.active
        if active is not None and summary.package.status == "active":
            found.append(
                (summary.package.pk, f"{summary.package.name} (v{active.version.version_number})")
            )
    return found


def _ticked(form_data: Any) -> list[int]:
    """Return the ids of the learners ticked (kept across searches)."""
    return [int(v) for v in form_data.getlist("learners") if str(v).isdigit()]


@role_required(*ADMINS)
def enrol(request: HttpRequest) -> HttpResponse:
    """The enrol page: choose a package, then learners; "Check" shows a dry run."""
    packages = _packages()
    data = request.POST if request.method == "POST" else request.GET
    form = EnrolForm(
        request.POST or None, request.FILES or None, packages=packages, initial=data.dict()
    )
    search = data.get("q", "")
    package_id = _int(data.get("package"))
    if request.method == "POST" and form.is_valid():
        try:
            ticked = roster.learner_candidates(
                "", package_id=None, keep=_ticked(request.POST), limit=0
            )
            lines = [*(("ticked", u.username) for u in ticked), *form.lines()]
        except forms.ValidationError as exc:
            form.add_error("csv_file", exc)
        else:
            if not lines:
                form.add_error(
                    None,
                    "Choose at least one learner: tick them in the search results, "
                    "paste usernames, or upload a CSV file.",
                )
            else:
                return _preview(request, form.cleaned_data, lines)
    ticked = _ticked(data)
    context = {
        "form": form,
        "search": search,
        "candidates": roster.learner_candidates(search, package_id=package_id, keep=ticked),
        "ticked_ids": set(ticked),
        "package_id": package_id,
    }
    return render(request, "web/ops/enrol.html", context, status=400 if form.errors else 200)


def _int(value: Any) -> int | None:
    return int(value) if value and str(value).isdigit() else None


@role_required(*ADMINS)
def enrol_search(request: HttpRequest) -> HttpResponse:
    """The search results of the enrol page alone (htmx swaps them in as you type)."""
    ticked = _ticked(request.GET)
    return render(
        request,
        "web/ops/_candidates.html",
        {
            "candidates": roster.learner_candidates(
                request.GET.get("q", ""), package_id=_int(request.GET.get("package")), keep=ticked
            ),
            "search": request.GET.get("q", ""),
            "ticked_ids": set(ticked),
        },
    )


def _preview(
    request: HttpRequest, data: dict[str, Any], lines: list[tuple[str, str]]
) -> HttpResponse:
    package_id = data["package"]
    package = packaging.get_package(package_id)
    version = packaging.active_version(package_id, timezone.now())
    preview = roster.preview_enrolment(package_id=package_id, lines=lines)
    key = ""
    if preview.learner_ids:
        key = secrets.token_urlsafe(12)
        kept = dict(list(request.session.get(_SESSION_KEY, {}).items())[-(_KEPT_PREVIEWS - 1) :])
        kept[key] = {
            "package": package_id,
            "learners": preview.learner_ids,
            "notes": data.get("notes") or "",
            "version": version.pk if version else None,
        }
        request.session[_SESSION_KEY] = kept
    return render(
        request,
        "web/ops/enrol_preview.html",
        {"package": package, "version": version, "preview": preview, "key": key},
    )


@require_POST
@role_required(*ADMINS)
def enrol_confirm(request: HttpRequest) -> HttpResponse:
    """Enrol the learners a preview listed, in the package's active version."""
    kept = request.session.get(_SESSION_KEY, {})
    pending = kept.get(request.POST.get("key", ""))
    if pending is None:
        return render(
            request,
            "web/ops/enrol_expired.html",
            {},
            status=409,
        )
    try:
        result = learning.bulk_enroll(
            actor=request.user,
            package_id=pending["package"],
            learner_ids=pending["learners"],
            notes=pending["notes"],
        )
    except DomainError as exc:
        return render(request, "web/ops/enrol_expired.html", {"error": exc.message}, status=409)
    kept.pop(request.POST["key"], None)
    request.session[_SESSION_KEY] = kept
    version = result.version
    message = (
        f"Enrolled {result.enrolled} learner{'s' if result.enrolled != 1 else ''} in "
        f"{version.package.name} v{version.version_number}."
    )
    if result.already_enrolled:
        message += f" {len(result.already_enrolled)} were enrolled meanwhile and were skipped."
    if pending["version"] and pending["version"] != version.pk:
        message += " A new version was published since the check: they got this one."
    done(request, message)
    return redirect("web:version-enrollments", version_id=version.pk)


_STATUS_FILTERS = [
    ("", "Open (all statuses)"),
    *EnrollmentStatus.choices,
    ("withdrawn", "Withdrawn"),
]


@role_required(*STAFF)
def version_enrollments(request: HttpRequest, version_id: int) -> HttpResponse:
    """A version's enrollments, 50 to a page, filtered by status; each links to progress."""
    try:
        version = packaging.get_version(version_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    status = request.GET.get("status", "")
    if status not in dict(_STATUS_FILTERS):
        status = ""
    rows = learning_selectors.version_enrollments(
        version_id, package_id=version.package_id, status=status
    )
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/ops/version_enrollments.html",
        {
            "version": version,
            "package": version.package,
            "page": page,
            "status": status,
            "statuses": _STATUS_FILTERS,
        },
    )


@role_required(*ADMINS)
def withdraw(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    """Confirm, then withdraw an enrollment (its record stays)."""
    try:
        enrollment = learning_selectors.get_enrollment(enrollment_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    form = NotesForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            learning.withdraw(
                actor=request.user, enrollment_id=enrollment_id, notes=form.cleaned_data["notes"]
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            who = enrollment.learner.get_full_name() or enrollment.learner.username
            done(request, f"Withdrew {who} from {enrollment.package.name}.")
            return redirect(reverse("web:progress", args=[enrollment_id]))
    return render(
        request,
        "web/ops/withdraw.html",
        {"enrollment": enrollment, "form": form},
        status=400 if form.errors else 200,
    )
