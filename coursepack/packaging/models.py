"""Course groups, packages, their immutable versions, and the publish log.

A published (or archived) version is a snapshot: its row and its items never
change again, which the database enforces with triggers (see ``db_guards``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class GroupKind(models.TextChoices):
    # Complete 1 of N.
    FAMILY = "family", "Family (1 of N)"
    # Complete all, in order.
    SERIES = "series", "Series (all, in order)"
    # Complete X of Y, required items among them.
    CHOICE = "choice", "Choice (X of Y)"


class GroupVersionStatus(models.TextChoices):
    # Editable; cannot be pinned by a published package version.
    DRAFT = "draft", "Draft"
    # Immutable; may be pinned by package versions and other groups.
    PUBLISHED = "published", "Published"


class CourseGroup(models.Model):
    """A reusable rule over courses and other groups, with a history of versions."""

    # The natural key integrators address the group by (``/groups/by-key/{key}``);
    # never changes, so a retried create finds the group it already made.
    key = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Group {self.pk}"


class CourseGroupVersion(models.Model):
    """The content of a course group at one time: its rule and ordered items."""

    group = models.ForeignKey(CourseGroup, on_delete=models.PROTECT, related_name="versions")
    version_number = models.PositiveIntegerField()
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=16, choices=GroupKind.choices)
    # CHOICE only: how many items must be complete; NULL means all.
    min_count = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=GroupVersionStatus.choices, default=GroupVersionStatus.DRAFT
    )
    # Bumped by every draft edit; lets a client detect that it edits a stale copy.
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    change_notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["group_id", "version_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "version_number"], name="group_version_number_unique"
            ),
            models.UniqueConstraint(
                fields=["group"],
                condition=Q(status="draft"),
                name="group_at_most_one_draft",
            ),
            models.CheckConstraint(
                condition=Q(status__in=GroupVersionStatus.values), name="group_version_status_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=GroupKind.values), name="group_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind="choice") | Q(min_count__isnull=True),
                name="group_min_count_only_for_choice",
            ),
            models.CheckConstraint(
                condition=Q(min_count__isnull=True) | Q(min_count__gte=1),
                name="group_min_count_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version_number} ({self.status})"


class CourseGroupItem(models.Model):
    """One ordered entry of a group version: a course or a pinned group version."""

    group_version = models.ForeignKey(
        CourseGroupVersion, on_delete=models.CASCADE, related_name="items"
    )
    position = models.PositiveIntegerField()
    course = models.ForeignKey(
        "catalog.Course", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    child_group = models.ForeignKey(
        CourseGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    child_version = models.ForeignKey(
        CourseGroupVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    required = models.BooleanField(default=False)

    class Meta:
        ordering = ["group_version_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(course__isnull=False, child_group__isnull=True, child_version__isnull=True)
                    | Q(course__isnull=True, child_group__isnull=False, child_version__isnull=False)
                ),
                name="group_item_is_course_or_group",
            ),
            models.UniqueConstraint(
                fields=["group_version", "course"], name="group_item_course_once"
            ),
            models.UniqueConstraint(
                fields=["group_version", "child_group"], name="group_item_group_once"
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.position} of {self.group_version_id}"

    @classmethod
    def describe_references(cls, rows: models.QuerySet[Any]) -> list[tuple[int, str]]:
        """Say what these items (all naming one course) are, for a course-in-use message."""
        found: list[tuple[int, str]] = []
        if rows.exclude(group_version__status="draft").exists():
            found.append((1, "a published group version"))
        if rows.filter(group_version__status="draft").exists():
            found.append((3, "a group draft"))
        return found


class PackageStatus(models.TextChoices):
    # Open for enrollment through its active version.
    ACTIVE = "active", "Active"
    # No new enrollments or publishes; history kept.
    RETIRED = "retired", "Retired"


class Package(models.Model):
    """A named container of training with a history of versions."""

    name = models.CharField(max_length=255)
    # The natural key integrators address the package by (``/packages/by-key/{key}``);
    # unlike the name it never changes, so a retried create finds the package it made.
    key = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    category = models.CharField(max_length=100, blank=True, default="", db_index=True)
    status = models.CharField(
        max_length=16, choices=PackageStatus.choices, default=PackageStatus.ACTIVE
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PackageStatus.values), name="package_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    # Editable; never enrolled in.
    DRAFT = "draft", "Draft"
    # Published with a future effective date; becomes active on that date.
    SCHEDULED = "scheduled", "Scheduled"
    # The version new enrollments get (once its effective date has come).
    PUBLISHED = "published", "Published"
    # Superseded; learners already on it keep it, nobody new enrolls.
    ARCHIVED = "archived", "Archived"


class PackageVersion(models.Model):
    """The content of a package at one time.

    Stored ``status`` is kept by the write path; which version is *active* at a
    moment is derived from ``effective_from``/``archived_at`` (see
    ``selectors.active_version``), so a scheduled version takes effect on its date
    with no background job.
    """

    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="versions")
    version_number = models.PositiveIntegerField()
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    # Bumped by every draft edit (the API's ETag); lets a stale edit be refused.
    revision = models.PositiveIntegerField(default=1)
    based_on = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # From this moment new enrollments get this version (until ``archived_at``).
    effective_from = models.DateTimeField(null=True, blank=True)
    change_notes = models.TextField(blank=True, default="")
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["package_id", "version_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["package", "version_number"], name="package_version_number_unique"
            ),
            models.UniqueConstraint(
                fields=["package"], condition=Q(status="draft"), name="package_at_most_one_draft"
            ),
            models.UniqueConstraint(
                fields=["package"],
                condition=Q(status="published"),
                name="package_at_most_one_active",
            ),
            models.UniqueConstraint(
                fields=["package"],
                condition=Q(status="scheduled"),
                name="package_at_most_one_scheduled",
            ),
            models.CheckConstraint(
                condition=Q(status__in=VersionStatus.values), name="package_version_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | Q(effective_from__isnull=False, published_at__isnull=False),
                name="package_version_released_has_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version_number} ({self.status})"


class PackageVersionItem(models.Model):
    """One ordered entry of a package version: a course or a pinned group version."""

    version = models.ForeignKey(PackageVersion, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    course = models.ForeignKey(
        "catalog.Course", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    group = models.ForeignKey(
        CourseGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    group_version = models.ForeignKey(
        CourseGroupVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    required = models.BooleanField(default=True)

    class Meta:
        ordering = ["version_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(course__isnull=False, group__isnull=True, group_version__isnull=True)
                    | Q(course__isnull=True, group__isnull=False, group_version__isnull=False)
                ),
                name="package_item_is_course_or_group",
            ),
            models.UniqueConstraint(fields=["version", "course"], name="package_item_course_once"),
            models.UniqueConstraint(fields=["version", "group"], name="package_item_group_once"),
        ]

    def __str__(self) -> str:
        return f"item {self.position} of version {self.version_id}"

    @classmethod
    def describe_references(cls, rows: models.QuerySet[Any]) -> list[tuple[int, str]]:
        """Say what these items (all naming one course) are, for a course-in-use message."""
        found: list[tuple[int, str]] = []
        if rows.exclude(version__status="draft").exists():
            found.append((0, "a published package version"))
        if rows.filter(version__status="draft").exists():
            found.append((2, "a package draft"))
        return found


class PublishAction(models.TextChoices):
    # A draft became the active version.
    PUBLISHED = "published", "Published"
    # A draft was published to take effect on a future date.
    SCHEDULED = "scheduled", "Scheduled"
    # A scheduled version's effective date came and it became active.
    ACTIVATED = "activated", "Took effect"
    # A version stopped being the one new enrollments get.
    ARCHIVED = "archived", "Archived"


class PublishRecord(models.Model):
    """One entry of a package's publish log ("like a git commit"). Append-only."""

    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="publish_log")
    version = models.ForeignKey(PackageVersion, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16, choices=PublishAction.choices)
    # The version that was active before this entry, if any.
    previous_version = models.ForeignKey(
        PackageVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    occurred_at = models.DateTimeField()
    # Null when the system acted (a scheduled version taking effect).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    effective_from = models.DateTimeField(null=True, blank=True)
    change_notes = models.TextField(blank=True, default="")
    # What happened to learners already enrolled (see learning.InFlightPolicy).
    inflight_policy = models.CharField(max_length=32, blank=True, default="")
    moved_enrollments = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["package_id", "id"]

    def __str__(self) -> str:
        return f"{self.action} v{self.version_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class DueKind(models.TextChoices):
    # N days after the enrolment moment.
    AFTER_ENROLMENT = "after_enrolment", "Days after enrolment"
    # N days after the learner's hire date (after enrolment when it is unknown).
    AFTER_HIRE = "after_hire", "Days after hire date"
    # One fixed moment for everyone.
    FIXED = "fixed", "Fixed date"
    # No due date.
    NEVER = "never", "Never"


class VersionLifecycle(models.Model):
    """When a package version's training is due and how long its completion is valid.

    Part of the version's content: set while it is a draft, copied into the next
    draft, and refused by the database once the version is released (same guard
    as the version's items).
    """

    version = models.OneToOneField(
        PackageVersion, on_delete=models.CASCADE, primary_key=True, related_name="lifecycle"
    )
    due_kind = models.CharField(max_length=16, choices=DueKind.choices, default=DueKind.NEVER)
    due_days = models.PositiveIntegerField(null=True, blank=True)
    due_fixed_at = models.DateTimeField(null=True, blank=True)
    # Validity of a completion in days; NULL: it never expires (no recertification).
    valid_days = models.PositiveIntegerField(null=True, blank=True)
    # The recertification window opens this many days before expiry.
    window_days = models.PositiveIntegerField(default=0)
    # Overdue, not yet expired, for this many days after expiry.
    grace_days = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(due_kind__in=DueKind.values), name="lifecycle_due_kind_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(due_kind__in=["after_enrolment", "after_hire"], due_days__isnull=False)
                    | Q(due_kind="fixed", due_fixed_at__isnull=False)
                    | Q(due_kind="never")
                ),
                name="lifecycle_due_rule_complete",
            ),
            models.CheckConstraint(
                condition=Q(valid_days__isnull=True) | Q(valid_days__gt=0),
                name="lifecycle_valid_days_positive",
            ),
            models.CheckConstraint(
                condition=Q(valid_days__isnull=True) | Q(window_days__lte=F("valid_days")),
                name="lifecycle_window_within_validity",
            ),
        ]

    def __str__(self) -> str:
        return f"lifecycle of version {self.version_id}"
