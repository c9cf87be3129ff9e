"""What the legacy migration remembers: which Coursepack object each legacy row became."""

from __future__ import annotations

from django.db import models


class LegacyKey(models.Model):
    """A legacy row (table and key) and the Coursepack object it was migrated to.

    Makes the migration repeatable: a second run finds every package and group it
    created by its legacy key and creates nothing. (Courses are found by their
    code, learners by their username, events by their external id.)
    """

    table = models.CharField(max_length=64)
    legacy_key = models.CharField(max_length=255)
    object_id = models.BigIntegerField()
    migrated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["table", "legacy_key"], name="legacy_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.table}:{self.legacy_key} -> {self.object_id}"
