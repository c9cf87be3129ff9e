"""Audiences: who a rule selects, what saving it enrols and withdraws, and what a
reconciliation after a people sync does — exactly the expected people."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.audiences import api as audiences
from coursepack.audiences.selectors import Rule
from coursepack.audit.models import AuditEvent
from coursepack.errors import InvalidInput
from coursepack.jobs import api as jobs
from coursepack.jobs.models import Job, JobKind
from coursepack.learning import api as learning
from coursepack.learning.errors import NoActiveVersion
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging
from coursepack.packaging.models import PackageVersion
from tests.audiences.audience_helpers import Org, make_org, make_person, place
from tests.factories import make_admin, make_course, make_draft_package, make_published_package

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Any:
    return make_admin()


@pytest.fixture
def org() -> Org:
    return make_org()


@pytest.fixture
def version(admin: Any) -> PackageVersion:
    return make_published_package(actor=admin)


def _open(package_id: int) -> set[int]:
    return set(
        Enrollment.objects.filter(
            package_id=package_id, withdrawn_at__isnull=True, superseded_at__isnull=True
        ).values_list("learner_id", flat=True)
    )


def _save(admin: Any, version: PackageVersion, **rule: Any) -> audiences.SaveResult:
    return audiences.save_audience(
        actor=admin, package_id=version.package_id, rule=audiences.check_rule(**rule)
    )


def test_org_units_include_everything_below_them(admin: Any, org: Org, version: Any) -> None:
    """A rule naming "sales" enrols the people of sales, north and south, and nobody else."""
    inside = [make_person(org.sales), make_person(org.north), make_person(org.south)]
    make_person(org.support)
    make_person(org.desk)
    make_person(None)

    saved = _save(admin, version, org_unit_ids=[org.sales.pk])

    assert saved.applied
    assert _open(version.package_id) == {p.pk for p in inside}
    assert saved.impact.enrol == sorted(p.pk for p in inside)


def test_kinds_combine_with_and_values_within_a_kind_with_or(
    admin: Any, org: Org, version: Any
) -> None:
    """(north OR desk) AND (title nurse OR porter) AND hired after 2024-01-01."""
    cutoff = date(2024, 1, 1)
    yes = [
        make_person(org.north, title="Nurse", hired=date(2024, 6, 1)),
        make_person(org.desk, title="porter", hired=date(2025, 1, 1)),
    ]
    no = [
        make_person(org.north, title="Nurse", hired=cutoff),  # not after: on the day
        make_person(org.north, title="Nurse", hired=None),  # hire date unknown
        make_person(org.south, title="Nurse", hired=date(2024, 6, 1)),  # wrong unit
        make_person(org.desk, title="Doctor", hired=date(2024, 6, 1)),  # wrong title
    ]

    _save(
        admin,
        version,
        org_unit_ids=[org.north.pk, org.desk.pk],
        job_titles=["nurse", "Porter"],
        hired_after=cutoff,
    )

    assert _open(version.package_id) == {p.pk for p in yes}
    assert not _open(version.package_id) & {p.pk for p in no}


def test_deactivated_people_are_not_members(admin: Any, org: Org, version: Any) -> None:
    active = make_person(org.north)
    away = make_person(org.north)
    accounts.deactivate_user(actor=admin, user_id=away.pk)

    _save(admin, version, org_unit_ids=[org.north.pk])

    assert _open(version.package_id) == {active.pk}


def test_a_rule_must_name_a_criterion_and_real_units(org: Org) -> None:
    with pytest.raises(InvalidInput) as caught:
        audiences.check_rule()
    assert "at least one" in str(caught.value)
    with pytest.raises(InvalidInput) as caught:
        audiences.check_rule(org_unit_ids=[987654], job_titles=["ok", "\x00"], leaver_policy="x")
    text = str(caught.value)
    assert "987654" in text and "NUL" in text and "leaver_policy" in text


def test_a_package_without_an_active_version_cannot_take_an_audience(admin: Any, org: Org) -> None:
    draft = make_draft_package(actor=admin)
    with pytest.raises(NoActiveVersion):
        audiences.save_audience(
            actor=admin,
            package_id=draft.package_id,
            rule=audiences.check_rule(org_unit_ids=[org.company.pk]),
        )


def test_saving_is_audited_with_its_impact(admin: Any, org: Org, version: Any) -> None:
    """The save's audit record holds the rule and "N learners would be enrolled, M
    withdrawn"; the application's record lists who was enrolled."""
    people = [make_person(org.north) for _ in range(3)]

    saved = _save(admin, version, org_unit_ids=[org.north.pk])

    assert saved.impact.summary == "3 learners would be enrolled, 0 withdrawn"
    record = AuditEvent.objects.get(action="audience.saved")
    assert record.after["impact"] == {"members": 3, "enrol": 3, "withdraw": 0, "keep": 0}
    assert record.after["org_unit_ids"] == [org.north.pk]
    applied = AuditEvent.objects.get(action="audience.reconciled")
    assert applied.after["enrolled_learners"] == sorted(p.pk for p in people)


def test_changing_the_rule_withdraws_unfinished_and_keeps_completed(
    admin: Any, org: Org, version: Any
) -> None:
    """Narrowing the rule from sales to north: south's people leave; the one who has
    not finished is withdrawn, the one who completed keeps the record."""
    north = make_person(org.north)
    unfinished = make_person(org.south)
    finished = make_person(org.south)
    _save(admin, version, org_unit_ids=[org.sales.pk])
    (course_id,) = version.items.values_list("course_id", flat=True)
    learning.record_completion(actor=admin, learner_id=finished.pk, course_id=course_id)

    preview = audiences.preview(
        package_id=version.package_id, rule=audiences.check_rule(org_unit_ids=[org.north.pk])
    )
    saved = _save(admin, version, org_unit_ids=[org.north.pk])

    assert preview == saved.impact
    assert saved.impact.withdraw == [unfinished.pk]
    assert saved.impact.keep == [finished.pk]
    assert saved.impact.summary == (
        "0 learners would be enrolled, 1 withdrawn, 1 kept (leavers whose records stay)"
    )
    assert _open(version.package_id) == {north.pk, finished.pk}


def test_the_keep_policy_withdraws_nobody(admin: Any, org: Org, version: Any) -> None:
    stays = make_person(org.south)
    _save(admin, version, org_unit_ids=[org.south.pk], leaver_policy="keep")
    place(stays, org.desk)

    result = audiences.reconcile(actor=admin, person_ids=[stays.pk])

    assert result.counts()["withdrawn"] == 0
    assert _open(version.package_id) == {stays.pk}


def test_people_enrolled_by_hand_are_never_withdrawn(admin: Any, org: Org, version: Any) -> None:
    outsider = make_person(org.desk)
    learning.enroll(actor=admin, learner_id=outsider.pk, package_id=version.package_id)
    member = make_person(org.north)
    learning.enroll(actor=admin, learner_id=member.pk, package_id=version.package_id)

    saved = _save(admin, version, org_unit_ids=[org.north.pk])
    place(member, org.desk)
    audiences.reconcile(actor=admin)

    assert saved.impact.enrol == []
    assert _open(version.package_id) == {outsider.pk, member.pk}


def test_a_sync_moves_people_between_units(admin: Any, org: Org, version: Any) -> None:
    """After HR moves one person out of north and one in, and deactivates a third, the
    reconciliation for the touched people enrols the newcomer and withdraws the others."""
    mover_out = make_person(org.north)
    leaver = make_person(org.north)
    stays = make_person(org.north)
    mover_in = make_person(org.desk)
    _save(admin, version, org_unit_ids=[org.north.pk])
    place(mover_out, org.desk)
    place(mover_in, org.north)
    accounts.deactivate_user(actor=admin, user_id=leaver.pk)

    result = audiences.reconcile(actor=admin, person_ids=[mover_out.pk, mover_in.pk, leaver.pk])

    assert sorted(result.per_package[version.package_id].withdrawn) == sorted(
        [mover_out.pk, leaver.pk]
    )
    assert _open(version.package_id) == {stays.pk, mover_in.pk}
    # Moving back enrols again (a new enrollment; the withdrawn one is kept as it was).
    place(mover_out, org.south)
    place(mover_out, org.north)
    audiences.reconcile(actor=admin, person_ids=[mover_out.pk])
    assert mover_out.pk in _open(version.package_id)
    assert Enrollment.objects.filter(learner=mover_out, package_id=version.package_id).count() == 2


def test_a_reconciliation_run_twice_changes_nothing(admin: Any, org: Org, version: Any) -> None:
    make_person(org.north)
    _save(admin, version, org_unit_ids=[org.north.pk])
    first = audiences.reconcile(actor=admin)
    assert first.counts() == {"audiences": 1, "enrolled": 0, "withdrawn": 0, "kept": 0}


def test_people_who_join_later_are_due_relative_to_their_own_hire_date(
    admin: Any, org: Org
) -> None:
    """Due 30 days after hire: a person hired (and synced) after the audience was saved
    is enrolled by the reconciliation, due 30 days after their hire date."""
    draft = make_draft_package(actor=admin, items=[make_course(actor=admin)])
    packaging.set_version_lifecycle(
        actor=admin, version_id=draft.pk, due_kind="after_hire", due_days=30
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="v1")
    early = make_person(org.north, hired=date(2020, 1, 1))
    audiences.save_audience(
        actor=admin,
        package_id=draft.package_id,
        rule=audiences.check_rule(org_unit_ids=[org.north.pk]),
    )
    hired = timezone.localdate() - timedelta(days=3)
    newcomer = make_person(org.north, hired=hired)

    audiences.reconcile(actor=admin, person_ids=[newcomer.pk])

    due = {e.learner_id: e.due_at for e in Enrollment.objects.filter(package_id=draft.package_id)}
    assert set(due) == {early.pk, newcomer.pk}
    assert due[early.pk] is not None and due[early.pk].date() == date(2020, 1, 31)
    assert due[newcomer.pk] is not None
    assert timezone.localtime(due[newcomer.pk]).date() == hired + timedelta(days=30)


def test_a_large_change_runs_as_an_audited_job_in_chunks(
    admin: Any, org: Org, version: Any, settings: Any
) -> None:
    """Over the inline limit the save only queues an audience job; the job enrols
    everyone, one committed, audited chunk at a time."""
    settings.AUDIENCE_INLINE_LIMIT = 2
    settings.JOB_CHUNK_LEARNERS = 2
    people = [make_person(org.north) for _ in range(5)]

    saved, job = jobs.save_audience(
        actor=admin,
        package_id=version.package_id,
        rule=audiences.check_rule(org_unit_ids=[org.north.pk]),
    )

    assert not saved.applied and job is not None and job.kind == JobKind.AUDIENCE_SYNC
    assert _open(version.package_id) == set()
    jobs.run_job(job.pk)
    job = Job.objects.get(pk=job.pk)
    assert job.status == "succeeded"
    assert job.result == {"enrolled": 5, "withdrawn": 0, "kept": 0}
    assert _open(version.package_id) == {p.pk for p in people}
    assert AuditEvent.objects.filter(action="audience.reconciled").count() == 3


def test_deleting_an_audience_keeps_its_enrollments(admin: Any, org: Org, version: Any) -> None:
    person = make_person(org.north)
    _save(admin, version, org_unit_ids=[org.north.pk])

    audiences.delete_audience(actor=admin, package_id=version.package_id)
    place(person, org.desk)
    audiences.reconcile(actor=admin)

    assert _open(version.package_id) == {person.pk}
    assert AuditEvent.objects.filter(action="audience.deleted").count() == 1
    assert get_user_model().objects.filter(pk=person.pk).exists()


def test_the_rule_is_not_saved_when_validation_fails(admin: Any, version: Any) -> None:
    with pytest.raises(InvalidInput):
        audiences.save_audience(
            actor=admin, package_id=version.package_id, rule=Rule(job_titles=("\x00",))
        )
    assert not AuditEvent.objects.filter(action="audience.saved").exists()
