"""Background jobs: long operations run by the task worker in committed chunks."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class JobKind(models.TextChoices):
    # Enrol many learners in a package, a chunk of learners per transaction.
    BULK_ENROLL = "bulk_enroll", "Bulk enrolment"
    # Recompute every stored status (learning.rebuild_statuses), a batch per transaction.
    REBUILD_STATUSES = "rebuild_statuses", "Rebuild stored statuses"
    # Publish a version and move in-flight learners onto it, a chunk per transaction.
    PUBLISH_WITH_MOVES = "publish_with_moves", "Publish with moves"
    # Write a large report export (XLSX) to a file the requester downloads when done.
    EXPORT = "export", "Report export"
    # Apply an HR people file: upsert people by external id, deactivate leavers.
    PEOPLE_SYNC = "people_sync", "People sync"
    # Enrol an audience's new members and withdraw its leavers.
    AUDIENCE_SYNC = "audience_sync", "Audience enrolment"
    # Send the reminders and digests that are due.
    REMINDERS = "reminders", "Reminder run"
    # Migrate a legacy database (interchange.import_legacy).
    LEGACY_IMPORT = "legacy_import", "Legacy migration"
    # Verify the whole audit chain and every row it vouches for.
    AUDIT_VERIFY = "audit_verify", "Audit verification"


class JobStatus(models.TextChoices):
    # Waiting for the worker.
    QUEUED = "queued", "Queued"
    # The worker is on it (or was, when it stopped: resumed at the next start).
    RUNNING = "running", "Running"
    # Every chunk is committed.
    SUCCEEDED = "succeeded", "Succeeded"
    # Stopped on an error; the chunks before it stay committed (and audited).
    FAILED = "failed", "Failed"


class Job(models.Model):
    """One long operation: what to do, who asked, how far it got.

    ``cursor`` is the last learner id a committed chunk handled: a job resumed
    after a crash starts after it, and each chunk is idempotent anyway.
    """

    kind = models.CharField(max_length=32, choices=JobKind.choices)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Who asked, as the audit log names them (a user, or os:NAME for an operator).
    actor_label = models.CharField(max_length=150)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.BigIntegerField(default=0)
    done = models.BigIntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    result = models.JSONField(default=dict)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=JobKind.values), name="job_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=JobStatus.values), name="job_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.kind}, {self.status})"
