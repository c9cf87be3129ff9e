"""The audit log is a hash chain: tampering with it is detected and the record named."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from coursepack.audit.api import verify_chain
from coursepack.audit.models import AuditEvent
from coursepack.catalog import api as catalog

pytestmark = pytest.mark.django_db


def _audit_some_changes(count: int = 5) -> list[int]:
    for i in range(count):
        catalog.create_course(actor=None, code=f"AUD-{i}", name=f"Audited course {i}")
    return list(AuditEvent.objects.order_by("id").values_list("id", flat=True))


def _disable_append_only_guard() -> None:
    """Act as someone with raw database access who drops the append-only triggers.

    The test's transaction rolls the DROP back afterwards.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER cp_audit_auditevent_append_only ON audit_auditevent")
        else:
            cursor.execute("DROP TRIGGER cp_audit_auditevent_update")
            cursor.execute("DROP TRIGGER cp_audit_auditevent_delete")


def test_an_untouched_chain_verifies() -> None:
    """Every audited write extends the chain; verify_audit finds it intact."""
    ids = _audit_some_changes()

    report = verify_chain()

    assert report.intact
    assert report.checked == len(ids)
    call_command("verify_audit")


def test_a_changed_record_is_named() -> None:
    """Changing one record's notes with raw SQL breaks its hash; that record is named."""
    ids = _audit_some_changes()
    _disable_append_only_guard()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET notes = 'nothing to see' WHERE id = %s", [ids[2]]
        )

    report = verify_chain()

    assert report.first_bad_id == ids[2]
    assert "changed" in report.reason
    with pytest.raises(CommandError, match=f"record {ids[2]}"):
        call_command("verify_audit")


def test_a_deleted_record_is_found_by_its_successor() -> None:
    """Deleting a record from the middle: the record after it no longer follows the chain."""
    ids = _audit_some_changes()
    _disable_append_only_guard()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [ids[1]])

    report = verify_chain()

    assert report.first_bad_id == ids[2]
    assert "deleted" in report.reason


def test_deleting_the_newest_record_is_detected_by_the_chain_head() -> None:
    """Deleting the last record leaves a consistent-looking chain; the head still knows."""
    ids = _audit_some_changes()
    _disable_append_only_guard()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [ids[-1]])

    report = verify_chain()

    assert report.first_bad_id == ids[-1]
    assert "newest records were deleted" in report.reason


def test_reordered_records_are_named() -> None:
    """Swapping two records' places breaks the chain at the first of them."""
    ids = _audit_some_changes()
    _disable_append_only_guard()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET id = -1 WHERE id = %s", [ids[1]])
        cursor.execute("UPDATE audit_auditevent SET id = %s WHERE id = %s", [ids[1], ids[3]])
        cursor.execute("UPDATE audit_auditevent SET id = %s WHERE id = -1", [ids[3]])

    report = verify_chain()

    assert report.first_bad_id == ids[1]


def test_the_append_only_guard_refuses_tampering_in_the_first_place() -> None:
    """Without dropping the triggers, raw UPDATE and DELETE of audit records are refused."""
    from django.db import IntegrityError, transaction

    ids = _audit_some_changes(2)
    for sql in (
        "UPDATE audit_auditevent SET notes = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [ids[0]])
    assert verify_chain().intact


def test_a_write_that_changes_several_things_appends_them_in_order_in_one_chain() -> None:
    """A completion that changes two enrollments appends three records at once; they
    follow each other and the chain head, and the chain still verifies."""
    from coursepack.learning import api as learning
    from tests.factories import make_admin, make_course, make_learner, make_published_package

    admin, learner, course = make_admin(), make_learner(), make_course()
    for _ in range(2):
        version = make_published_package(items=[course])
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    before = AuditEvent.objects.count()

    result = learning.record_completion(actor=admin, learner_id=learner.pk, course_id=course.pk)

    assert result.enrollments_changed == 2
    added = list(AuditEvent.objects.order_by("id")[before:])
    assert [e.action for e in added] == [
        "completion.recorded",
        "enrollment.status_changed",
        "enrollment.status_changed",
    ]
    previous = AuditEvent.objects.filter(id__lt=added[0].id).order_by("-id").first()
    assert previous is not None
    assert [e.prev_hash for e in added] == [previous.hash, added[0].hash, added[1].hash]
    assert verify_chain().intact
