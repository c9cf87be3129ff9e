"""A completion recorded long after it occurred needs a reason (the late horizon)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from coursepack.audit.models import AuditEvent
from coursepack.errors import InvalidInput
from coursepack.learning import api as learning
from tests.factories import make_course

pytestmark = pytest.mark.django_db


def test_a_completion_back_dated_past_the_horizon_without_a_reason_is_refused(
    admin: Any, learner: Any
) -> None:
    course = make_course()
    long_ago = timezone.now() - timedelta(days=366)

    with pytest.raises(InvalidInput) as refused:
        learning.record_completion(
            actor=admin, learner_id=learner.pk, course_id=course.pk, occurred_at=long_ago
        )

    assert any(p.startswith("late_reason: is required") for p in refused.value.problems)
    assert not learner.completion_events.exists()


def test_the_year_one_needs_a_reason_too(admin: Any, learner: Any) -> None:
    course = make_course()
    year_one = timezone.now().replace(year=1, month=1, day=2)

    with pytest.raises(InvalidInput):
        learning.record_completion(
            actor=admin, learner_id=learner.pk, course_id=course.pk, occurred_at=year_one
        )


def test_with_a_reason_it_is_recorded_marked_late_and_the_reason_is_audited(
    admin: Any, learner: Any
) -> None:
    course = make_course()
    long_ago = timezone.now() - timedelta(days=400)

    result = learning.record_completion(
        actor=admin,
        learner_id=learner.pk,
        course_id=course.pk,
        occurred_at=long_ago,
        late_reason="Paper certificate found in the 2024 archive",
    )

    assert result.event.late_reason == "Paper certificate found in the 2024 archive"
    assert learning.recorded_late(result.event)
    record = AuditEvent.objects.get(action="completion.recorded", target_id=str(result.event.pk))
    assert record.after["late_reason"] == "Paper certificate found in the 2024 archive"


def test_within_the_horizon_no_reason_is_needed(admin: Any, learner: Any, settings: Any) -> None:
    course = make_course()
    settings.COMPLETION_LATE_HORIZON_DAYS = 30

    result = learning.record_completion(
        actor=admin,
        learner_id=learner.pk,
        course_id=course.pk,
        occurred_at=timezone.now() - timedelta(days=29),
    )

    assert not learning.recorded_late(result.event)
    with pytest.raises(InvalidInput):
        learning.record_completion(
            actor=admin,
            learner_id=learner.pk,
            course_id=course.pk,
            occurred_at=timezone.now() - timedelta(days=31),
        )
