"""Reads of the compliance lifecycle: dates and standing as of t, as known at r, and the
per-package standing counts and lists (PRODUCT.md, "Compliance lifecycle")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from coursepack.learning.models import Enrollment, Equivalence, Exemption
from coursepack.learning.period_standing import (
    EnrollmentLifecycle,
    enrollment_lifecycle,
    package_standing,
)
from coursepack.learning.standing_counts import standing_counts, standing_counts_by_package
from coursepack.learning.standing_terms import (
    STANDING_FILTERS,
    engine_standings,
    lapsed_periods,
    open_periods,
    recount_lapsed,
    standing_q,
    standing_thresholds,
    validity_rules,
)

__all__ = [
    "STANDING_FILTERS",
    "EnrollmentLifecycle",
    "Exceptions",
    "enrollment_exemptions",
    "enrollment_lifecycle",
    "equivalences",
    "exact_standing_counts",
    "lapsed_periods",
    "package_exceptions",
    "package_standing",
    "standing_counts",
    "standing_counts_by_package",
    "standing_enrollments",
    "standing_thresholds",
]


def exact_standing_counts(
    package_id: int, *, now: datetime | None = None, expiring_within_days: int = 30
) -> dict[str, int]:
    """Return what :func:`standing_counts` returns, by one aggregate over every open period
    (the from-scratch answer the summaries are held to)."""
    moment = now or timezone.now()
    within = timedelta(days=expiring_within_days)
    rules_of = validity_rules(package_id)
    aggregates = {
        name: Count("pk", filter=standing_q(name, moment, within, package_id, rules_of))
        for name in STANDING_FILTERS
    }
    counts = dict(open_periods(package_id).aggregate(**aggregates))
    lapsed = lapsed_periods([package_id], moment)
    if lapsed:
        recount_lapsed(package_id, lapsed, counts, moment, within)
    return counts


def standing_enrollments(
    package_id: int,
    standing: str,
    *,
    now: datetime | None = None,
    expiring_within_days: int = 30,
    search: str = "",
    lapsed: list[Enrollment] | None = None,
) -> QuerySet[Enrollment]:
    """Return the open periods of a package in one standing as of now, learners first by
    name; ``search`` filters by user name. ``lapsed``: ``lapsed_periods([package_id],
    now)``, if the caller has read it."""
    moment = now or timezone.now()
    within = timedelta(days=expiring_within_days)
    rows = open_periods(package_id).filter(
        standing_q(standing, moment, within, package_id, validity_rules(package_id))
    )
    if lapsed is None:
        lapsed = lapsed_periods([package_id], moment)
    if lapsed:
        # As in standing_counts: the engine, not the stale cache, places these.
        rows = rows.exclude(pk__in=[e.pk for e in lapsed]) | open_periods(package_id).filter(
            pk__in=[e.pk for e in lapsed if standing in engine_standings(e, moment, within)]
        )
    if search:
        rows = rows.filter(learner__username__icontains=search)
    return rows.select_related("learner", "version").order_by("learner__username", "pk")


@dataclass(frozen=True)
class Exceptions:
    """The exceptions of one package's open periods: what an auditor asks about first."""

    # Enrolled with a due date already passed (e.g. a fixed date before the enrolment).
    due_before_enrolment: QuerySet[Enrollment]
    # Completed after the due date then in force.
    completed_late: QuerySet[Enrollment]
    # Exemptions in force, newest first.
    exemptions: QuerySet[Exemption]
    # Exemptions in force that end within the window asked for, soonest end first.
    lapsing: QuerySet[Exemption]


def package_exceptions(
    package_id: int, *, now: datetime | None = None, lapsing_within_days: int = 30
) -> Exceptions:
    """Return the exceptions of one package's open periods (lazy querysets) as of ``now``
    (default now); an exemption whose end has passed is no longer in force."""
    moment = now or timezone.now()
    periods = open_periods(package_id).select_related("learner", "version")
    in_force = Exemption.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=moment),
        enrollment__package_id=package_id,
        enrollment__withdrawn_at__isnull=True,
        enrollment__superseded_at__isnull=True,
        revocation__isnull=True,
    ).select_related("enrollment__learner", "recorded_by", "course", "group")
    return Exceptions(
        due_before_enrolment=periods.filter(due_at__lt=F("enrolled_at")).order_by("pk"),
        completed_late=periods.filter(completed_late=True).order_by("pk"),
        exemptions=in_force.order_by("-effective_at", "-pk"),
        lapsing=in_force.filter(ends_at__lte=moment + timedelta(days=lapsing_within_days)).order_by(
            "ends_at", "pk"
        ),
    )


def enrollment_exemptions(enrollment_id: int) -> QuerySet[Exemption]:
    """Return an enrollment's exemptions, revoked ones too, oldest first."""
    return (
        Exemption.objects.filter(enrollment_id=enrollment_id)
        .select_related("course", "group", "recorded_by", "revocation")
        .order_by("effective_at", "pk")
    )


def equivalences() -> QuerySet[Equivalence]:
    """Return every equivalence with its courses and its changes (end, retroactive)."""
    return (
        Equivalence.objects.select_related("source", "target", "recorded_by")
        .prefetch_related("changes")
        .order_by("-pk")
    )
