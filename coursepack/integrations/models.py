"""What the integrator API keeps: the stored results of idempotent requests."""

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
