"""What the integrator API keeps: stored results of idempotent requests, webhook
subscriptions and their delivery attempts."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotentRequest(models.Model):
    """A POST made with an ``Idempotency-Key``, and the answer it got.

    A retry with the same key (same caller) gets the stored answer again and
    changes nothing; the same key with another request is refused (409). Only
    successful answers are kept: a refused request may be retried as it is.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of method, path, query and body: what "the same request" means.
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=2048)
    status = models.PositiveSmallIntegerField()
    body = models.TextField(blank=True, default="")
    # The answer's headers a client reads (Content-Type, Location, ETag, Link).
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotent_request_user_key")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class WebhookSubscription(models.Model):
    """An admin's request to have the events feed POSTed to a URL (ADR 0029).

    The delivery worker follows the feed from ``cursor`` (the last audit record
    id handled) in order: an event that fails is retried with back-off and holds
    back the ones after it, so a receiver sees events in commit order.
    """

    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    # The feed types to deliver (e.g. "completion.recorded"); empty: every type.
    event_types = models.JSONField(default=list)
    # Standard Webhooks signing secret ("whsec_" + base64). Kept in the clear: the
    # worker needs it to sign; shown to an admin only when created or rotated.
    secret = models.CharField(max_length=100)
    # After a rotation the old secret signs too (a second signature) until then,
    # so a receiver can switch over without missing a delivery.
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    # Why the worker stopped delivering (after WEBHOOK_MAX_FAILURES failures in a row).
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    # The last feed event id handled (delivered, or not of a wanted type).
    cursor = models.BigIntegerField(default=0)
    # Failed attempts in a row at the event after the cursor; 0 after a success.
    failures = models.PositiveIntegerField(default=0)
    # No attempt before this (back-off); null: deliver when events come.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker delivering holds this lease, so two workers never send the same event.
    leased_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"webhook {self.pk}: {self.url[:200]}"


class WebhookAttempt(models.Model):
    """One POST of one event to a subscription's URL, and what came of it."""

    class Outcome(models.TextChoices):
        # The receiver answered 2xx.
        DELIVERED = "delivered", "Delivered"
        # Anything else: another status, a timeout, a refused connection or address.
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="attempts"
    )
    event_id = models.BigIntegerField()
    event_type = models.CharField(max_length=100)
    attempted_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    # The HTTP status the receiver answered; null when there was no answer.
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=500, blank=True, default="")
    # Sent again at an admin's request (it does not move the cursor).
    redelivery = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["subscription", "-id"], name="webhook_attempt_sub_id")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=["delivered", "failed"]),
                name="webhook_attempt_outcome_valid",
            )
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} → webhook {self.subscription_id}: {self.outcome}"
