"""The ``load_demo`` management command."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from coursepack.catalog.models import Course
from coursepack.learning.models import Enrollment
from coursepack.packaging import selectors
from coursepack.packaging.models import (
    CourseGroupVersion,
    Package,
    PackageVersion,
    PublishRecord,
)

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "courses": Course.objects.count(),
        "groups": CourseGroupVersion.objects.count(),
        "packages": Package.objects.count(),
        "versions": PackageVersion.objects.count(),
        "enrollments": Enrollment.objects.count(),
        "publish_log": PublishRecord.objects.count(),
    }


def test_load_demo_creates_the_described_data_once(settings: Any) -> None:
    """Run twice: the catalog, groups of each kind, a package with v1 archived, v2 active and
    v3 draft, and learners exist; the second run changes nothing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    first = StringIO()
    call_command("load_demo", stdout=first)
    counts = _counts()
    second = StringIO()
    call_command("load_demo", stdout=second)

    assert "Demo data loaded." in first.getvalue()
    assert "already loaded" in second.getvalue()
    assert "Demo logins" in second.getvalue()
    assert _counts() == counts

    User = get_user_model()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("coursepack-admin")
    assert User.objects.filter(is_superuser=False).count() == 6
    assert Course.objects.count() == 15
    assert set(
        CourseGroupVersion.objects.filter(status="published").values_list("kind", flat=True)
    ) == {"family", "series", "choice"}

    cyber = Package.objects.get(name="2024 Cybersecurity Training")
    assert list(
        cyber.versions.order_by("version_number").values_list("version_number", "status")
    ) == [(1, "archived"), (2, "published"), (3, "draft")]
    active = selectors.active_version(cyber.pk, timezone.now())
    assert active is not None and active.version_number == 2
    assert Enrollment.objects.filter(package=cyber).count() == 5
    assert set(Package.objects.values_list("name", flat=True)) == {
        "2024 Cybersecurity Training",
        "HR Compliance Package",
        "Q1 2024 Safety Training",
    }
    safety = Package.objects.get(name="Q1 2024 Safety Training")
    assert list(safety.versions.values_list("status", flat=True)) == ["draft"]


def test_the_demo_history_reads_like_a_real_organisations(settings: Any) -> None:
    """Every enrolment comes before the completions that count for it, and versions
    were published before anyone was enrolled in them; nothing is dated in the future."""
    from coursepack.learning.models import CompletionEvent

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("load_demo", stdout=StringIO())
    now = timezone.now()
    for enrollment in Enrollment.objects.select_related("version"):
        assert enrollment.version.published_at is not None
        assert enrollment.version.published_at <= enrollment.enrolled_at <= now
        if enrollment.completed_at is not None:
            assert enrollment.enrolled_at <= enrollment.completed_at, enrollment
        courses = selectors.version_course_ids(enrollment.version_id)
        events = CompletionEvent.objects.filter(
            learner_id=enrollment.learner_id, course_id__in=courses
        )
        for event in events:
            assert enrollment.enrolled_at <= event.occurred_at <= event.recorded_at <= now
