"""The append-only audit log."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Who did what, when, to what, with what notes. Never updated or deleted."""

    occurred_at = models.DateTimeField(db_index=True)
    # Null for actions the system takes by itself (e.g. a scheduled version taking effect).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The actor's username when the event was written: the record stays readable
    # even if the account is renamed.
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=255, blank=True, default="")
    # The package an event concerns, when it concerns one, for filtering the log.
    package_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    notes = models.TextField(blank=True, default="")
    # The tamper-evident chain: each record's hash covers its content and the
    # previous record's hash (see audit.api.verify_chain).
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # How ``hash`` was computed: "hmac-sha256" (keyed with the audit key, which is
    # kept outside the database) or "sha256" (records written before keying).
    hash_scheme = models.CharField(max_length=16, default="sha256")
    # SHA-256 of the target row as this record saw it, for the rows the log vouches
    # for (audit.api.BOUND_FIELDS); "" otherwise. Covered by ``hash``.
    row_hash = models.CharField(max_length=64, blank=True, default="")
    # The other rows this record vouches for, {"label id": SHA-256 of the row}: a
    # released version's items and due rules, the publish-log entry written with it.
    # Null for records that vouch for no other row. Covered by ``hash`` when set.
    bound_rows = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"]),
            # The events feed filtered by type pages in id order (id > cursor ORDER BY id):
            # on PostgreSQL this answers one type's page without a sort (the index on
            # action alone does not keep ids in order; on SQLite it does, via the rowid).
            models.Index(fields=["action", "id"], name="audit_by_action_id"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_label}"


class AuditChainHead(models.Model):
    """The newest record of the audit chain; one row, locked by every audit write.

    Locking it serialises appends, so the chain never forks; keeping the last
    hash here lets ``verify_audit`` notice a deleted *last* record too.
    """

    last_event_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="")
    # HMAC of (last_event_id, last_hash) under the audit key: a chain rewritten or
    # cut back by someone without the key cannot update the head to match.
    mac = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"audit chain head at {self.last_event_id}"
