"""Lifecycle facts of enrollments: extensions, exemptions, equivalences. Append-only.

Every row is a fact with the time it is true from and the time it was recorded,
who recorded it and why; nothing is updated or deleted (the database refuses it,
see ``coursepack.db_guards``). A revocation or an end is a later row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class WaiverReason(models.TextChoices):
    # cmi5's ``waived`` reason vocabulary.
    TESTED_OUT = "tested_out", "Tested Out"
    EQUIVALENT_AU = "equivalent_au", "Equivalent AU"
    EQUIVALENT_OUTSIDE_ACTIVITY = "equivalent_outside_activity", "Equivalent Outside Activity"
    ADMINISTRATIVE = "administrative", "Administrative"


class DueExtension(models.Model):
    """A new due date for one enrollment, in force from its recording."""

    enrollment = models.ForeignKey(
        "learning.Enrollment", on_delete=models.PROTECT, related_name="extensions"
    )
    due_at = models.DateTimeField()
    effective_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField()

    class Meta:
        ordering = ["enrollment_id", "effective_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(recorded_at__gte=F("effective_at")),
                name="extension_recorded_after_effective",
            ),
        ]

    def __str__(self) -> str:
        return f"enrollment {self.enrollment_id} due {self.due_at:%Y-%m-%d}"


class Exemption(models.Model):
    """One enrollment is exempt from one course or group item, or from all of it."""

    enrollment = models.ForeignKey(
        "learning.Enrollment", on_delete=models.PROTECT, related_name="exemptions"
    )
    course = models.ForeignKey(
        "catalog.Course", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    group = models.ForeignKey(
        "packaging.CourseGroup", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=32, choices=WaiverReason.choices)
    note = models.TextField(blank=True, default="")
    effective_at = models.DateTimeField()
    # A waiver valid until a date (e.g. a medical leave): it lapses then, derived at
    # read time; None: until revoked.
    ends_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["enrollment_id", "effective_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("effective_at")),
                name="exemption_ends_after_it_starts",
            ),
            models.CheckConstraint(
                condition=Q(course__isnull=True) | Q(group__isnull=True),
                name="exemption_one_item_at_most",
            ),
            models.CheckConstraint(
                condition=Q(reason__in=WaiverReason.values), name="exemption_reason_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"exemption {self.pk} of enrollment {self.enrollment_id}"


class ExemptionRevocation(models.Model):
    """An exemption stops counting from ``effective_at`` on."""

    exemption = models.OneToOneField(Exemption, on_delete=models.PROTECT, related_name="revocation")
    effective_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"revocation of exemption {self.exemption_id}"


class Equivalence(models.Model):
    """A completion of ``source`` counts for ``target`` (and the reverse when ``both_ways``)."""

    source = models.ForeignKey("catalog.Course", on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey("catalog.Course", on_delete=models.PROTECT, related_name="+")
    both_ways = models.BooleanField(default=False)
    starts_at = models.DateTimeField()
    # Applied retroactively when created: earlier completions count too.
    retroactive = models.BooleanField(default=False)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(source=F("target")), name="equivalence_between_two_courses"
            ),
        ]

    def __str__(self) -> str:
        arrow = "<->" if self.both_ways else "->"
        return f"equivalence {self.pk}: course {self.source_id} {arrow} {self.target_id}"


class EquivalenceChangeKind(models.TextChoices):
    # Completions from ``occurred_at`` on no longer count.
    END = "end", "Ended"
    # Earlier completions count too, as known from the recording on.
    RETROACTIVE = "retroactive", "Applied retroactively"


class EquivalenceChange(models.Model):
    """A later fact about an equivalence: its end, or its retroactive application."""

    equivalence = models.ForeignKey(Equivalence, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=16, choices=EquivalenceChangeKind.choices)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["equivalence", "kind"], name="equivalence_change_once"),
            models.CheckConstraint(
                condition=Q(kind__in=EquivalenceChangeKind.values),
                name="equivalence_change_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"equivalence {self.equivalence_id} {self.kind}"
