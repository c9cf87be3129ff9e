"""Enrollments, completion events and the stored status cache."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class EnrollmentStatus(models.TextChoices):
    # Nothing under the version's tree has been attempted yet.
    NOT_STARTED = "not_started", "Not started"
    # Something counted, the tree is not yet satisfied.
    IN_PROGRESS = "in_progress", "In progress"
    # The tree is satisfied; ``completed_at`` says since when.
    COMPLETED = "completed", "Completed"


class Enrollment(models.Model):
    """One learner in one package, pinned to one version.

    ``status``, ``progress_done``, ``progress_needed`` and ``completed_at`` are a
    cache of the requirement engine over the learner's events; ``rebuild_statuses``
    recomputes them and reports any drift.
    """

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrollments"
    )
    # Indexed by the report index below, which starts with it.
    package = models.ForeignKey(
        "packaging.Package", on_delete=models.PROTECT, related_name="enrollments", db_index=False
    )
    version = models.ForeignKey(
        "packaging.PackageVersion", on_delete=models.PROTECT, related_name="enrollments"
    )
    enrolled_at = models.DateTimeField()
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=EnrollmentStatus.choices, default=EnrollmentStatus.NOT_STARTED
    )
    progress_done = models.PositiveIntegerField(default=0)
    progress_needed = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Lifecycle facts, set once when the enrollment is created (never updated):
    # the due date from the version's rule, the certification period it is (1, 2, ...),
    # the period it follows, and when events start counting (the window's opening).
    due_at = models.DateTimeField(null=True, blank=True)
    # Database defaults too: raw bulk inserts (the benchmark generator) name no new columns.
    period_number = models.PositiveIntegerField(default=1, db_default=1)
    previous_period = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="next_period"
    )
    counts_from = models.DateTimeField(null=True, blank=True)
    # When the next period opened: this period keeps what it had as of then.
    superseded_at = models.DateTimeField(null=True, blank=True)
    # Lifecycle cache, as of now as known now (rebuilt with the status): the due date
    # in force, the moment it is overdue from while not complete, whether it was
    # completed after its due date, and when the completion expires.
    due_in_force = models.DateTimeField(null=True, blank=True)
    overdue_since = models.DateTimeField(null=True, blank=True)
    completed_late = models.BooleanField(default=False, db_default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The earliest end of an exemption (valid until a date) the cached fields count:
    # they are right until then, and recomputed from then on (by any write, the
    # settling job, or at read time by the standing reads; ADR 0022).
    exemption_lapses_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "package"],
                condition=Q(withdrawn_at__isnull=True, superseded_at__isnull=True),
                name="enrollment_one_open_per_learner_package",
            ),
            models.CheckConstraint(
                condition=(Q(period_number=1) & Q(previous_period__isnull=True))
                | (Q(period_number__gt=1) & Q(previous_period__isnull=False)),
                name="enrollment_period_links_previous",
            ),
            models.CheckConstraint(
                condition=Q(status__in=EnrollmentStatus.values), name="enrollment_status_valid"
            ),
        ]
        indexes = [
            # Covers the open-enrollment counts per version and status (package list,
            # package page): counted from the index alone, no row read.
            models.Index(
                fields=["version", "status", "withdrawn_at", "superseded_at"],
                name="enrollment_version_counts",
            ),
            # Covers the per-package, per-version counts of the reports (every column
            # they filter or count on), so they are answered from the index alone.
            models.Index(
                fields=[
                    "package",
                    "version",
                    "status",
                    "withdrawn_at",
                    "completed_at",
                    "enrolled_at",
                    "superseded_at",
                ],
                name="enrollment_report_counts",
            ),
            # The few periods whose cache waits on an exemption's end.
            models.Index(
                fields=["exemption_lapses_at"],
                condition=Q(exemption_lapses_at__isnull=False),
                name="enrollment_exemption_lapses",
            ),
            # The standing counts read exactly only the periods whose overdue or expiry
            # moment falls on the day of one of the moment's thresholds (ADR 0027).
            models.Index(fields=["package", "overdue_since"], name="enrollment_overdue_day"),
            models.Index(fields=["package", "expires_at"], name="enrollment_expires_day"),
            # The reports' learners of one package or version: which learners, and how
            # many, from the index alone (ADR 0027).
            models.Index(
                fields=["package", "learner", "version"], name="enrollment_package_learner"
            ),
            # The reports' learners of a date range over every package: how many (a
            # distinct count of this index's range alone) and which (ADR 0032).
            models.Index(fields=["enrolled_at", "learner"], name="enrollment_enrolled_learner"),
        ]

    def __str__(self) -> str:
        # Ids only: a label must not cost queries (the audit log stores it per write).
        return f"enrollment {self.pk} (learner {self.learner_id}, package {self.package_id})"


class EnrollmentMove(models.Model):
    """An enrollment moved from one version to another at publish time. Append-only."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="moves")
    from_version = models.ForeignKey(
        "packaging.PackageVersion", on_delete=models.PROTECT, related_name="+"
    )
    to_version = models.ForeignKey(
        "packaging.PackageVersion", on_delete=models.PROTECT, related_name="+"
    )
    moved_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    policy = models.CharField(max_length=32)

    class Meta:
        ordering = ["enrollment_id", "moved_at", "id"]

    def __str__(self) -> str:
        return f"enrollment {self.enrollment_id}: v{self.from_version_id} -> v{self.to_version_id}"


class EventKind(models.TextChoices):
    COMPLETED = "completed", "Completed"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    # Voids the event named by ``voids``; nothing is ever updated or deleted.
    VOID = "void", "Void"


class EventSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    API = "api", "API"
    IMPORT = "import", "Import"
    XAPI = "xapi", "xAPI"


class CompletionEvent(models.Model):
    """A learner finished, passed or failed a course — or a void of such an event."""

    # Indexed by the (learner, course) index below, which starts with it: with a plain
    # index of its own beside it, PostgreSQL read every event of each learner to find
    # their events on a package's courses (migration 0014).
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="completion_events",
        db_index=False,
    )
    # Indexed by ``event_course_occurred`` below, which starts with it (ADR 0036 amended).
    course = models.ForeignKey(
        "catalog.Course", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=16, choices=EventSource.choices)
    # Caller-supplied key: recording the same key twice changes nothing.
    # NULL, not "", when absent: the unique constraint must ignore events without a key.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    evidence_note = models.TextField(blank=True, default="")
    # Why it is recorded so long after it occurred (required past the horizon,
    # COMPLETION_LATE_HORIZON_DAYS): back-dating changes historical reports.
    late_reason = models.TextField(blank=True, default="")
    voids = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="voided_by"
    )

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="event_external_id_unique",
            ),
            models.CheckConstraint(
                condition=(Q(kind="void") & Q(voids__isnull=False))
                | (~Q(kind="void") & Q(voids__isnull=True)),
                name="event_void_names_its_target",
            ),
            models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="event_kind_valid"),
        ]
        indexes = [
            models.Index(fields=["learner", "course"]),
            # A course's events by moment, with what the per-course counts read (kind,
            # learner, id): the course table over a range reads the range's index
            # entries alone, never the events' rows (ADR 0036 amended). It replaces the plain
            # index of the course foreign key (every use of that one is a prefix of it).
            models.Index(
                fields=["course", "occurred_at", "kind", "learner", "id"],
                name="event_course_occurred",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.learner_id} {self.kind} {self.course_id} at {self.occurred_at:%Y-%m-%d}"

    @classmethod
    def describe_references(cls, rows: models.QuerySet[Any]) -> list[tuple[int, str]]:
        """Say what these events (all naming one course) are, for a course-in-use message."""
        return [(4, "learners' completion records")] if rows.exists() else []


# The lifecycle facts live in their own module; Django finds models through this one.
from coursepack.learning.lifecycle_models import (  # noqa: E402
    DueExtension,
    Equivalence,
    EquivalenceChange,
    EquivalenceChangeKind,
    Exemption,
    ExemptionRevocation,
    WaiverReason,
)
from coursepack.learning.summary_models import (  # noqa: E402
    CompletionDayCount,
    CompletionMonthCount,
    CourseCount,
    CourseDayCount,
    CourseLearnerCount,
    CourseRepeatCount,
    EnrollmentDayCount,
    EnrollmentState,
    LearnerCount,
    PackageCourseCount,
    StandingCount,
    VersionCount,
    VersionCourseCount,
)

__all__ = [
    "CompletionDayCount",
    "CompletionEvent",
    "CompletionMonthCount",
    "CourseCount",
    "CourseDayCount",
    "CourseLearnerCount",
    "CourseRepeatCount",
    "DueExtension",
    "Enrollment",
    "EnrollmentDayCount",
    "EnrollmentMove",
    "EnrollmentState",
    "EnrollmentStatus",
    "Equivalence",
    "EquivalenceChange",
    "EquivalenceChangeKind",
    "EventKind",
    "EventSource",
    "Exemption",
    "ExemptionRevocation",
    "LearnerCount",
    "PackageCourseCount",
    "StandingCount",
    "VersionCount",
    "VersionCourseCount",
    "WaiverReason",
]
