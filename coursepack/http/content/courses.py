"""Catalog routes: /courses."""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Schema, Status

from coursepack.catalog import api as catalog
from coursepack.catalog.errors import CourseNotFound
from coursepack.catalog.models import Course
from coursepack.http.auth import ADMIN, READERS, require
from coursepack.http.content._shared import router
from coursepack.http.pagination import PageParams, page_of, paginate
from coursepack.http.problems import responses
from coursepack.http.schemas import (
    CourseIn,
    CourseOut,
    CoursePatch,
    NotesIn,
)

# --- catalog ---------------------------------------------------------------------------


class CourseFilters(Schema):
    status: Literal["active", "retired"] | None = None
    q: str | None = None


@router.get("/courses", response=responses({200: page_of(CourseOut)}), tags=["catalog"])
def list_courses(
    request: HttpRequest, page: Query[PageParams], filters: Query[CourseFilters]
) -> Any:
    """List the catalog's courses, in id order."""
    require(request, *READERS)
    courses = Course.objects.order_by("code")
    if filters.status:
        courses = courses.filter(status=filters.status)
    if filters.q:
        courses = courses.filter(Q(code__icontains=filters.q) | Q(name__icontains=filters.q))
    return paginate(courses, page, request)


@router.post("/courses", response=responses({201: CourseOut}, 409), tags=["catalog"])
def create_course(request: HttpRequest, body: CourseIn) -> Any:
    """Add a course to the catalog."""
    actor = require(request, *ADMIN)
    return Status(201, catalog.create_course(actor=actor, **body.dict()))


@router.get("/courses/{course_id}", response=responses({200: CourseOut}, 404), tags=["catalog"])
def get_course(request: HttpRequest, course_id: int) -> Any:
    require(request, *READERS)
    return catalog.get_course(course_id)


@router.get("/courses/by-code/{code}", response=responses({200: CourseOut}, 404), tags=["catalog"])
def get_course_by_code(request: HttpRequest, code: str) -> Any:
    """The course with this code (a course's code never changes)."""
    require(request, *READERS)
    course = Course.objects.filter(code=code).first()
    if course is None:
        raise CourseNotFound(f"There is no course with code {code!r}.")
    return course


@router.patch("/courses/{course_id}", response=responses({200: CourseOut}, 404), tags=["catalog"])
def update_course(request: HttpRequest, course_id: int, body: CoursePatch) -> Any:
    """Change a course's name, description or duration (its code never changes)."""
    actor = require(request, *ADMIN)
    return catalog.update_course(actor=actor, course_id=course_id, **body.dict())


@router.post(
    "/courses/{course_id}/retire", response=responses({200: CourseOut}, 404), tags=["catalog"]
)
def retire_course(request: HttpRequest, course_id: int, body: NotesIn) -> Any:
    actor = require(request, *ADMIN)
    return catalog.retire_course(actor=actor, course_id=course_id, notes=body.notes)


@router.post(
    "/courses/{course_id}/reactivate", response=responses({200: CourseOut}, 404), tags=["catalog"]
)
def reactivate_course(request: HttpRequest, course_id: int, body: NotesIn) -> Any:
    actor = require(request, *ADMIN)
    return catalog.reactivate_course(actor=actor, course_id=course_id, notes=body.notes)


@router.delete("/courses/{course_id}", response=responses({204: None}, 404, 409), tags=["catalog"])
def delete_course(request: HttpRequest, course_id: int) -> Any:
    """Delete a course nothing refers to (otherwise: 409, retire it instead)."""
    actor = require(request, *ADMIN)
    catalog.delete_course(actor=actor, course_id=course_id)
    return Status(204, None)
