"""Tamper evidence that survives file access: a keyed chain, rows bound to their
records, and signed checkpoints. Each test acts as someone with write access to
the database (triggers dropped, raw SQL) but without the audit key — except the
checkpoint test, whose insider has the key too."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.audit import api as audit
from coursepack.audit.models import AuditChainHead, AuditEvent
from coursepack.learning import api as learning
from tests.factories import make_admin, make_course, make_learner

pytestmark = pytest.mark.django_db


def _drop_guards(*tables: str) -> None:
    """Drop the append-only triggers of ``tables`` (the test's transaction restores them)."""
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS cp_{table}_append_only ON {table}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS cp_{table}_update")
                cursor.execute(f"DROP TRIGGER IF EXISTS cp_{table}_delete")


def _completion(admin: Any) -> int:
    learner = make_learner()
    course = make_course()
    result = learning.record_completion(
        actor=admin,
        learner_id=learner.pk,
        course_id=course.pk,
        occurred_at=timezone.now() - timedelta(days=3),
    )
    return result.event.pk


def test_new_records_are_keyed_and_the_untouched_log_verifies() -> None:
    admin = make_admin()
    _completion(admin)

    report = audit.verify_chain()

    assert report.intact, report.reason
    assert report.rows_checked >= 1
    assert set(AuditEvent.objects.values_list("hash_scheme", flat=True)) == {"hmac-sha256"}
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "bound rows match" in out.getvalue()


def test_a_back_dated_completion_event_is_named() -> None:
    admin = make_admin()
    event_id = _completion(admin)
    _drop_guards("learning_completionevent")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE learning_completionevent SET occurred_at = %s WHERE id = %s",
            [timezone.now() - timedelta(days=900), event_id],
        )

    report = audit.verify_chain()

    recorded = AuditEvent.objects.get(action="completion.recorded", target_id=str(event_id))
    assert report.first_bad_id == recorded.pk
    assert f"learning.completionevent {event_id}" in report.reason
    with pytest.raises(CommandError, match=f"learning.completionevent {event_id}"):
        call_command("verify_audit")


def test_a_completion_inserted_behind_the_logs_back_is_named() -> None:
    admin = make_admin()
    event_id = _completion(admin)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO learning_completionevent (learner_id, course_id, kind, occurred_at, "
            "recorded_at, recorded_by_id, source, external_id, evidence_note, late_reason, "
            "voids_id) SELECT learner_id, course_id, kind, occurred_at, recorded_at, "
            "recorded_by_id, source, NULL, '', '', NULL FROM learning_completionevent WHERE id = %s",
            [event_id],
        )

    report = audit.verify_chain()

    assert not report.intact
    assert "is on no audit record" in report.reason


def test_a_rewritten_record_with_a_recomputed_unkeyed_chain_is_detected() -> None:
    """Without the key, the forger can only recompute plain SHA-256 hashes."""
    admin = make_admin()
    _completion(admin)
    _drop_guards("audit_auditevent")
    events = list(AuditEvent.objects.order_by("id"))
    previous = audit.GENESIS_HASH
    for event in events:
        if event.action == "completion.recorded":
            event.notes = "nothing happened here"
        event.prev_hash = previous
        event.hash_scheme = "sha256"
        content = {
            "occurred_at": event.occurred_at.isoformat(),
            "actor_id": event.actor_id,
            "actor_label": event.actor_label,
            "action": event.action,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "target_label": event.target_label,
            "package_id": event.package_id,
            "before": event.before,
            "after": event.after,
            "notes": event.notes,
            "prev_hash": event.prev_hash,
        }
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        event.hash = previous = hashlib.sha256(canonical.encode()).hexdigest()
        AuditEvent.objects.filter(pk=event.pk).update(
            notes=event.notes, prev_hash=event.prev_hash, hash=event.hash, hash_scheme="sha256"
        )
    AuditChainHead.objects.filter(pk=1).update(last_hash=previous)

    report = audit.verify_chain()

    assert not report.intact
    assert "head is not signed" in report.reason


def test_a_role_granted_behind_the_logs_back_is_named() -> None:
    admin = make_admin()
    user = accounts.create_user(actor=admin, username="quiet-one", role="learner")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_account SET role = 'admin' WHERE user_id = %s", [user.pk])

    report = audit.verify_chain()

    created = AuditEvent.objects.get(action="account.created", target_id=str(user.pk))
    assert report.first_bad_id == created.pk
    assert f"auth.user {user.pk}" in report.reason


def test_a_checkpoint_detects_a_chain_rewritten_even_with_the_key(tmp_path: Path) -> None:
    admin = make_admin()
    _completion(admin)
    out = StringIO()
    call_command("audit_checkpoint", stdout=out)
    checkpoint_file = tmp_path / "checkpoint.json"
    checkpoint_file.write_text(out.getvalue())
    call_command("verify_audit", "--checkpoint", str(checkpoint_file), stdout=StringIO())
    # An insider with the key rewrites the first record and recomputes the whole chain.
    _drop_guards("audit_auditevent")
    previous = audit.GENESIS_HASH
    for index, event in enumerate(AuditEvent.objects.order_by("id")):
        if index == 0:
            event.notes = "rewritten"
        event.prev_hash = previous
        event.hash = previous = audit._hash(event)
        AuditEvent.objects.filter(pk=event.pk).update(
            notes=event.notes, prev_hash=event.prev_hash, hash=event.hash
        )
    last = AuditEvent.objects.order_by("id").last()
    assert last is not None
    AuditChainHead.objects.filter(pk=1).update(
        last_hash=previous, mac=audit.head_mac(last.pk, previous)
    )
    assert audit.verify_chain().intact  # the key alone cannot tell

    with pytest.raises(CommandError, match="checkpoint signed"):
        call_command("verify_audit", "--checkpoint", str(checkpoint_file))


def test_an_altered_checkpoint_is_refused(tmp_path: Path) -> None:
    make_admin()
    _completion(make_admin())
    body = audit.signed_checkpoint()
    body["last_event_id"] = 1
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(body))

    with pytest.raises(CommandError, match="signature does not match"):
        call_command("verify_audit", "--checkpoint", str(path))


def test_account_changes_through_the_services_keep_the_log_verifiable() -> None:
    """Every audited account change records the row as it is after the change."""
    admin = make_admin()
    user = accounts.create_user(actor=admin, username="lifecycle", role="learner")
    accounts.set_role(actor=admin, user_id=user.pk, role="auditor")
    accounts.deactivate_user(actor=admin, user_id=user.pk)
    accounts.reactivate_user(actor=admin, user_id=user.pk)
    accounts.reset_password(actor=admin, user_id=user.pk)

    report = audit.verify_chain()

    assert report.intact, report.reason
