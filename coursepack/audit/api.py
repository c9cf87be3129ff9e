"""Write and read the audit log. Writes happen inside the caller's transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model

from coursepack.audit.models import AuditChainHead, AuditEvent

__all__ = [
    "SYSTEM_ACTOR_LABEL",
    "ChainReport",
    "actor_label",
    "lock_chain",
    "record",
    "verify_chain",
]

#: The hash the first record of the chain points back to.
GENESIS_HASH = "0" * 64

#: How the log names actions Coursepack takes by itself.
SYSTEM_ACTOR_LABEL = "system"

#: Who acts: a signed-in user, or None (or an anonymous user) for the system itself.
Actor = User | AnonymousUser | None


def actor_label(actor: Actor) -> str:
    """Return the name the audit log shows for ``actor``."""
    if actor is None or not actor.is_authenticated:
        return SYSTEM_ACTOR_LABEL
    return str(actor.get_username())


def lock_chain() -> None:
    """Take the audit chain's lock now, before any learner or enrollment lock.

    Every audited write holds this lock from its first audit record until it
    commits (see ADR 0009). A service that locks learners or enrollments and
    then writes an audit record must take this lock *first*, or it deadlocks with
    a publish that holds it while moving learners. Lock order: package, audit
    chain, learners, enrollments.
    """
    AuditChainHead.objects.select_for_update().get_or_create(pk=1)


def record(
    *,
    actor: Actor,
    action: str,
    target: Model,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    notes: str = "",
    package_id: int | None = None,
) -> AuditEvent:
    """Append one event to the audit log.

    Call it inside the service's transaction with the transaction's timestamp, so
    the event commits or rolls back with the change it describes.
    """
    user = actor if actor is not None and actor.is_authenticated else None
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
    event = AuditEvent(
        occurred_at=at,
        actor=user,
        actor_label=actor_label(actor),
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:255],
        package_id=package_id,
        before=before,
        after=after,
        notes=notes,
        prev_hash=head.last_hash or GENESIS_HASH,
    )
    event.hash = _hash(event)
    event.save()
    head.last_event_id = event.pk
    head.last_hash = event.hash
    head.save(update_fields=["last_event_id", "last_hash"])
    return event


def _hash(event: AuditEvent) -> str:
    """Return the hash of a record's content chained to the previous record's hash."""
    content = {
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
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
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What verifying the audit chain found."""

    checked: int
    # The id of the first record that does not fit the chain, or None if it is intact.
    first_bad_id: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.first_bad_id is None and not self.reason


def _records() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("id").iterator(chunk_size=2000)


def verify_chain() -> ChainReport:
    """Recompute the audit chain and name the first record that was changed,
    deleted (its successor then points at a hash that is not there) or reordered."""
    previous_hash = GENESIS_HASH
    last_id = 0
    checked = 0
    for event in _records():
        if event.prev_hash != previous_hash:
            return ChainReport(
                checked,
                event.pk,
                "it does not follow the record before it: a record before it was deleted, "
                "inserted or reordered",
            )
        if _hash(event) != event.hash:
            return ChainReport(
                checked, event.pk, "its content does not match its hash: it was changed"
            )
        previous_hash = event.hash
        last_id = event.pk
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    head_id, head_hash = (head.last_event_id, head.last_hash) if head else (0, "")
    if (head_id, head_hash or GENESIS_HASH) != (last_id, previous_hash):
        return ChainReport(
            checked,
            head_id or None,
            f"the chain ends at record {last_id}, but its head says {head_id}: "
            "the newest records were deleted or the head was changed",
        )
    return ChainReport(checked)
