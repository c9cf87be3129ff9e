"""Write and read the audit log. Writes happen inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model

from coursepack.audit.models import AuditEvent

__all__ = ["SYSTEM_ACTOR_LABEL", "actor_label", "record"]

#: How the log names actions Coursepack takes by itself.
SYSTEM_ACTOR_LABEL = "system"

#: Who acts: a signed-in user, or None (or an anonymous user) for the system itself.
Actor = User | AnonymousUser | None


def actor_label(actor: Actor) -> str:
    """Return the name the audit log shows for ``actor``."""
    if actor is None or not actor.is_authenticated:
        return SYSTEM_ACTOR_LABEL
    return str(actor.get_username())


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
    return AuditEvent.objects.create(
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
    )
