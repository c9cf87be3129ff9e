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


class PeopleSyncStatus(models.TextChoices):
    # Uploaded and previewed (the dry run); nothing about people written yet.
    STAGED = "staged", "Previewed"
    # Its job is applying it, a committed chunk at a time.
    APPLYING = "applying", "Applying"
    # Every chunk is committed.
    APPLIED = "applied", "Applied"


class PeopleSync(models.Model):
    """One HR people file (CSV upload or API batch): staged, previewed, then applied by a job.

    ``rows`` is the file as given (so the job applies exactly what was previewed);
    ``actions`` is the plan the job computed when it started, applied in order from
    the job's cursor; ``changes`` lists the people each kind of change touched (for
    whatever must follow a sync, e.g. audiences re-evaluating their members).
    """

    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    # A full file: active people with an external id who are absent from it are leavers.
    full = models.BooleanField(default=False)
    # The columns the file has: columns it lacks are left as they are.
    columns = models.JSONField(default=list)
    rows = models.JSONField(default=list)
    status = models.CharField(
        max_length=16, choices=PeopleSyncStatus.choices, default=PeopleSyncStatus.STAGED
    )
    # The dry run's counts at staging: creates, updates, deactivations, unchanged, errors.
    preview = models.JSONField(default=dict)
    actions = models.JSONField(default=list)
    job_id = models.BigIntegerField(null=True, blank=True)
    changes = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=PeopleSyncStatus.values),
                name="people_sync_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"people sync {self.pk} ({self.status})"
