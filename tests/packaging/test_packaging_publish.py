"""Publishing: activation, archiving, the publish log, the audit log and effective dates."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from packaging_helpers import versions_state

from coursepack.audit.models import AuditEvent
from coursepack.errors import InvalidInput
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors
from coursepack.packaging.models import Package, PackageVersion, PublishRecord
from tests.factories import (
    make_course,
    make_draft_package,
    make_learner,
    make_published_package,
    publish_new_version,
)

pytestmark = pytest.mark.django_db


def _statuses(package_id: int) -> list[tuple[int, str]]:
    return list(
        PackageVersion.objects.filter(package_id=package_id)
        .order_by("version_number")
        .values_list("version_number", "status")
    )


def _reload(*versions: PackageVersion) -> None:
    for version in versions:
        version.refresh_from_db()


# --- publishing now ------------------------------------------------------------------


def test_publish_makes_the_first_draft_active(admin: Any) -> None:
    """v1 becomes published and active from the moment of publishing, by the admin."""
    draft = make_draft_package(actor=admin)

    outcome = packaging.publish_version(
        actor=admin, version_id=draft.pk, change_notes="Initial release"
    )

    draft.refresh_from_db()
    assert (draft.status, draft.published_by, draft.change_notes) == (
        "published",
        admin,
        "Initial release",
    )
    assert draft.effective_from == draft.published_at
    assert outcome.previous is None and outcome.scheduled is False
    assert selectors.active_version(draft.package_id, timezone.now()) == draft


def test_publish_archives_the_previous_version_with_one_timestamp(admin: Any) -> None:
    """v2 becomes active and v1 archived in the same transaction, stamped with the same moment."""
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)

    outcome = packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="v2 notes")

    _reload(v1, draft)
    assert _statuses(v1.package_id) == [(1, "archived"), (2, "published")]
    assert outcome.previous == v1
    assert v1.archived_at == draft.published_at == draft.effective_from
    assert v1.archived_by == admin
    assert selectors.active_version(v1.package_id, timezone.now()) == draft
    # Just before the publish, v1 was the active one: history is exact.
    assert selectors.active_version(v1.package_id, v1.archived_at - timedelta(microseconds=1)) == v1


def test_publish_writes_the_publish_log(admin: Any) -> None:
    """The log has v1 published, then v1 archived and v2 published (previous v1), with notes."""
    v1 = make_published_package(actor=admin, change_notes="First")
    v2 = publish_new_version(actor=admin, from_version=v1)

    log = list(
        PublishRecord.objects.filter(package_id=v1.package_id)
        .order_by("id")
        .values_list("action", "version_id", "previous_version_id", "actor_id")
    )

    assert log == [
        ("published", v1.pk, None, admin.pk),
        ("archived", v1.pk, None, admin.pk),
        ("published", v2.pk, v1.pk, admin.pk),
    ]
    first = PublishRecord.objects.filter(package_id=v1.package_id).first()
    assert first is not None and first.change_notes == "First"
    assert first.effective_from == v1.effective_from


def test_publish_writes_audit_events_with_the_notes(admin: Any) -> None:
    """Publishing v2 logs version.archived for v1 and version.published for v2, with the notes."""
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    last_before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()

    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Phishing added")

    events = list(AuditEvent.objects.filter(id__gt=last_before).order_by("id"))
    assert [(e.action, e.target_id) for e in events] == [
        ("version.archived", str(v1.pk)),
        ("version.published", str(draft.pk)),
    ]
    published = events[1]
    assert published.actor == admin and published.actor_label == admin.username
    assert published.notes == "Phishing added"
    assert published.package_id == v1.package_id
    assert published.before == {"status": "draft"}
    assert published.after is not None and published.after["status"] == "published"
    assert events[0].occurred_at == published.occurred_at


def test_v1_and_v2_archived_and_v3_active_built_through_the_api(admin: Any) -> None:
    """Three publishes leave exactly one active version and a gapless, ordered history."""
    v1 = make_published_package(actor=admin)
    v2 = publish_new_version(actor=admin, from_version=v1, add=[make_course(actor=admin)])
    v3 = publish_new_version(actor=admin, from_version=v2, add=[make_course(actor=admin)])
    _reload(v1, v2, v3)

    assert _statuses(v1.package_id) == [(1, "archived"), (2, "archived"), (3, "published")]
    assert v1.archived_at == v2.effective_from
    assert v2.archived_at == v3.effective_from
    assert selectors.active_version(v1.package_id, timezone.now()) == v3
    assert selectors.active_version(v1.package_id, v2.effective_from) == v2
    assert selectors.active_version(v1.package_id, v1.effective_from) == v1
    assert selectors.active_version(v1.package_id, v1.effective_from - timedelta(seconds=1)) is None
    assert [v.items.count() for v in (v1, v2, v3)] == [1, 2, 3]


def test_publish_refuses_notes_with_a_nul_byte_and_changes_nothing(admin: Any) -> None:
    """Change notes are checked like every other text input."""
    draft = make_draft_package(actor=admin)
    before = versions_state()

    with pytest.raises(InvalidInput):
        packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="a\x00b")

    assert versions_state() == before


# --- effective dates -------------------------------------------------------------------


def test_a_future_effective_date_schedules_the_version(admin: Any) -> None:
    """The draft becomes scheduled; v1 stays published; the log says scheduled."""
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    effective = timezone.now() + timedelta(days=10)

    outcome = packaging.publish_version(
        actor=admin, version_id=draft.pk, effective_at=effective, change_notes="From the 10th"
    )

    _reload(v1, draft)
    assert outcome.scheduled is True
    assert _statuses(v1.package_id) == [(1, "published"), (2, "scheduled")]
    assert draft.effective_from == effective
    assert v1.archived_at is None
    record = PublishRecord.objects.filter(version=draft).get()
    assert (record.action, record.previous_version_id, record.effective_from) == (
        "scheduled",
        v1.pk,
        effective,
    )
    assert AuditEvent.objects.filter(action="version.scheduled", target_id=str(draft.pk)).exists()


def test_a_scheduled_version_becomes_active_on_its_date_without_any_job(admin: Any) -> None:
    """active_version answers v1 before the date and v2 from it on, with nothing run in between."""
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    effective = timezone.now() + timedelta(days=10)
    packaging.publish_version(actor=admin, version_id=draft.pk, effective_at=effective)
    package_id = v1.package_id

    assert selectors.active_version(package_id, timezone.now()) == v1
    assert selectors.active_version(package_id, effective - timedelta(seconds=1)) == v1
    assert selectors.active_version(package_id, effective) == draft
    assert selectors.active_version(package_id, effective + timedelta(days=30)) == draft


def test_enrolment_follows_the_effective_date_with_no_job(admin: Any) -> None:
    """Before the date learners get v1; once it has passed they get v2, and the next write settles it."""
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    effective = timezone.now() + timedelta(seconds=1)
    packaging.publish_version(actor=admin, version_id=draft.pk, effective_at=effective)
    early = learning.enroll(actor=admin, learner_id=make_learner().pk, package_id=v1.package_id)

    time.sleep(max(0.0, (effective - timezone.now()).total_seconds()) + 0.05)
    late = learning.enroll(actor=admin, learner_id=make_learner().pk, package_id=v1.package_id)
    # Nothing has settled the stored statuses yet; the answer came from the stamps.
    assert _statuses(v1.package_id) == [(1, "published"), (2, "scheduled")]
    packaging.update_package(actor=admin, package_id=v1.package_id, name="Renamed")
    packaging.retire_package(actor=admin, package_id=v1.package_id)

    assert (early.version_id, late.version_id) == (v1.pk, draft.pk)
    _reload(v1)
    assert _statuses(v1.package_id) == [(1, "archived"), (2, "published")]
    assert v1.archived_at == effective


def test_settle_package_stamps_archived_at_with_the_effective_date(admin: Any) -> None:
    """Settling after the date archives v1 at the effective date (not now) and logs 'activated'."""
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    effective = timezone.now() + timedelta(days=3)
    packaging.publish_version(actor=admin, version_id=draft.pk, effective_at=effective)
    later = effective + timedelta(hours=5)

    with transaction.atomic():
        package = Package.objects.select_for_update().get(pk=v1.package_id)
        packaging.settle_package(package, later)

    _reload(v1, draft)
    assert _statuses(v1.package_id) == [(1, "archived"), (2, "published")]
    assert v1.archived_at == effective
    assert v1.archived_by is None
    activated = PublishRecord.objects.get(version=draft, action="activated")
    assert (activated.occurred_at, activated.previous_version_id, activated.actor_id) == (
        effective,
        v1.pk,
        None,
    )
    archived = PublishRecord.objects.get(version=v1, action="archived")
    assert archived.occurred_at == effective
    took_effect = AuditEvent.objects.get(action="version.took_effect")
    assert took_effect.actor is None and took_effect.actor_label == "system"
    # Settling again does nothing more.
    with transaction.atomic():
        packaging.settle_package(Package.objects.select_for_update().get(pk=v1.package_id), later)
    assert PublishRecord.objects.filter(package_id=v1.package_id).count() == 4


def test_settle_package_before_the_date_changes_nothing(admin: Any) -> None:
    """A scheduled version whose date has not come is left alone."""
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    packaging.publish_version(
        actor=admin, version_id=draft.pk, effective_at=timezone.now() + timedelta(days=3)
    )
    before = versions_state()

    with transaction.atomic():
        packaging.settle_package(
            Package.objects.select_for_update().get(pk=v1.package_id), timezone.now()
        )

    assert versions_state() == before


def test_a_past_effective_date_is_refused(admin: Any) -> None:
    """Back-dating a version is refused with InvalidInput; the draft stays a draft."""
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    before = versions_state()

    with pytest.raises(InvalidInput) as exc:
        packaging.publish_version(
            actor=admin, version_id=draft.pk, effective_at=timezone.now() - timedelta(days=2)
        )

    assert "past" in exc.value.message
    assert "leave it empty to publish now" in exc.value.problems[0]
    assert versions_state() == before


def test_a_naive_effective_date_is_refused(admin: Any) -> None:
    """An effective date without a time zone is ambiguous and refused."""
    draft = make_draft_package(actor=admin)

    with pytest.raises(InvalidInput) as exc:
        packaging.publish_version(
            actor=admin, version_id=draft.pk, effective_at=datetime(2099, 1, 1)
        )

    assert "time zone" in exc.value.problems[0]
    assert PackageVersion.objects.get(pk=draft.pk).status == "draft"


def test_an_effective_date_that_has_just_passed_publishes_now(admin: Any) -> None:
    """A moment earlier today is not back-dating: the version is published now."""
    draft = make_draft_package(actor=admin)
    moment = timezone.now() - timedelta(seconds=1)

    outcome = packaging.publish_version(actor=admin, version_id=draft.pk, effective_at=moment)

    draft.refresh_from_db()
    assert outcome.scheduled is False
    assert draft.status == "published"
    assert draft.effective_from == draft.published_at >= moment


def test_moving_learners_to_a_scheduled_version_is_refused(admin: Any) -> None:
    """Learners cannot be moved to a version that is not yet in effect."""
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    before = versions_state()

    with pytest.raises(InvalidInput):
        packaging.publish_version(
            actor=admin,
            version_id=draft.pk,
            effective_at=timezone.now() + timedelta(days=1),
            inflight_policy="move_not_started",
        )

    assert versions_state() == before


def test_publishing_now_supersedes_a_scheduled_version(admin: Any) -> None:
    """v2 scheduled, then v3 published now: v2 never takes effect, v3 is active from now on."""
    v1 = make_published_package(actor=admin)
    v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    effective = timezone.now() + timedelta(days=7)
    packaging.publish_version(actor=admin, version_id=v2.pk, effective_at=effective)
    v3 = packaging.create_draft_from(actor=admin, version_id=v2.pk)

    packaging.publish_version(actor=admin, version_id=v3.pk)

    _reload(v1, v2, v3)
    assert _statuses(v1.package_id) == [(1, "archived"), (2, "archived"), (3, "published")]
    assert v2.archived_at == v3.published_at
    now = timezone.now()
    assert selectors.active_version(v1.package_id, now) == v3
    assert selectors.active_version(v1.package_id, effective + timedelta(days=1)) == v3
    assert selectors.version_state(v2, active_id=v3.pk, now=now) == "archived"
    superseded = PublishRecord.objects.get(version=v2, action="archived")
    assert "superseded by v3" in superseded.change_notes


def test_scheduling_again_supersedes_the_earlier_schedule(admin: Any) -> None:
    """v2 scheduled in 7 days, then v3 scheduled in 3 days: v1 until day 3, then v3; never v2."""
    v1 = make_published_package(actor=admin)
    v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    now = timezone.now()
    packaging.publish_version(actor=admin, version_id=v2.pk, effective_at=now + timedelta(days=7))
    v3 = packaging.create_draft_from(actor=admin, version_id=v2.pk)

    packaging.publish_version(actor=admin, version_id=v3.pk, effective_at=now + timedelta(days=3))

    assert _statuses(v1.package_id) == [(1, "published"), (2, "archived"), (3, "scheduled")]
    for days, expected in [(1, v1), (4, v3), (8, v3), (30, v3)]:
        assert selectors.active_version(v1.package_id, now + timedelta(days=days)) == expected, days


def test_publishing_after_a_missed_effective_date_settles_first(admin: Any) -> None:
    """v2's date passed unsettled; publishing v3 archives v1 at v2's date and v2 at now."""
    v1 = make_published_package(actor=admin)
    v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    effective = timezone.now() + timedelta(seconds=1)
    packaging.publish_version(actor=admin, version_id=v2.pk, effective_at=effective)
    v3 = packaging.create_draft_from(actor=admin, version_id=v2.pk)
    time.sleep(max(0.0, (effective - timezone.now()).total_seconds()) + 0.05)

    packaging.publish_version(actor=admin, version_id=v3.pk)

    _reload(v1, v2, v3)
    assert _statuses(v1.package_id) == [(1, "archived"), (2, "archived"), (3, "published")]
    assert v1.archived_at == effective
    assert v2.archived_at == v3.published_at
    assert selectors.active_version(v1.package_id, effective) == v2
