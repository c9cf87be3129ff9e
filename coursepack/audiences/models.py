"""Audiences: who a package is assigned to, by rule, and whom the rule enrolled.

A package has at most one audience. Its rule combines criteria of three kinds —
org units (each with everything below it), job titles, hired after a date — with
AND across kinds and OR within a kind; a kind left empty does not restrict.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class LeaverPolicy(models.TextChoices):
    # A leaver's open enrollment that is not complete is withdrawn; a completed
    # record is kept (it is evidence of training done).
    WITHDRAW = "withdraw", "Withdraw leavers' unfinished enrollments"
    # Leavers keep their enrollments; the audience only stops assigning them.
    KEEP = "keep", "Keep leavers' enrollments"


class Audience(models.Model):
    """The rule that assigns one package to the people who match it."""

    package = models.OneToOneField(
        "packaging.Package", on_delete=models.PROTECT, related_name="audience"
    )
    # Members work in one of these units or below (OrgUnit.path prefix).
    org_units = models.ManyToManyField("organisation.OrgUnit", blank=True, related_name="+")
    # Members have one of these job titles (compared without regard to case).
    job_titles = models.JSONField(default=list, blank=True)
    # Members were hired after this date (strictly); people without a hire date are not.
    hired_after = models.DateField(null=True, blank=True)
    leaver_policy = models.CharField(
        max_length=16, choices=LeaverPolicy.choices, default=LeaverPolicy.WITHDRAW
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["package_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(leaver_policy__in=LeaverPolicy.values),
                name="audience_leaver_policy_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"audience of package {self.package_id}"


class Assignment(models.Model):
    """A person the audience enrolled, while they are a member.

    Only these are ever withdrawn by the audience: someone enrolled by hand is
    never withdrawn by a rule. ``ended_at`` is set when the person left the
    audience (whatever the leaver policy did with the enrollment).
    """

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="assignments")
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    enrollment = models.ForeignKey(
        "learning.Enrollment", on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["audience_id", "learner_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["audience", "learner"],
                condition=Q(ended_at__isnull=True),
                name="assignment_one_open_per_learner",
            ),
        ]

    def __str__(self) -> str:
        return f"learner {self.learner_id} in audience {self.audience_id}"
