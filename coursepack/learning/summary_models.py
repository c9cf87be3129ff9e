"""Summary rows of the enrollments: counts the report pages and standing counts sum.

Each row counts the enrollments sharing one key. The rows are kept by database
triggers on ``learning_enrollment`` (``coursepack.learning.summaries``), so every
write of an enrollment — the services, a bulk insert, a rebuild — changes them in
the same statement, in the same transaction. ``rebuild_statuses`` compares them
with a from-scratch aggregate and repairs any drift.

Days are UTC calendar days (``settings.TIME_ZONE`` is UTC); a missing moment is
stored as :data:`NO_DAY`, so that every key column is non-null and one unique
constraint holds each key once on both databases.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models

#: The day stored for "no such moment" (a NULL would make keys distinct in a unique index).
NO_DAY = date(1, 1, 1)


class EnrollmentState(models.TextChoices):
    # Neither withdrawn nor superseded: counted as enrolled.
    OPEN = "open", "Open"
    WITHDRAWN = "withdrawn", "Withdrawn"
    # A certification period followed by the next one (not withdrawn).
    SUPERSEDED = "superseded", "Superseded"


class EnrollmentDayCount(models.Model):
    """Enrollments of one version begun on one day, by state and status."""

    version = models.ForeignKey(
        "packaging.PackageVersion",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    package = models.ForeignKey(
        "packaging.Package", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    # The day of ``enrolled_at``.
    day = models.DateField()
    state = models.CharField(max_length=16, choices=EnrollmentState.choices)
    status = models.CharField(max_length=16)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "day", "state", "status"], name="enrollment_day_count_key"
            )
        ]
        indexes = [models.Index(fields=["package", "version"], name="enrollment_day_count_pkg")]

    def __str__(self) -> str:
        return f"v{self.version_id} {self.day} {self.state} {self.status}: {self.n}"


class VersionCount(models.Model):
    """Enrollments of one version by state and status, whenever begun: the package list
    and the reports without a range, a few rows per version (the day rows add up to the
    same, over many more rows)."""

    version = models.ForeignKey(
        "packaging.PackageVersion",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    package = models.ForeignKey(
        "packaging.Package", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    state = models.CharField(max_length=16, choices=EnrollmentState.choices)
    status = models.CharField(max_length=16)
    # Whether ``completed_at`` is set.
    completed = models.BooleanField()
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "state", "status", "completed"], name="version_count_key"
            )
        ]
        indexes = [models.Index(fields=["package", "version"], name="version_count_pkg")]

    def __str__(self) -> str:
        return f"v{self.version_id} {self.state} {self.status}: {self.n}"


class CompletionDayCount(models.Model):
    """Open enrollments of one version completed on one day."""

    version = models.ForeignKey(
        "packaging.PackageVersion",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    package = models.ForeignKey(
        "packaging.Package", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    # The day of ``completed_at``.
    day = models.DateField()
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "day"], name="completion_day_count_key")
        ]
        indexes = [
            models.Index(fields=["package", "day"], name="completion_day_count_pkg"),
            # The first and last day with a completion, over every package.
            models.Index(fields=["day"], name="completion_day_count_day"),
        ]

    def __str__(self) -> str:
        return f"v{self.version_id} completed {self.day}: {self.n}"


class CompletionMonthCount(models.Model):
    """Open enrollments of one version completed in one UTC month (the month's first
    day): the completions chart by month or year, ~30 times fewer rows than the days."""

    version = models.ForeignKey(
        "packaging.PackageVersion",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    package = models.ForeignKey(
        "packaging.Package", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    month = models.DateField()
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "month"], name="completion_month_count_key")
        ]
        indexes = [models.Index(fields=["package", "month"], name="completion_month_count_pkg")]

    def __str__(self) -> str:
        return f"v{self.version_id} completed in {self.month:%Y-%m}: {self.n}"


class StandingCount(models.Model):
    """Open certification periods sharing what their standing as of any moment depends on.

    A period's standing as of t (``lifecycle_selectors``) depends on its status,
    whether it is a later period, its overdue-from and expiry moments and, for a later
    period not complete yet, its previous period's version and expiry. Grouped by
    day, the standing of every row whose days differ from the days of the moment's
    thresholds is decided by the row alone; the rest are read exactly.
    """

    version = models.ForeignKey(
        "packaging.PackageVersion",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    package = models.ForeignKey(
        "packaging.Package", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    status = models.CharField(max_length=16)
    later = models.BooleanField()
    overdue_day = models.DateField()
    expires_day = models.DateField()
    # Only for a later period not complete yet (0 / NO_DAY otherwise).
    previous_version_id = models.IntegerField()
    previous_expires_day = models.DateField()
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "version",
                    "status",
                    "later",
                    "overdue_day",
                    "expires_day",
                    "previous_version_id",
                    "previous_expires_day",
                ],
                name="standing_count_key",
            )
        ]
        indexes = [models.Index(fields=["package"], name="standing_count_pkg")]

    def __str__(self) -> str:
        return f"v{self.version_id} {self.status}: {self.n}"


class CourseCount(models.Model):
    """What learners did on one course, all time: the per-course report without a range.

    Counts only completed, passed and failed events, each as long as it is not voided.
    """

    course = models.OneToOneField(
        "catalog.Course", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    # Learners with a completed or passed event not voided.
    learners = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    # Completed, passed or failed events that were voided.
    voided = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"course {self.course_id}: {self.learners} learners"


class CourseDayCount(models.Model):
    """Events of one course that occurred on one day (completed or passed, failed; voided)."""

    course = models.ForeignKey(
        "catalog.Course", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    day = models.DateField()
    completions = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    voided = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "day"], name="course_day_count_key")
        ]

    def __str__(self) -> str:
        return f"course {self.course_id} {self.day}"


class CourseRepeatCount(models.Model):
    """Pairs of one learner's consecutive completions of one course (completed or passed,
    not voided; in order of ``occurred_at``, then id): how many pairs have their earlier
    completion on ``previous_day`` and their later one on ``day``.

    The learners who completed a course over whole days ``[first, stop)`` are its
    completions then (``CourseDayCount``) less the pairs with both ends then
    (``previous_day >= first`` and ``day < stop``): a learner with k completions in the
    range has k - 1 such pairs, and counts once (ADR 0040).
    """

    course = models.ForeignKey(
        "catalog.Course", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    previous_day = models.DateField()
    day = models.DateField()
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course", "previous_day", "day"], name="course_repeat_count_key"
            )
        ]

    def __str__(self) -> str:
        return f"course {self.course_id} {self.previous_day} then {self.day}"


class CourseLearnerCount(models.Model):
    """What one learner did on one course: completed or passed events not voided (what
    decides whether they count in ``CourseCount.learners``), failed events not voided,
    and events voided. An enrollment opening adds its learner's rows to the per-package
    and per-version course rows below; closing takes them off."""

    course = models.ForeignKey(
        "catalog.Course", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    completions = models.IntegerField(default=0)
    failed = models.IntegerField(default=0, db_default=0)
    voided = models.IntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "learner"], name="course_learner_count_key")
        ]
        # One learner's rows, read when one of their enrollments opens or closes.
        indexes = [models.Index(fields=["learner", "course"], name="course_learner_count_lrn")]

    def __str__(self) -> str:
        return f"course {self.course_id} learner {self.learner_id}: {self.completions}"


class LearnerCount(models.Model):
    """How many enrollments (open, withdrawn or superseded) one learner has: which
    learners the reports' learners table lists, and how many, without reading every
    enrollment. Their counts by status are read from the enrollments of the page's
    learners only."""

    # Indexed by the unique key.
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["learner"], name="learner_count_key")]

    def __str__(self) -> str:
        return f"learner {self.learner_id}: {self.n} enrollments"


class PackageCourseCount(models.Model):
    """What the learners with an open enrollment in one package did on one course: the
    per-course table of one package, without a range. Kept for every course those
    learners have events on; the report lists only the package's courses."""

    package = models.ForeignKey(
        "packaging.Package", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    course = models.ForeignKey(
        "catalog.Course", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    # Those learners with a completed or passed event not voided.
    learners = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    voided = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["package", "course"], name="package_course_count_key")
        ]

    def __str__(self) -> str:
        return f"package {self.package_id} course {self.course_id}: {self.learners} learners"


class VersionCourseCount(models.Model):
    """The same for the learners with an open enrollment in one version."""

    version = models.ForeignKey(
        "packaging.PackageVersion",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    course = models.ForeignKey(
        "catalog.Course", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    learners = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    voided = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "course"], name="version_course_count_key")
        ]

    def __str__(self) -> str:
        return f"version {self.version_id} course {self.course_id}: {self.learners} learners"
