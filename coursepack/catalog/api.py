"""The catalog's write path: every change to a course goes through here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from coursepack import references
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.catalog.errors import CourseCodeTaken, CourseInUse, CourseNotFound
from coursepack.catalog.models import Course, CourseStatus
from coursepack.validation import Problems, collecting, full_clean

__all__ = [
    "NewCourse",
    "create_course",
    "create_courses",
    "delete_course",
    "get_course",
    "reactivate_course",
    "retire_course",
    "update_course",
]


def _snapshot(course: Course) -> dict[str, object]:
    return {
        "code": course.code,
        "name": course.name,
        "description": course.description,
        "duration_minutes": course.duration_minutes,
        "status": course.status,
    }


def get_course(course_id: int) -> Course:
    """Return the course, or raise CourseNotFound."""
    try:
        return Course.objects.get(pk=course_id)
    except Course.DoesNotExist:
        raise CourseNotFound(f"There is no course with id {course_id}.") from None


# The largest value PostgreSQL's integer column holds; SQLite would take more,
# but both engines must accept and refuse the same input.
_MAX_DURATION = 2_147_483_647


def _check_duration(problems: Problems, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.add("duration_minutes", "must be a whole number of minutes, 0 or more")
    elif value > _MAX_DURATION:
        problems.add("duration_minutes", f"must be at most {_MAX_DURATION} minutes")


def _code_taken(code: str) -> CourseCodeTaken:
    return CourseCodeTaken(
        f"A course with code {code!r} already exists; choose another code.",
        existing_id=Course.objects.filter(code=code).values_list("pk", flat=True).first(),
    )


def create_course(
    *,
    actor: Actor,
    code: str,
    name: str,
    description: str = "",
    duration_minutes: int = 0,
) -> Course:
    """Add a course to the catalog."""
    with collecting("The course cannot be created.") as problems:
        code = problems.text("code", code, max_length=64)
        name = problems.text("name", name, max_length=255)
        description = problems.text("description", description, max_length=20_000, required=False)
        _check_duration(problems, duration_minutes)
    with transaction.atomic():
        if Course.objects.filter(code=code).exists():
            raise _code_taken(code)
        now = timezone.now()
        course = Course(
            code=code,
            name=name,
            description=description,
            duration_minutes=duration_minutes,
            created_at=now,
            updated_at=now,
            created_by=actor if isinstance(actor, User) else None,
        )
        full_clean(course, exclude=["code", "created_by"])
        try:
            # Someone may have taken the code since the check above: the unique
            # constraint decides, and the caller still gets the typed error.
            with transaction.atomic():
                course.save()
        except IntegrityError:
            raise _code_taken(code) from None
        audit.record(
            actor=actor, action="course.created", target=course, at=now, after=_snapshot(course)
        )
    return course


@dataclass(frozen=True)
class NewCourse:
    """A course to add to the catalog in bulk (``create_courses``)."""

    code: str
    name: str
    description: str = ""
    duration_minutes: int = 0


def create_courses(*, actor: Actor, courses: Iterable[NewCourse]) -> dict[str, int]:
    """Add the courses whose code the catalog does not have yet, in one transaction;
    return every given code's course id (a repeated call creates nothing).

    The bulk form of ``create_course`` for migrations: the same checks, one audit
    record per course created, all written in a few statements (not a round of
    statements per course).
    """
    given_codes: dict[str, str] = {}
    wanted: dict[str, NewCourse] = {}
    with collecting("The courses cannot be created.") as problems:
        for given in courses:
            code = problems.text("code", given.code, max_length=64)
            name = problems.text("name", given.name, max_length=255)
            description = problems.text(
                "description", given.description, max_length=20_000, required=False
            )
            _check_duration(problems, given.duration_minutes)
            given_codes[given.code] = code
            wanted.setdefault(code, NewCourse(code, name, description, given.duration_minutes))
    with transaction.atomic():
        chain = audit.lock_chain()
        ids = dict(Course.objects.filter(code__in=list(wanted)).values_list("code", "pk"))
        now = timezone.now()
        new = [
            Course(
                code=c.code,
                name=c.name,
                description=c.description,
                duration_minutes=c.duration_minutes,
                created_at=now,
                updated_at=now,
                created_by=actor if isinstance(actor, User) else None,
            )
            for code, c in wanted.items()
            if code not in ids
        ]
        for course in new:
            full_clean(course, exclude=["code", "created_by"])
        try:
            with transaction.atomic():
                Course.objects.bulk_create(new, batch_size=1000)
        except IntegrityError:
            raise CourseCodeTaken(
                "Another change added some of these course codes meanwhile; try again."
            ) from None
        if not connection.features.can_return_rows_from_bulk_insert:
            created = dict(
                Course.objects.filter(code__in=[c.code for c in new]).values_list("code", "pk")
            )
            for course in new:
                course.pk = created[course.code]
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="course.created",
                    target=course,
                    at=now,
                    after=_snapshot(course),
                )
                for course in new
            ],
            head=chain,
        )
        ids.update((course.code, course.pk) for course in new)
    return {given: ids[code] for given, code in given_codes.items()}


def update_course(
    *,
    actor: Actor,
    course_id: int,
    name: str | None = None,
    description: str | None = None,
    duration_minutes: int | None = None,
    notes: str = "",
) -> Course:
    """Change a course's name, description or duration.

    The code is its identity in integrations and cannot change. Published
    versions refer to the course by id, so their meaning does not change either.
    """
    with collecting("The course cannot be updated.") as problems:
        if name is not None:
            name = problems.text("name", name, max_length=255)
        if description is not None:
            description = problems.text(
                "description", description, max_length=20_000, required=False
            )
        if duration_minutes is not None:
            _check_duration(problems, duration_minutes)
        notes = problems.text("notes", notes, max_length=20_000, required=False)
    with transaction.atomic():
        course = _locked(course_id)
        before = _snapshot(course)
        if name is not None:
            course.name = name
        if description is not None:
            course.description = description
        if duration_minutes is not None:
            course.duration_minutes = duration_minutes
        now = timezone.now()
        course.updated_at = now
        course.save()
        audit.record(
            actor=actor,
            action="course.updated",
            target=course,
            at=now,
            before=before,
            after=_snapshot(course),
            notes=notes,
        )
    return course


def _locked(course_id: int) -> Course:
    try:
        return Course.objects.select_for_update().get(pk=course_id)
    except Course.DoesNotExist:
        raise CourseNotFound(f"There is no course with id {course_id}.") from None


def _set_status(
    *, actor: Actor, course_id: int, status: CourseStatus, action: str, notes: str
) -> Course:
    with transaction.atomic():
        course = _locked(course_id)
        if course.status == status:
            return course
        before = _snapshot(course)
        now = timezone.now()
        course.status = status
        course.updated_at = now
        course.save(update_fields=["status", "updated_at"])
        audit.record(
            actor=actor,
            action=action,
            target=course,
            at=now,
            before=before,
            after=_snapshot(course),
            notes=notes,
        )
    return course


def retire_course(*, actor: Actor, course_id: int, notes: str = "") -> Course:
    """Retire a course: it stays in published versions but cannot be added to drafts."""
    return _set_status(
        actor=actor,
        course_id=course_id,
        status=CourseStatus.RETIRED,
        action="course.retired",
        notes=notes,
    )


def reactivate_course(*, actor: Actor, course_id: int, notes: str = "") -> Course:
    """Make a retired course available to drafts again."""
    return _set_status(
        actor=actor,
        course_id=course_id,
        status=CourseStatus.ACTIVE,
        action="course.reactivated",
        notes=notes,
    )


def delete_course(*, actor: Actor, course_id: int, notes: str = "") -> None:
    """Delete a course that nothing refers to; otherwise say to retire it."""
    with transaction.atomic():
        course = _locked(course_id)
        # The layers above refer to a course through PROTECT foreign keys and say
        # what their rows are (references.describe_references); none is imported here.
        uses = references.describe_references(course)
        if uses:
            raise CourseInUse(
                f"Course {course.code} is used by {', '.join(uses)}; retire it instead of deleting it."
            )
        now = timezone.now()
        audit.record(
            actor=actor,
            action="course.deleted",
            target=course,
            at=now,
            before=_snapshot(course),
            notes=notes,
        )
        try:
            course.delete()
        except (ProtectedError, RestrictedError) as exc:
            raise CourseInUse(
                f"Course {course.code} is in use; retire it instead of deleting it."
            ) from exc
