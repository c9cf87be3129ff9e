"""Reminder schedules per package, editable message templates, and the record of every
message (the claim that makes a reminder go out at most once)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class MessageKind(models.TextChoices):
    # A learner was enrolled (sent for enrollments made within the look-back).
    ASSIGNED = "assigned", "Assigned"
    # The due date in force is near: once at each of the schedule's offsets.
    DUE_SOON = "due_soon", "Due soon"
    # Past the due date and not complete: on the day, then every N days.
    OVERDUE = "overdue", "Overdue"
    # A completion's validity ends soon: once at each of the schedule's offsets.
    EXPIRING = "expiring", "Expiring"
    # The enrollment was completed (sent for completions within the look-back).
    COMPLETED = "completed", "Completed"
    # To a manager: their team's overdue people, once per digest period.
    MANAGER_DIGEST = "manager_digest", "Manager digest"


class MessageStatus(models.TextChoices):
    # Claimed (the row exists, so no other run claims it again), not yet sent.
    PENDING = "pending", "Pending"
    # A worker is sending it now (or stopped while it did: retried after the claim expires).
    SENDING = "sending", "Sending"
    # The mail server accepted it.
    SENT = "sent", "Sent"
    # The last attempt failed (``error`` says why); retried by a later run until
    # NOTIFICATIONS_MAX_ATTEMPTS.
    FAILED = "failed", "Failed"
    # Nothing to say any more when its turn came (completed, withdrawn, no address).
    SKIPPED = "skipped", "Skipped"


class ReminderSchedule(models.Model):
    """When a package's reminders go out; a package without a row uses the defaults
    (``notifications.api.DEFAULT_SCHEDULE``)."""

    package = models.OneToOneField(
        "packaging.Package", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    enabled = models.BooleanField(default=True)
    send_assigned = models.BooleanField(default=True)
    # Days before the due date in force, e.g. [30, 14, 1].
    due_soon_days = models.JSONField(default=list)
    # Days between overdue reminders (the first on the due date); 0: none.
    overdue_every_days = models.PositiveIntegerField(default=7)
    # Days before a completion expires, e.g. [30, 7].
    expiring_days = models.JSONField(default=list)
    send_completed = models.BooleanField(default=True)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"reminder schedule of package {self.package_id}"


class MessageTemplate(models.Model):
    """An admin's text for one kind of message (``string.Template``: ``$name`` only).
    A kind without a row uses the built-in text."""

    kind = models.CharField(max_length=32, choices=MessageKind.choices, unique=True)
    subject = models.CharField(max_length=200)
    body_text = models.TextField()
    # Optional: sent as the HTML alternative when given (values are escaped).
    body_html = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=MessageKind.values), name="message_template_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return f"template {self.kind}"


class Message(models.Model):
    """One message to one person: claimed (inserted) before it is sent, so the unique
    constraints make each reminder go out at most once, then sent and its result kept.

    The reminder's identity is (enrollment, kind, anchor, offset_days): ``anchor`` is
    the date it is about (the due date in force, the expiry, the enrolment or completion
    moment) and ``offset_days`` the schedule's step (days before due / expiry, days
    since due). A digest's identity is (recipient, kind, anchor = its period's start).
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="messages"
    )
    kind = models.CharField(max_length=32, choices=MessageKind.choices)
    enrollment = models.ForeignKey(
        "learning.Enrollment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    package = models.ForeignKey(
        "packaging.Package", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    anchor = models.DateTimeField()
    offset_days = models.IntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    # The job (a reminder run) that claimed it; jobs sit above this app, so a plain id.
    run_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    to_address = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=200, blank=True, default="")
    body_text = models.TextField(blank=True, default="")
    body_html = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "kind", "anchor", "offset_days"],
                condition=Q(enrollment__isnull=False),
                name="message_once_per_enrollment_reminder",
            ),
            models.UniqueConstraint(
                fields=["recipient", "kind", "anchor"],
                condition=Q(enrollment__isnull=True),
                name="message_once_per_digest_period",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MessageKind.values), name="message_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MessageStatus.values), name="message_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind="manager_digest", enrollment__isnull=True)
                | (~Q(kind="manager_digest") & Q(enrollment__isnull=False)),
                name="message_digest_has_no_enrollment",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "created_at"], name="message_by_recipient"),
            models.Index(fields=["status", "id"], name="message_by_status"),
            models.Index(fields=["kind", "created_at"], name="message_by_kind"),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} ({self.kind} to {self.recipient_id})"
