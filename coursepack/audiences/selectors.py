"""Reads of audiences: who matches a rule, who an audience enrolled."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from coursepack.audiences.errors import AudienceNotFound
from coursepack.audiences.models import Assignment, Audience
from coursepack.organisation.models import OrgUnit

__all__ = [
    "Rule",
    "assigned_ids",
    "audience_of_package",
    "audiences",
    "member_ids",
    "members_q",
    "rule_of",
    "unit_options",
]


@dataclass(frozen=True)
class Rule:
    """An audience's rule: AND across the kinds, OR within a kind; an empty kind does
    not restrict (but a rule must name at least one criterion)."""

    org_unit_ids: tuple[int, ...] = ()
    job_titles: tuple[str, ...] = ()
    hired_after: date | None = None
    leaver_policy: str = "withdraw"

    def as_dict(self) -> dict[str, object]:
        """Return the rule as the audit log and the API show it."""
        return {
            "org_unit_ids": list(self.org_unit_ids),
            "job_titles": list(self.job_titles),
            "hired_after": self.hired_after.isoformat() if self.hired_after else None,
            "leaver_policy": self.leaver_policy,
        }


def members_q(rule: Rule) -> Q:
    """Return the condition, over users, of being a member of ``rule``: active, and
    matching every kind of criterion the rule names (one of its units or below, one of
    its job titles, hired after its date)."""
    found = Q(is_active=True)
    if rule.org_unit_ids:
        paths = OrgUnit.objects.filter(pk__in=rule.org_unit_ids).values_list("path", flat=True)
        within = Q(pk__in=[])
        for path in paths:
            within |= Q(placement__org_unit__path__startswith=path)
        found &= within
    if rule.job_titles:
        titled = Q(pk__in=[])
        for title in rule.job_titles:
            titled |= Q(account__job_title__iexact=title)
        found &= titled
    if rule.hired_after is not None:
        found &= Q(account__hire_date__gt=rule.hired_after)
    return found


def member_ids(rule: Rule, among: Iterable[int] | None = None) -> set[int]:
    """Return the ids of the people ``rule`` selects now (only those in ``among``, if given)."""
    rows = get_user_model().objects.filter(members_q(rule))
    if among is not None:
        rows = rows.filter(pk__in=list(among))
    return set(rows.values_list("pk", flat=True))


def assigned_ids(audience_id: int, among: Iterable[int] | None = None) -> set[int]:
    """Return the people the audience enrolled and who have not left it."""
    rows = Assignment.objects.filter(audience_id=audience_id, ended_at__isnull=True)
    if among is not None:
        rows = rows.filter(learner_id__in=list(among))
    return set(rows.values_list("learner_id", flat=True))


def rule_of(audience: Audience) -> Rule:
    """Return an audience's stored rule."""
    return Rule(
        org_unit_ids=tuple(sorted(audience.org_units.values_list("pk", flat=True))),
        job_titles=tuple(audience.job_titles),
        hired_after=audience.hired_after,
        leaver_policy=audience.leaver_policy,
    )


def audience_of_package(package_id: int) -> Audience:
    """Return the package's audience, or raise AudienceNotFound."""
    audience = Audience.objects.filter(package_id=package_id).first()
    if audience is None:
        raise AudienceNotFound(f"Package {package_id} has no audience.")
    return audience


def audiences() -> QuerySet[Audience]:
    """Return every audience with its package, by package."""
    return Audience.objects.select_related("package").prefetch_related("org_units")


def unit_options() -> list[tuple[int, str]]:
    """Return every active org unit as (id, name indented by depth), in tree order."""
    rows = OrgUnit.objects.filter(active=True).order_by("path").values_list("pk", "name", "path")
    return [(pk, "\u2003" * (path.count("/") - 2) + name) for pk, name, path in rows]
