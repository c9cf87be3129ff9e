"""Roles and personal API tokens."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    # Manages the catalog, groups, packages and enrollments; records completions.
    ADMIN = "admin", "Training admin"
    # Reads everything, writes nothing.
    AUDITOR = "auditor", "Auditor"
    # Reads the records of the people in the org units they manage (and below).
    MANAGER = "manager", "Manager"
    # Reads their own enrollments, progress and transcript only.
    LEARNER = "learner", "Learner"


class Account(models.Model):
    """A user's role in Coursepack. Users without one are learners (superusers: admins)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="account"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.LEARNER)
    # The learner's hire date, for due dates "N days after hire" (PRODUCT.md,
    # "Compliance lifecycle"); unknown: those due dates count from enrolment.
    hire_date = models.DateField(null=True, blank=True)
    # The person's id in the HR system that keeps Coursepack's people in sync:
    # unique when given, so a sync or an integrator can address a person by it.
    external_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # The person's job title as HR states it (audiences select on it).
    job_title = models.CharField(max_length=200, blank=True, default="")
    # The username's key (accounts.usernames.username_key): unique, so that no two
    # people get names a reader could not tell apart. NULL for accounts made before
    # the rule whose key another account already had.
    username_key = models.CharField(max_length=600, null=True, blank=True, unique=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="account_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.role}"


class ApiToken(models.Model):
    """A personal API token. Only a hash is stored; the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # The token's public first part, to find the row without scanning hashes.
    prefix = models.CharField(max_length=16, unique=True)
    # SHA-256 of the whole token: tokens are 256-bit random, so a fast hash is safe.
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Tokens stop working at this moment (API_TOKEN_DEFAULT_DAYS after issue unless
    # asked otherwise, at most API_TOKEN_MAX_DAYS). Null only for tokens issued
    # before expiry existed (the migration gave those the default lifetime).
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
