"""The keyword arguments and bulk services the migration needs, on their own.

Back-dated package creation and first publish, original enrolment times, completions
imported in bulk by external id, learners created in bulk.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.audit.models import AuditEvent
from coursepack.errors import InvalidInput
from coursepack.learning import api as learning
from coursepack.learning.errors import IdempotencyConflict
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors
from coursepack.packaging.models import PublishRecord
from tests.factories import add_items, make_course, make_learner, make_published_package

pytestmark = pytest.mark.django_db

PAST = datetime(2023, 12, 1, 9, tzinfo=UTC)


def test_first_publish_can_be_back_dated_and_is_in_effect_from_then(admin: Any) -> None:
    """A package created and first published in the past is active from that moment;
    the publish log says so, the audit log says when it was really written."""
    draft = packaging.create_package(actor=admin, name="Migrated", created_at=PAST)
    add_items(actor=admin, version=draft, items=[make_course()])

    outcome = packaging.publish_version(
        actor=admin, version_id=draft.pk, change_notes="Migrated", published_at=PAST
    )

    version = outcome.version
    assert version.package.created_at == PAST
    assert (version.published_at, version.effective_from) == (PAST, PAST)
    assert selectors.active_version(version.package_id, PAST + timedelta(seconds=1)) == version
    assert selectors.active_version(version.package_id, PAST - timedelta(seconds=1)) is None
    assert PublishRecord.objects.get(version=version).occurred_at == PAST
    audit = AuditEvent.objects.filter(action="version.published").latest("id")
    assert audit.occurred_at > PAST


def test_back_dating_is_refused_once_a_package_has_published_history(admin: Any) -> None:
    """Only a package's first publish can be back-dated: history is never rewritten."""
    version = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=version.pk)
    with pytest.raises(InvalidInput, match="first publish"):
        packaging.publish_version(actor=admin, version_id=draft.pk, published_at=PAST)


def test_back_dated_publish_must_be_aware_and_past(admin: Any) -> None:
    """A naive or future moment is refused before anything is written."""
    draft = packaging.create_package(actor=admin, name="Migrated")
    add_items(actor=admin, version=draft, items=[make_course()])
    with pytest.raises(InvalidInput):
        packaging.publish_version(
            actor=admin, version_id=draft.pk, published_at=datetime(2023, 1, 1)
        )
    with pytest.raises(InvalidInput):
        packaging.publish_version(
            actor=admin, version_id=draft.pk, published_at=timezone.now() + timedelta(days=1)
        )
    with pytest.raises(InvalidInput):
        packaging.create_package(actor=admin, name="x", created_at=timezone.now() + timedelta(1))


def test_group_publish_can_be_back_dated(admin: Any) -> None:
    """A migrated group keeps the moment it was really in use from."""
    gv = packaging.create_group(actor=admin, name="Languages", kind="family")
    for course in (make_course(), make_course()):
        packaging.add_group_item(actor=admin, group_version_id=gv.pk, course_id=course.pk)
    gv = packaging.publish_group_version(actor=admin, group_version_id=gv.pk, published_at=PAST)
    assert gv.published_at == PAST


def test_bulk_enrol_keeps_original_enrolment_times(admin: Any) -> None:
    """Learners given an original time are enrolled at it; the others now."""
    version = make_published_package(actor=admin)
    first, second = make_learner(), make_learner()
    result = learning.bulk_enroll(
        actor=admin,
        package_id=version.package_id,
        learner_ids=[first.pk, second.pk],
        enrolled_at={first.pk: PAST},
    )
    assert result.enrolled == 2
    assert Enrollment.objects.get(learner=first).enrolled_at == PAST
    assert Enrollment.objects.get(learner=second).enrolled_at > PAST
    with pytest.raises(InvalidInput):
        learning.bulk_enroll(
            actor=admin,
            package_id=version.package_id,
            learner_ids=[make_learner().pk],
            enrolled_at={1: datetime(2023, 1, 1)},
        )


def test_import_completions_is_idempotent_by_external_id_and_updates_statuses(
    admin: Any,
) -> None:
    """Imported completions are events with source import; importing them again writes
    nothing; the same key with other facts is refused; statuses follow."""
    course = make_course()
    version = make_published_package(actor=admin, items=[course])
    learner = make_learner()
    learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    rows = [
        learning.ImportedCompletion(learner.pk, course.pk, "completed", PAST, "legacy:1"),
        learning.ImportedCompletion(learner.pk, course.pk, "failed", PAST, "legacy:2"),
    ]

    result = learning.import_completions(actor=admin, completions=rows, chunk_size=1)

    assert (result.created, result.already_recorded, result.enrollments_changed) == (2, 0, 1)
    assert set(CompletionEvent.objects.values_list("source", flat=True)) == {"import"}
    enrollment = Enrollment.objects.get(learner=learner)
    # Enrolled now: complete from the enrolment on, though the training was done before.
    assert (enrollment.status, enrollment.completed_at) == ("completed", enrollment.enrolled_at)
    audits = AuditEvent.objects.count()

    again = learning.import_completions(actor=admin, completions=rows)

    assert (again.created, again.already_recorded) == (0, 2)
    assert AuditEvent.objects.count() == audits
    changed = [learning.ImportedCompletion(learner.pk, course.pk, "passed", PAST, "legacy:1")]
    with pytest.raises(IdempotencyConflict):
        learning.import_completions(actor=admin, completions=changed)
    future = [
        learning.ImportedCompletion(
            learner.pk, course.pk, "completed", timezone.now() + timedelta(days=1), "legacy:3"
        )
    ]
    with pytest.raises(InvalidInput):
        learning.import_completions(actor=admin, completions=future)
    assert CompletionEvent.objects.count() == 2


def test_create_learners_in_bulk_creates_each_username_once(admin: Any) -> None:
    """New usernames become learners without a usable password; existing ones are
    returned untouched; a repeated call writes nothing."""
    existing = make_learner(username="legacy-1")
    people = [accounts.NewLearner("legacy-1"), accounts.NewLearner("legacy-2", "Bo", "", "b@x.org")]

    ids = accounts.create_learners(actor=admin, learners=people)

    assert ids["legacy-1"] == existing.pk
    bo = get_user_model().objects.get(pk=ids["legacy-2"])
    assert (bo.first_name, bo.email, bo.has_usable_password()) == ("Bo", "b@x.org", False)
    assert accounts.role_of(bo) == "learner"
    audits = AuditEvent.objects.count()
    assert accounts.create_learners(actor=admin, learners=people) == ids
    assert AuditEvent.objects.count() == audits
