"""Write and read the audit log. Writes happen inside the caller's transaction."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model

from coursepack.audit.models import AuditChainHead, AuditEvent

__all__ = [
    "SYSTEM_ACTOR_LABEL",
    "ChainReport",
    "Entry",
    "Named",
    "Operator",
    "actor_label",
    "lock_chain",
    "operator",
    "record",
    "record_all",
    "verify_chain",
]

#: The hash the first record of the chain points back to.
GENESIS_HASH = "0" * 64

#: How the log names actions Coursepack takes by itself.
SYSTEM_ACTOR_LABEL = "system"
#: How the log names someone who is not signed in (a failed sign-in).
ANONYMOUS_ACTOR_LABEL = "anonymous"


@dataclass(frozen=True)
class Operator:
    """Someone running a management command who is not (or not named as) a Coursepack user:
    the OS account, so the record never silently says "system"."""

    name: str
    #: Not a signed-in user: no user row is stored, only the label.
    is_authenticated = False

    def get_username(self) -> str:
        return self.name


#: Who acts: a signed-in user, an operator at the command line, an anonymous
#: visitor (a failed sign-in), or None for the system itself.
Actor = User | AnonymousUser | Operator | None


def operator(username: str | None) -> Actor:
    """Return who runs a management command: the active user ``username`` (``--actor``),
    or without it the OS user, as ``os:NAME``.

    Raises LookupError if ``username`` names no active user.
    """
    if username:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise LookupError(f"There is no active user {username!r} to act as (--actor).")
        return user
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = f"uid-{os.getuid()}"
    return Operator(f"os:{name}")


def actor_label(actor: Actor) -> str:
    """Return the name the audit log shows for ``actor``."""
    if actor is None:
        return SYSTEM_ACTOR_LABEL
    if isinstance(actor, Operator):
        return actor.name[:150]
    if not actor.is_authenticated:
        return ANONYMOUS_ACTOR_LABEL
    return str(actor.get_username())


def lock_chain() -> AuditChainHead:
    """Take the audit chain's lock now, before any learner or enrollment lock.

    Every audited write holds this lock from its first audit record until it
    commits (see ADR 0009). A service that locks learners or enrollments and
    then writes an audit record must take this lock *first*, or it deadlocks with
    a publish that holds it while moving learners. Lock order: package, audit
    chain, learners, enrollments.

    Returns the locked head; a service that appends its records at the end with
    ``record_all(..., head=...)`` saves reading it again.
    """
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
    return head


@dataclass(frozen=True)
class Named:
    """A target that is no row (yet): e.g. the username a failed sign-in tried."""

    type: str
    id: str
    label: str

    def __str__(self) -> str:
        return self.label


Target = Model | Named


def _target_fields(target: Target) -> tuple[str, str]:
    if isinstance(target, Named):
        return target.type, target.id
    return target._meta.label_lower, str(target.pk)


@dataclass(frozen=True)
class Entry:
    """One record to append to the audit log (see ``record`` for the fields)."""

    actor: Actor
    action: str
    target: Target
    at: datetime
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    notes: str = ""
    package_id: int | None = None


def record(
    *,
    actor: Actor,
    action: str,
    target: Target,
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
    entry = Entry(actor, action, target, at, before, after, notes, package_id)
    return record_all([entry])[0]


def record_all(entries: Sequence[Entry], *, head: AuditChainHead | None = None) -> list[AuditEvent]:
    """Append several events to the audit log, in order, with one insert.

    The chain head is read and written once for all of them: a write that changes
    many things (a completion and the statuses it changes) costs one round of the
    chain, not one per record. ``head`` is the head ``lock_chain`` returned in this
    transaction, when nothing else has been audited since; without it the head is
    read (and locked) here.
    """
    if not entries:
        return []
    if head is None:
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
    previous = head.last_hash or GENESIS_HASH
    events = []
    for entry in entries:
        actor = entry.actor
        target_type, target_id = _target_fields(entry.target)
        event = AuditEvent(
            occurred_at=entry.at,
            actor=actor if isinstance(actor, User) else None,
            actor_label=actor_label(actor),
            action=entry.action,
            target_type=target_type,
            target_id=target_id,
            target_label=str(entry.target)[:255],
            package_id=entry.package_id,
            before=entry.before,
            after=entry.after,
            notes=entry.notes,
            prev_hash=previous,
        )
        event.hash = previous = _hash(event)
        events.append(event)
    if len(events) == 1:
        events[0].save()
    else:
        # Both engines return the new ids from a bulk insert (SQLite >= 3.35).
        AuditEvent.objects.bulk_create(events)
    head.last_event_id = events[-1].pk
    head.last_hash = previous
    head.save(update_fields=["last_event_id", "last_hash"])
    return events


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
