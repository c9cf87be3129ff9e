"""A package's standing and exceptions as one viewer may read them (ADR 0024, 0034).

Admins and auditors read everyone: their counts come from the standing summaries
(ADR 0027) and their lists are the package's whole lists. A manager reads the people
placed in the units they manage and below (and themselves): their counts are worked
out over exactly those people's open periods, and their lists hold nobody else. The
numbers of people outside the scope never show, not even as a total.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.utils import timezone

from coursepack.learning import lifecycle_selectors
from coursepack.learning.lifecycle_selectors import STANDING_FILTERS, Exceptions
from coursepack.learning.models import Enrollment
from coursepack.organisation import selectors as organisation

__all__ = ["package_exceptions", "standing_counts", "standing_enrollments"]

Viewer = User | AnonymousUser | None


def standing_counts(
    viewer: Viewer,
    package_id: int,
    *,
    now: datetime | None = None,
    expiring_within_days: int = 30,
    lapsed: list[Enrollment] | None = None,
) -> dict[str, int]:
    """Return how many of the package's open periods that ``viewer`` may read are in
    each standing now (every standing of ``STANDING_FILTERS``). ``lapsed``: the
    package's lapsed periods as of ``now``, if the caller has read them."""
    moment = now or timezone.now()
    if lapsed is None:
        lapsed = lifecycle_selectors.lapsed_periods([package_id], moment)
    scope = organisation.person_scope(viewer, "learner")
    if scope is None:
        return lifecycle_selectors.standing_counts(
            package_id, now=moment, expiring_within_days=expiring_within_days, lapsed=lapsed
        )
    # One count per standing over the scope's periods: the same verdicts as the
    # lists (``standing_enrollments``), so a manager's count is their list's length.
    return {
        name: lifecycle_selectors.standing_enrollments(
            package_id, name, now=moment, expiring_within_days=expiring_within_days, lapsed=lapsed
        )
        .filter(scope)
        .count()
        for name in STANDING_FILTERS
    }


def standing_enrollments(
    viewer: Viewer,
    package_id: int,
    standing: str,
    *,
    now: datetime | None = None,
    expiring_within_days: int = 30,
    search: str = "",
    lapsed: list[Enrollment] | None = None,
) -> QuerySet[Enrollment]:
    """Return the open periods of the package in one standing now that ``viewer`` may
    read, learners by name (``lapsed``: as for :func:`standing_counts`)."""
    rows = lifecycle_selectors.standing_enrollments(
        package_id,
        standing,
        now=now,
        expiring_within_days=expiring_within_days,
        search=search,
        lapsed=lapsed,
    )
    scope = organisation.person_scope(viewer, "learner")
    return rows if scope is None else rows.filter(scope)


def package_exceptions(
    viewer: Viewer,
    package_id: int,
    *,
    now: datetime | None = None,
    lapsing_within_days: int = 30,
) -> Exceptions:
    """Return the package's exceptions (lazy querysets) about the people ``viewer`` may
    read."""
    found = lifecycle_selectors.package_exceptions(
        package_id, now=now, lapsing_within_days=lapsing_within_days
    )
    periods = organisation.person_scope(viewer, "learner")
    if periods is None:
        return found
    exemptions = organisation.person_scope(viewer, "enrollment__learner")
    assert exemptions is not None
    return replace(
        found,
        due_before_enrolment=found.due_before_enrolment.filter(periods),
        completed_late=found.completed_late.filter(periods),
        exemptions=found.exemptions.filter(exemptions),
        lapsing=found.lapsing.filter(exemptions),
    )
