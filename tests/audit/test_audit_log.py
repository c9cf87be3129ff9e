"""The append-only audit log: who did what, when, to what, with what notes."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.models import AuditEvent
from coursepack.catalog import api as catalog
from coursepack.packaging import api as packaging
from coursepack.packaging.errors import PublishValidationFailed
from tests.factories import make_course, make_draft_package

pytestmark = pytest.mark.django_db


def test_record_stores_actor_action_target_before_after_and_notes(admin: Any) -> None:
    """One call writes one event with every field as given."""
    course = make_course(actor=admin, code="AUD-1", name="Audited")
    at = timezone.now()

    event = audit.record(
        actor=admin,
        action="course.checked",
        target=course,
        at=at,
        before={"a": 1},
        after={"a": 2},
        notes="Because",
        package_id=7,
    )

    event.refresh_from_db()
    assert (event.actor, event.actor_label, event.action) == (
        admin,
        admin.username,
        "course.checked",
    )
    assert (event.target_type, event.target_id, event.target_label) == (
        "catalog.course",
        str(course.pk),
        "AUD-1 Audited",
    )
    assert (event.occurred_at, event.before, event.after, event.notes, event.package_id) == (
        at,
        {"a": 1},
        {"a": 2},
        "Because",
        7,
    )


@pytest.mark.parametrize(
    ("actor", "label"),
    [
        (None, "system"),
        # Someone not signed in (a failed sign-in) is not the system.
        (AnonymousUser(), "anonymous"),
        # An operator at the command line, named by their OS account.
        (audit.Operator("os:deploy"), "os:deploy"),
    ],
)
def test_actions_without_a_user_row_are_recorded_with_a_label_only(actor: Any, label: str) -> None:
    """No actor is "system", an anonymous one "anonymous", an operator their name; none has a user."""
    course = make_course()

    event = audit.record(actor=actor, action="x", target=course, at=timezone.now())

    assert (event.actor, event.actor_label) == (None, label)


def test_the_actor_label_survives_a_rename(admin: Any) -> None:
    """The username at the time of the event stays on the record."""
    course = make_course(actor=admin)
    old_name = admin.username
    admin.username = "renamed-admin"
    admin.save()

    event = AuditEvent.objects.get(action="course.created", target_id=str(course.pk))
    assert event.actor_label == old_name


def test_a_service_write_and_its_event_share_one_timestamp(admin: Any) -> None:
    """The course's created_at and the event's occurred_at are the same moment."""
    course = catalog.create_course(actor=admin, code="T-1", name="Timed")

    event = AuditEvent.objects.get(action="course.created", target_id=str(course.pk))
    assert event.occurred_at == course.created_at


def test_a_refused_action_leaves_no_event(admin: Any) -> None:
    """A publish refused by validation writes nothing to the log."""
    draft = make_draft_package(actor=admin, items=[])
    count = AuditEvent.objects.count()

    with pytest.raises(PublishValidationFailed):
        packaging.publish_version(actor=admin, version_id=draft.pk)

    assert AuditEvent.objects.count() == count


def test_an_event_rolls_back_with_its_transaction(admin: Any) -> None:
    """Written inside the caller's transaction: a rollback takes the event with it."""
    count = AuditEvent.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        catalog.create_course(actor=admin, code="R-1", name="Rolled back")
        assert AuditEvent.objects.count() == count + 1
        raise RuntimeError

    assert AuditEvent.objects.count() == count


def test_audit_events_cannot_be_changed_or_deleted(admin: Any) -> None:
    """save() of a changed event, QuerySet.update and delete all raise IntegrityError."""
    make_course(actor=admin)
    event = AuditEvent.objects.get()

    event.notes = "forged"
    with pytest.raises(IntegrityError), transaction.atomic():
        event.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.update(action="forged")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.all().delete()

    stored = AuditEvent.objects.get()
    assert (stored.notes, stored.action) == ("", "course.created")


def test_a_sequence_of_writes_is_on_the_record_in_order(admin: Any) -> None:
    """Create, update, retire a course; create, edit, publish a package: one event each, in order."""
    course = catalog.create_course(actor=admin, code="SEQ-1", name="Seq")
    catalog.update_course(actor=admin, course_id=course.pk, name="Seq 2", notes="typo")
    draft = packaging.create_package(actor=admin, name="P")
    packaging.add_item(actor=admin, version_id=draft.pk, course_id=course.pk)
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Go")
    catalog.retire_course(actor=admin, course_id=course.pk, notes="Old")

    assert list(AuditEvent.objects.order_by("id").values_list("action", "notes")) == [
        ("course.created", ""),
        ("course.updated", "typo"),
        ("package.created", ""),
        ("version.item_added", f"added {course.code}"),
        ("version.published", "Go"),
        ("course.retired", "Old"),
    ]
    assert set(AuditEvent.objects.values_list("actor_id", flat=True)) == {admin.pk}
