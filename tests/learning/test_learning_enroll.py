"""Enrolling one learner, withdrawing, and pinning to the version enrolled in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from learning_helpers import actions, backdate, base_time, drift, record, stored

from coursepack.audit.models import AuditEvent
from coursepack.learning import api as learning
from coursepack.learning import selectors
from coursepack.learning.errors import (
    AlreadyEnrolled,
    AlreadyWithdrawn,
    EnrollmentNotFound,
    LearnerNotFound,
    NoActiveVersion,
    VersionNotEnrollable,
)
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging
from coursepack.packaging.errors import PackageNotFound
from tests.factories import (
    make_course,
    make_draft_package,
    make_learner,
    make_published_package,
    publish_new_version,
)

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _nothing_written(before_audit: int) -> None:
    assert Enrollment.objects.count() == 0
    assert AuditEvent.objects.count() == before_audit


def test_enrol_pins_the_active_version_and_is_audited(admin: Any, learner: Any) -> None:
    """A new enrollment is on the active version, evaluated, and on the audit record."""
    # Given a package whose v2 is active
    course = make_course()
    v1 = make_published_package(items=[course])
    v2 = publish_new_version(from_version=v1, add=[make_course()])

    # When the admin enrols a learner
    enrollment = learning.enroll(
        actor=admin, learner_id=learner.pk, package_id=v1.package_id, notes="new starter"
    )

    # Then the learner is on v2, not started, by the admin, and the log says so
    enrollment.refresh_from_db()
    assert enrollment.version_id == v2.pk
    assert enrollment.package_id == v1.package_id
    assert enrollment.enrolled_by == admin
    assert enrollment.withdrawn_at is None
    assert stored(enrollment) == ("not_started", 0, 2, None)
    event = AuditEvent.objects.get(action="enrollment.created")
    assert (event.actor, event.target_id, event.package_id) == (
        admin,
        str(enrollment.pk),
        v1.package_id,
    )
    assert event.notes == "new starter"
    assert event.after == {
        "version": v2.pk,
        "status": "not_started",
        "progress": "0/2",
        "completed_at": None,
    }


def test_enrol_in_the_active_version_by_id(admin: Any, learner: Any) -> None:
    """An integration may name the version it expects; an archived one is refused."""
    v1 = make_published_package()
    v2 = publish_new_version(from_version=v1)
    with pytest.raises(VersionNotEnrollable, match="archived"):
        learning.enroll(
            actor=admin, learner_id=learner.pk, package_id=v1.package_id, version_id=v1.pk
        )
    enrollment = learning.enroll(
        actor=admin, learner_id=learner.pk, package_id=v1.package_id, version_id=v2.pk
    )
    assert enrollment.version_id == v2.pk


def test_no_active_version_is_refused(admin: Any, learner: Any) -> None:
    """A package with only a draft has nothing to enrol in."""
    draft = make_draft_package()
    audit_count = AuditEvent.objects.count()
    with pytest.raises(NoActiveVersion, match="no published version"):
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=draft.package_id)
    _nothing_written(audit_count)


def test_scheduled_version_is_not_enrollable_before_its_date(admin: Any, learner: Any) -> None:
    """A version published for a future date is not active yet."""
    draft = make_draft_package()
    packaging.publish_version(
        actor=admin, version_id=draft.pk, effective_at=timezone.now() + timedelta(days=3)
    )
    audit_count = AuditEvent.objects.count()
    with pytest.raises(NoActiveVersion):
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=draft.package_id)
    _nothing_written(audit_count)


def test_retired_package_is_refused(admin: Any, learner: Any) -> None:
    """A retired package takes no new enrollments, though its version is still active."""
    version = make_published_package()
    packaging.retire_package(actor=admin, package_id=version.package_id)
    audit_count = AuditEvent.objects.count()
    with pytest.raises(VersionNotEnrollable, match="retired"):
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    _nothing_written(audit_count)


def test_unknown_learner_or_package_is_refused(admin: Any, learner: Any) -> None:
    version = make_published_package()
    with pytest.raises(LearnerNotFound):
        learning.enroll(actor=admin, learner_id=learner.pk + 1000, package_id=version.package_id)
    with pytest.raises(PackageNotFound):
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id + 1000)
    assert Enrollment.objects.count() == 0


def test_already_enrolled_is_refused(admin: Any, learner: Any) -> None:
    """One open enrollment per learner and package."""
    version = make_published_package()
    learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    audit_count = AuditEvent.objects.count()
    with pytest.raises(AlreadyEnrolled, match="withdraw that enrollment first"):
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    assert Enrollment.objects.count() == 1
    assert AuditEvent.objects.count() == audit_count


def test_database_refuses_a_second_open_enrollment(admin: Any, learner: Any) -> None:
    """The partial unique index holds even for raw inserts that bypass the service;
    a withdrawn enrollment does not count."""
    version = make_published_package()
    first = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)

    def insert() -> Enrollment:
        with transaction.atomic():
            return Enrollment.objects.create(
                learner=learner,
                package_id=version.package_id,
                version=version,
                enrolled_at=timezone.now(),
            )

    with pytest.raises(IntegrityError):
        insert()
    Enrollment.objects.filter(pk=first.pk).update(withdrawn_at=timezone.now())
    insert()
    with pytest.raises(IntegrityError):
        insert()
    assert Enrollment.objects.filter(learner=learner).count() == 2


def test_withdraw_then_enrol_again(admin: Any, learner: Any) -> None:
    """A withdrawn enrollment keeps its record, frozen as of withdrawal; the learner
    may be enrolled again, and the new enrollment counts their events."""
    # Given a learner halfway through a package
    t = base_time()
    a, b = make_course(), make_course()
    version = make_published_package(items=[a, b])
    first = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    record(learner, a, t)
    assert stored(first) == ("in_progress", 1, 2, None)

    # When the admin withdraws them
    withdrawn = learning.withdraw(actor=admin, enrollment_id=first.pk, notes="left the team")

    # Then the enrollment is closed with its status as of then, and it is on the record
    assert withdrawn.withdrawn_at is not None
    assert withdrawn.withdrawn_by == admin
    assert stored(first) == ("in_progress", 1, 2, None)
    event = AuditEvent.objects.get(action="enrollment.withdrawn")
    assert (event.target_id, event.notes) == (str(first.pk), "left the team")
    with pytest.raises(AlreadyWithdrawn):
        learning.withdraw(actor=admin, enrollment_id=first.pk)
    with pytest.raises(EnrollmentNotFound):
        learning.withdraw(actor=admin, enrollment_id=first.pk + 1000)

    # When they finish the package after withdrawal, then are enrolled again
    finished = timezone.now()
    record(learner, b, finished)
    second = learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)

    # Then the withdrawn enrollment stays frozen and the new one is complete since it
    # began: the training before it counts, and never before the enrollment existed
    assert stored(first) == ("in_progress", 1, 2, None)
    assert stored(second) == ("completed", 2, 2, second.enrolled_at)
    assert Enrollment.objects.filter(learner=learner).count() == 2
    assert drift() == []


def test_enrollment_stays_pinned_when_a_new_version_is_published(admin: Any, learner: Any) -> None:
    """Publishing with the default policy moves nobody: enrolled learners keep their
    version, its rules and its courses; new learners get the new version."""
    # Given a learner enrolled in v1 (course A)
    t = base_time()
    a, b = make_course(), make_course()
    v1 = make_published_package(items=[a])
    pinned = backdate(
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=v1.package_id), t
    )

    # When v2 (A and B) is published with the default policy
    v2 = publish_new_version(from_version=v1, add=[b])
    newcomer = make_learner()
    fresh = learning.enroll(actor=admin, learner_id=newcomer.pk, package_id=v1.package_id)

    # Then the first learner is still on v1 and completes it with A alone
    assert stored(pinned) == ("not_started", 0, 1, None)
    assert pinned.version_id == v1.pk
    record(learner, b, t)
    assert stored(pinned) == ("not_started", 0, 1, None)
    record(learner, a, t + HOUR)
    assert stored(pinned) == ("completed", 1, 1, t + HOUR)
    assert pinned.version_id == v1.pk
    assert not pinned.moves.exists()
    # And the newcomer is on v2, which needs both
    assert fresh.version_id == v2.pk
    record(newcomer, a, t)
    assert stored(fresh) == ("in_progress", 1, 2, None)
    assert drift() == []


def test_prior_completions_count_from_enrolment(admin: Any) -> None:
    """A learner who already did the courses is enrolled with the status they earned:
    completed, since enrolment (an enrollment is never complete before it existed)."""
    t = base_time()
    a, b = make_course(), make_course()
    version = make_published_package(items=[a, b])
    done, halfway, failed = make_learner(), make_learner(), make_learner()
    record(done, a, t)
    record(done, b, t + HOUR)
    record(halfway, b, t)
    record(failed, a, t, kind="failed")

    enrollments = {
        who: learning.enroll(actor=admin, learner_id=who.pk, package_id=version.package_id)
        for who in (done, halfway, failed)
    }

    enrolled_at = enrollments[done].enrolled_at
    assert stored(enrollments[done]) == ("completed", 2, 2, enrolled_at)
    assert selectors.enrollment_progress(enrollments[done].pk).satisfied_by_earlier_training
    assert stored(enrollments[halfway]) == ("in_progress", 1, 2, None)
    assert stored(enrollments[failed]) == ("in_progress", 0, 2, None)
    assert AuditEvent.objects.get(
        action="enrollment.created", target_id=str(enrollments[done].pk)
    ).after == {
        "version": version.pk,
        "status": "completed",
        "progress": "2/2",
        "completed_at": enrolled_at.isoformat(),
    }
    assert drift() == []


def test_every_enrollment_operation_is_audited(admin: Any, learner: Any) -> None:
    """enroll, withdraw and bulk_enroll each leave one audit event naming the package."""
    version = make_published_package()
    package_id = version.package_id
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=package_id)
    learning.withdraw(actor=admin, enrollment_id=enrollment.pk)
    learning.bulk_enroll(actor=admin, package_id=package_id, learner_ids=[learner.pk])
    assert actions(package_id=package_id, action__startswith="enrollment.") == [
        "enrollment.created",
        "enrollment.withdrawn",
        "enrollment.bulk_created",
    ]
    assert set(
        AuditEvent.objects.filter(action__startswith="enrollment.").values_list(
            "actor_label", flat=True
        )
    ) == {admin.username}
