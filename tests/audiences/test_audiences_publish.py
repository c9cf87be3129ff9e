"""Audiences and new versions of their package (ADR 0034): people who join after a
publish are enrolled on the version then in effect, members already enrolled follow
the publish's in-flight policy like anyone else, a version scheduled for later is not
given early, and reinstating a retired package enrols the members who joined while it
was retired."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from coursepack.audiences import api as audiences
from coursepack.audiences.models import Assignment
from coursepack.jobs import api as jobs
from coursepack.jobs.models import JobKind
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging
from coursepack.packaging.models import PackageVersion
from tests.audiences.audience_helpers import Org, make_org, make_person, place
from tests.factories import make_admin, make_published_package

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Any:
    return make_admin()


@pytest.fixture
def org() -> Org:
    return make_org()


def _publish_next(admin: Any, version: PackageVersion, **options: Any) -> PackageVersion:
    draft = packaging.create_draft_from(actor=admin, version_id=version.pk)
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Next.", **options)
    draft.refresh_from_db()
    return draft


def _open(package_id: int, learner: Any) -> Enrollment:
    return Enrollment.objects.get(
        package_id=package_id,
        learner=learner,
        withdrawn_at__isnull=True,
        superseded_at__isnull=True,
    )


def _save(admin: Any, version: PackageVersion, org: Org) -> None:
    audiences.save_audience(
        actor=admin,
        package_id=version.package_id,
        rule=audiences.check_rule(org_unit_ids=[org.north.pk]),
    )


def test_people_who_join_after_a_publish_get_the_version_then_in_effect(
    admin: Any, org: Org
) -> None:
    v1 = make_published_package(actor=admin)
    early = make_person(org.north)
    _save(admin, v1, org)
    v2 = _publish_next(admin, v1)
    late = make_person(org.south)
    place(late, org.north)  # HR moves them in; the sync reconciles the people it touched

    audiences.reconcile(actor=admin, person_ids=[late.pk])

    assert _open(v1.package_id, late).version_id == v2.pk
    # Learners keep their version: the publish (policy "keep") moved nobody.
    assert _open(v1.package_id, early).version_id == v1.pk
    assignment = Assignment.objects.get(learner=late, ended_at__isnull=True)
    assert assignment.enrollment_id == _open(v1.package_id, late).pk


def test_members_moved_by_a_publish_stay_the_audiences_and_leave_it_as_such(
    admin: Any, org: Org
) -> None:
    v1 = make_published_package(actor=admin)
    member = make_person(org.north)
    _save(admin, v1, org)
    enrollment = _open(v1.package_id, member)

    v2 = _publish_next(admin, v1, inflight_policy="move_not_started")

    moved = _open(v1.package_id, member)
    assert (moved.pk, moved.version_id) == (enrollment.pk, v2.pk)
    # Moved out of the units: the audience withdraws the enrollment it made, on v2.
    place(member, org.desk)
    result = audiences.reconcile(actor=admin, person_ids=[member.pk])
    assert result.per_package[v1.package_id].withdrawn == [member.pk]
    moved.refresh_from_db()
    assert moved.withdrawn_at is not None


def test_a_version_scheduled_for_later_is_not_given_before_it_takes_effect(
    admin: Any, org: Org
) -> None:
    v1 = make_published_package(actor=admin)
    _save(admin, v1, org)
    _publish_next(admin, v1, effective_at=timezone.now() + timedelta(days=3))
    newcomer = make_person(org.north)

    audiences.reconcile(actor=admin, person_ids=[newcomer.pk])

    assert _open(v1.package_id, newcomer).version_id == v1.pk


def test_reinstating_a_retired_package_enrols_who_joined_while_it_was_retired(
    admin: Any, org: Org
) -> None:
    v1 = make_published_package(actor=admin)
    _save(admin, v1, org)
    packaging.retire_package(actor=admin, package_id=v1.package_id)
    joined = make_person(org.north)
    # The sync after they joined could enrol nobody: the package was retired.
    assert audiences.reconcile(actor=admin, person_ids=[joined.pk]).counts()["enrolled"] == 0

    package, job = jobs.reinstate_package(actor=admin, package_id=v1.package_id, notes="Back.")

    assert package.status == "active"
    assert job is not None and job.kind == JobKind.AUDIENCE_SYNC
    finished = jobs.run_job(job.pk)
    assert finished.status == "succeeded", finished.error
    assert _open(v1.package_id, joined).version_id == v1.pk
    # A package without an audience is reinstated with no job.
    other = make_published_package(actor=admin)
    packaging.retire_package(actor=admin, package_id=other.package_id)
    assert jobs.reinstate_package(actor=admin, package_id=other.package_id)[1] is None
