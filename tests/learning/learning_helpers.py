"""Helpers of the enrollment and completion tests (beside tests/factories.py).

Named ``learning_helpers`` because test helper basenames must be unique across
tests/ (pytest's prepend import mode).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from coursepack.audit.models import AuditEvent
from coursepack.catalog.models import Course
from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment


def base_time() -> datetime:
    """Return a fixed moment, 30 days ago to the second, that events are placed after."""
    return (timezone.now() - timedelta(days=30)).replace(microsecond=0)


def record(
    learner: Any,
    course: Course,
    at: datetime,
    *,
    kind: str = "completed",
    actor: Any = None,
    **kw: Any,
) -> learning.RecordResult:
    """Record an event of ``learner`` on ``course`` that occurred at ``at``."""
    return learning.record_completion(
        actor=actor, learner_id=learner.pk, course_id=course.pk, kind=kind, occurred_at=at, **kw
    )


def stored(enrollment: Enrollment) -> tuple[str, int, int, datetime | None]:
    """Return the enrollment's cached (status, done, needed, completed_at), fresh from the DB."""
    enrollment.refresh_from_db()
    return (
        enrollment.status,
        enrollment.progress_done,
        enrollment.progress_needed,
        enrollment.completed_at,
    )


def make_learners(count: int, prefix: str = "bulk") -> list[int]:
    """Create ``count`` learners in one query (no password hashing); return their ids."""
    User = get_user_model()
    users = [User(username=f"{prefix}{i}") for i in range(count)]
    for user in users:
        user.set_unusable_password()
    User.objects.bulk_create(users)
    return list(
        User.objects.filter(username__in=[u.username for u in users])
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def drift() -> list[int]:
    """Return the ids of the enrollments whose stored status differs from the engine's."""
    return learning.rebuild_statuses(actor=None, fix=False).drifted


def actions(**filters: Any) -> list[str]:
    """Return the actions of the audit events matching ``filters``, oldest first."""
    return list(
        AuditEvent.objects.filter(**filters).order_by("id").values_list("action", flat=True)
    )


def backdate(enrollment: Enrollment, at: datetime) -> Enrollment:
    """Make ``enrollment`` enrolled at ``at``, as if enrolled then, and return it fresh.

    The services enrol *now*, and an enrollment is never complete before it existed
    on its version (PRODUCT.md, "Two timelines"): tests of the moment a tree became
    satisfied place their events after ``base_time()`` and enrol at it. Call it right
    after enrolling, before recording events, so the cache is computed with it.
    """
    Enrollment.objects.filter(pk=enrollment.pk).update(enrolled_at=at)
    enrollment.refresh_from_db()
    return enrollment
