"""The course catalog: list, search, create, edit, retire, reactivate, delete.

Thin: parse the form, call ``catalog.api``, render (or redirect with a message).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from coursepack.catalog import api as catalog
from coursepack.catalog import selectors
from coursepack.errors import DomainError, NotFound
from coursepack.web.access import ADMIN, STAFF, role_required
from coursepack.web.authoring.common import actor, not_found, refused, require_admin
from coursepack.web.authoring.errors import FormErrors, form_errors

PER_PAGE = 25
LABELS = {
    "code": "Code",
    "name": "Name",
    "description": "Description",
    "duration_minutes": "Duration",
}
STATUSES = [("", "Any status"), ("active", "Active"), ("retired", "Retired")]


@role_required(*STAFF)
def course_list(request: HttpRequest) -> HttpResponse:
    """List the catalog's courses by code: search by code or name, filter by status."""
    search = request.GET.get("q", "")
    status = request.GET.get("status", "")
    if status not in {"active", "retired"}:
        status = ""
    page = Paginator(selectors.courses(search=search, status=status), PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "web/authoring/course_list.html",
        {"page": page, "search": search, "status": status, "statuses": STATUSES},
    )


def _duration(raw: str, errors: FormErrors) -> int:
    raw = raw.strip()
    if not raw:
        return 0
    if not raw.isdigit():
        errors.add("duration_minutes", "Duration must be a whole number of minutes, like 30")
        return 0
    return int(raw)


@role_required(*ADMIN)
def course_create(request: HttpRequest) -> HttpResponse:
    """Add a course to the catalog."""
    values: dict[str, Any] = {"code": "", "name": "", "description": "", "duration_minutes": ""}
    errors = FormErrors(labels=LABELS)
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        minutes = _duration(values["duration_minutes"], errors)
        if not errors:
            try:
                course = catalog.create_course(
                    actor=actor(request),
                    code=values["code"],
                    name=values["name"],
                    description=values["description"],
                    duration_minutes=minutes,
                )
            except DomainError as exc:
                errors = form_errors(exc, LABELS, field_for_message="code")
            else:
                messages.success(request, f"Course {course.code} ({course.name}) was added.")
                return redirect("web:catalog")
    return render(
        request,
        "web/authoring/course_form.html",
        {"values": values, "errors": errors, "course": None},
        status=422 if errors else 200,
    )


@role_required(*STAFF)
def course_edit(request: HttpRequest, course_id: int) -> HttpResponse:
    """Show a course; let an admin change its name, description or duration."""
    try:
        course = catalog.get_course(course_id)
    except NotFound as exc:
        raise not_found(exc) from exc
    values: dict[str, Any] = {
        "code": course.code,
        "name": course.name,
        "description": course.description,
        "duration_minutes": course.duration_minutes,
    }
    errors = FormErrors(labels=LABELS)
    if request.method == "POST":
        require_admin(request)
        values.update({k: request.POST.get(k, "") for k in ("name", "description")})
        values["duration_minutes"] = request.POST.get("duration_minutes", "")
        minutes = _duration(str(values["duration_minutes"]), errors)
        if not errors:
            try:
                course = catalog.update_course(
                    actor=actor(request),
                    course_id=course_id,
                    name=values["name"],
                    description=values["description"],
                    duration_minutes=minutes,
                )
            except DomainError as exc:
                errors = form_errors(exc, LABELS)
            else:
                messages.success(request, f"Course {course.code} was saved.")
                return redirect("web:catalog")
    return render(
        request,
        "web/authoring/course_form.html",
        {"values": values, "errors": errors, "course": course},
        status=422 if errors else 200,
    )


@require_POST
@role_required(*ADMIN)
def course_status(request: HttpRequest, course_id: int) -> HttpResponse:
    """Retire a course (it stays in published versions) or reactivate it."""
    change = request.POST.get("change")
    try:
        if change == "retire":
            course = catalog.retire_course(actor=actor(request), course_id=course_id)
            messages.success(
                request,
                f"Course {course.code} is retired: it stays in published versions but "
                "cannot be added to drafts.",
            )
        elif change == "reactivate":
            course = catalog.reactivate_course(actor=actor(request), course_id=course_id)
            messages.success(request, f"Course {course.code} is active again.")
        else:
            messages.error(request, "Choose retire or reactivate.")
    except NotFound as exc:
        raise not_found(exc) from exc
    except DomainError as exc:
        refused(request, exc)
    return redirect("web:course", course_id=course_id)


@require_POST
@role_required(*ADMIN)
def course_delete(request: HttpRequest, course_id: int) -> HttpResponse:
    """Delete a course nothing refers to; otherwise say to retire it."""
    try:
        course = catalog.get_course(course_id)
        catalog.delete_course(actor=actor(request), course_id=course_id)
    except NotFound as exc:
        raise not_found(exc) from exc
    except DomainError as exc:
        refused(request, exc)
        return redirect("web:course", course_id=course_id)
    messages.success(request, f"Course {course.code} ({course.name}) was deleted.")
    return redirect("web:catalog")
