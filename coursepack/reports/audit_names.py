"""Reads that name what audit records point at: enrollments, completion events,
courses and package versions, by id, a query each (for the audit log in words)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from coursepack.catalog.models import Course
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.packaging.models import PackageVersion

__all__ = ["AuditTargets", "audit_targets"]


@dataclass(frozen=True)
class AuditTargets:
    """The records a page of audit events names, by id (missing ids are left out)."""

    enrollments: dict[int, Enrollment]
    completions: dict[int, CompletionEvent]
    courses: dict[int, Course]
    versions: dict[int, PackageVersion]


def audit_targets(
    *,
    enrollment_ids: Iterable[int],
    event_ids: Iterable[int],
    course_ids: Iterable[int],
    version_ids: Iterable[int],
) -> AuditTargets:
    """Return the enrollments (with learner and package), completion events (with
    learner and course), courses and versions (with package) named by the ids."""
    return AuditTargets(
        enrollments={
            e.pk: e
            for e in Enrollment.objects.filter(pk__in=list(enrollment_ids)).select_related(
                "learner", "package"
            )
        },
        completions={
            c.pk: c
            for c in CompletionEvent.objects.filter(pk__in=list(event_ids)).select_related(
                "learner", "course"
            )
        },
        courses={c.pk: c for c in Course.objects.filter(pk__in=list(course_ids))},
        versions={
            v.pk: v
            for v in PackageVersion.objects.filter(pk__in=list(version_ids)).select_related(
                "package"
            )
        },
    )
