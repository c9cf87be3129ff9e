"""The course catalog."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CourseStatus(models.TextChoices):
    # May be added to drafts and enrolled in through packages.
    ACTIVE = "active", "Active"
    # Kept for history; cannot be added to a draft or published again.
    RETIRED = "retired", "Retired"


class Course(models.Model):
    """An item of the catalog that learners complete."""

    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    duration_minutes = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=CourseStatus.choices, default=CourseStatus.ACTIVE
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=CourseStatus.values), name="course_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
