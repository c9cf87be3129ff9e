"""Org units, people's placement in them, and the managers of units.

HR is the source of truth for all of it: the people sync (organisation services)
upserts these rows by external id and never deletes a person.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class OrgUnit(models.Model):
    """A company, division, department or team: a node of one tree.

    ``path`` is the materialised path of ids from the root (``/1/5/23/``), so
    "this unit and everything below it" is one indexed prefix match.
    """

    # The unit's key in the HR system; what a sync file names it by.
    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    path = models.CharField(max_length=1000, db_index=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["path"]

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"


class Placement(models.Model):
    """Where a person works and who their line manager is (one row per person)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="placement",
    )
    org_unit = models.ForeignKey(
        OrgUnit, on_delete=models.PROTECT, null=True, blank=True, related_name="placements"
    )
    # The person's line manager as HR states it (the manager digest goes to them).
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="direct_reports",
    )

    def __str__(self) -> str:
        return f"{self.user_id} in {self.org_unit_id}"


class UnitManager(models.Model):
    """A person who manages an org unit, and so reads the records of everyone in it and below."""

    unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="managers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="managed_units"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["unit", "user"], name="unit_manager_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} manages {self.unit_id}"
