"""Reads of the compliance lifecycle: dates and standing as of t, as known at r, and the
per-package standing counts and lists (PRODUCT.md, "Compliance lifecycle")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from coursepack import rules
from coursepack.learning import lifecycle_facts
from coursepack.learning.models import Enrollment, Equivalence, Exemption
from coursepack.learning.selectors import evaluate_enrollment, events_by_learner, on_version_since
from coursepack.packaging import selectors as packaging

__all__ = [
    "STANDING_FILTERS",
    "EnrollmentLifecycle",
    "Exceptions",
    "enrollment_exemptions",
    "enrollment_lifecycle",
    "equivalences",
    "package_exceptions",
    "package_standing",
    "standing_counts",
    "standing_enrollments",
]


@dataclass(frozen=True)
class EnrollmentLifecycle:
    """One enrollment (a period) as of t, as known at r: its evaluation and dates."""

    enrollment: Enrollment
    evaluation: rules.Evaluation
    state: rules.PeriodState
    extensions: tuple[rules.Extension, ...]

    @property
    def view(self) -> rules.PeriodView:
        """Return the period as the standing function sees it."""
        return rules.PeriodView(
            self.enrollment.pk, self.enrollment.enrolled_at, self.evaluation, self.state
        )


def enrollment_lifecycle(
    enrollment: Enrollment,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    equivalences: lifecycle_facts.EquivalenceFacts | None = None,
) -> EnrollmentLifecycle:
    """Return one enrollment's evaluation and dates as of ``as_of`` (default now), as
    known at ``known_at`` (default now)."""
    moment = as_of or timezone.now()
    tree = packaging.requirement_tree(enrollment.version_id)
    if equivalences is None:
        equivalences = lifecycle_facts.equivalence_facts(labels=True)
    courses = set(rules.course_ids(tree)) | equivalences.sources_for(rules.course_ids(tree))
    events = events_by_learner([enrollment.learner_id], courses).get(enrollment.learner_id, [])
    facts = lifecycle_facts.facts_of(
        lifecycle_facts.enrollment_facts([enrollment.pk], names=True), enrollment.pk
    )
    evaluation = evaluate_enrollment(
        enrollment,
        events,
        as_of=moment,
        known_at=known_at,
        tree=tree,
        since=on_version_since(enrollment),
        facts=facts,
        equivalences=equivalences,
    )
    _, certification = packaging.lifecycle_rules([enrollment.version_id])[enrollment.version_id]
    state = rules.period_state(
        evaluation,
        initial_due=enrollment.due_at,
        extensions=facts.extensions,
        certification=certification,
        as_of=moment,
        known_at=known_at,
    )
    closed = enrollment.withdrawn_at or enrollment.superseded_at
    if closed is not None and closed <= moment and state.overdue_since is not None:
        # A closed period is no longer required: it is not overdue after it closed.
        state = rules.PeriodState(
            state.due_at,
            state.extension,
            None,
            state.completed_late,
            state.expires_at,
            state.window_opens_at,
            state.grace_ends_at,
        )
    return EnrollmentLifecycle(enrollment, evaluation, state, tuple(facts.extensions))


def package_standing(
    learner_id: int,
    package_id: int,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> tuple[rules.StandingResult | None, list[EnrollmentLifecycle]]:
    """Return a learner's standing in a package as of ``as_of`` (default now), as known at
    ``known_at``, over every certification period, and the periods themselves (oldest
    first). Withdrawn enrollments do not count once withdrawn."""
    moment = as_of or timezone.now()
    cutoff = moment if known_at is None else min(moment, known_at)
    enrollments = list(
        Enrollment.objects.filter(
            learner_id=learner_id, package_id=package_id, enrolled_at__lte=cutoff
        )
        .filter(Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gt=moment))
        .select_related("version", "package")
        .order_by("enrolled_at", "pk")
    )
    equivalences = lifecycle_facts.equivalence_facts(labels=True)
    periods = [
        enrollment_lifecycle(e, as_of=moment, known_at=known_at, equivalences=equivalences)
        for e in enrollments
    ]
    return rules.standing([p.view for p in periods], moment), periods


#: The standing filters of the per-package list, over the open periods' cached fields
#: as of ``now``: each maps to a condition (see ``_standing_q``).
STANDING_FILTERS = (
    "current",
    "due_for_recertification",
    "expiring",
    "overdue",
    "expired",
    "exempt",
    "in_progress",
    "not_started",
)


def _open_periods(package_id: int) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(
        package_id=package_id, withdrawn_at__isnull=True, superseded_at__isnull=True
    )


def _whole_exemption(now: datetime) -> Exists:
    """Return whether a period has a whole-enrollment exemption in force as of ``now``
    (revocations are effective from their recording, so none is in the future; an end
    is compared with ``now``: a lapse is derived here, at read time)."""
    return Exists(
        Exemption.objects.filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=now),
            enrollment_id=OuterRef("pk"),
            course__isnull=True,
            group__isnull=True,
            revocation__isnull=True,
        )
    )


def _per_version(
    field: str,
    rules_of: dict[int, rules.CertificationRule],
    test: Callable[[rules.CertificationRule], Q],
) -> Q:
    """Return OR over the versions with a validity of (``field`` = version & test(rule))."""
    found = Q(pk__in=[])
    for version_id, certification in rules_of.items():
        found |= Q(**{field: version_id}) & test(certification)
    return found


def _validity_rules(package_id: int) -> dict[int, rules.CertificationRule]:
    """Return the validity of each released version of the package that has one."""
    versions = packaging.versions_of_package(package_id)
    return {v: c for v, (_, c) in packaging.lifecycle_rules(versions).items() if c is not None}


def _standing_q(
    name: str,
    now: datetime,
    within: timedelta,
    package_id: int,
    rules_of: dict[int, rules.CertificationRule],
) -> Q:
    """Return the condition of one standing over an open period's cached fields as of
    ``now``: the same verdicts as ``rules.standing`` (a complete period by its own
    expiry, the version's window and grace; a later period not complete yet by its
    previous period's; a first period by its due date in force)."""
    days = timedelta(days=1)
    exempt = Q(_whole_exemption(now))
    done = Q(status="completed")
    later = Q(period_number__gt=1)
    if name == "exempt":
        return exempt
    if not rules_of:
        # No version of the package expires: only the first-period standings occur
        # (the same verdicts, with the never-true validity branches left out).
        if name == "current":
            return done & ~exempt
        if name == "overdue":
            return ~done & ~exempt & ~later & Q(overdue_since__lt=now)
        if name in ("due_for_recertification", "expired", "expiring"):
            return Q(pk__in=[])
    if name == "expiring":
        return done & ~exempt & Q(expires_at__gt=now, expires_at__lte=now + within)
    if name == "current":
        valid = _per_version(
            "version_id", rules_of, lambda c: Q(expires_at__gt=now + c.window_days * days)
        )
        return done & ~exempt & (Q(expires_at__isnull=True) | valid)
    if name == "due_for_recertification":
        own = _per_version(
            "version_id",
            rules_of,
            lambda c: Q(expires_at__gt=now, expires_at__lte=now + c.window_days * days),
        )
        return ~exempt & ((done & own) | (~done & later & Q(previous_period__expires_at__gt=now)))
    if name == "overdue":
        own = _per_version(
            "version_id",
            rules_of,
            lambda c: Q(expires_at__lte=now, expires_at__gt=now - c.grace_days * days),
        )
        previous = _per_version(
            "previous_period__version_id",
            rules_of,
            lambda c: Q(
                previous_period__expires_at__lte=now,
                previous_period__expires_at__gt=now - c.grace_days * days,
            ),
        )
        first = ~later & Q(overdue_since__lt=now)
        return ~exempt & ((done & own) | (~done & (previous | first)))
    if name == "expired":
        own = _per_version(
            "version_id", rules_of, lambda c: Q(expires_at__lte=now - c.grace_days * days)
        )
        previous = _per_version(
            "previous_period__version_id",
            rules_of,
            lambda c: Q(previous_period__expires_at__lte=now - c.grace_days * days),
        )
        return ~exempt & ((done & own) | (~done & later & previous))
    status = "in_progress" if name == "in_progress" else "not_started"
    not_overdue = Q(overdue_since__isnull=True) | Q(overdue_since__gte=now)
    return Q(status=status) & ~exempt & ~later & not_overdue


def standing_counts(
    package_id: int, *, now: datetime | None = None, expiring_within_days: int = 30
) -> dict[str, int]:
    """Return, for one package, how many open periods are in each standing as of now
    (one query; from the cached fields, which are exact as of now for every state that
    depends only on dates). ``expiring`` counts the current ones expiring within N days."""
    moment = now or timezone.now()
    within = timedelta(days=expiring_within_days)
    rules_of = _validity_rules(package_id)
    aggregates = {
        name: Count("pk", filter=_standing_q(name, moment, within, package_id, rules_of))
        for name in STANDING_FILTERS
    }
    counts = dict(_open_periods(package_id).aggregate(**aggregates))
    lapsed = _lapsed_periods(package_id, moment)
    if lapsed:
        # Their cached fields were right until an exemption ended: take away what the
        # cache says of them and count what the engine says as of now instead.
        stale = _open_periods(package_id).filter(pk__in=[e.pk for e in lapsed])
        for name, n in stale.aggregate(**aggregates).items():
            counts[name] -= n
        for e in lapsed:
            for name in _engine_standings(e, moment, within):
                counts[name] += 1
    return counts


def _lapsed_periods(package_id: int, now: datetime) -> list[Enrollment]:
    """Return the open periods whose cache counts an exemption that has ended by ``now``
    and that no write or settling has recomputed since (a small indexed query, usually
    empty)."""
    return list(
        _open_periods(package_id)
        .filter(exemption_lapses_at__lte=now)
        .select_related("learner", "version")
        .order_by("pk")
    )


def _engine_standings(enrollment: Enrollment, now: datetime, within: timedelta) -> list[str]:
    """Return the standing filters an open period falls under as of ``now``, from the
    engine (``package_standing``): what ``_standing_q`` says over a fresh cache."""
    result, periods = package_standing(enrollment.learner_id, enrollment.package_id, as_of=now)
    if result is None:
        return []
    names = [str(result.standing)]
    last = periods[-1] if periods else None
    if (
        result.standing in (rules.Standing.CURRENT, rules.Standing.DUE_FOR_RECERTIFICATION)
        and last is not None
        and last.enrollment.pk == enrollment.pk
        and last.evaluation.status == rules.EnrollmentStatus.COMPLETED
        and last.state.expires_at is not None
        and now < last.state.expires_at <= now + within
    ):
        names.append("expiring")
    return names


def standing_enrollments(
    package_id: int,
    standing: str,
    *,
    now: datetime | None = None,
    expiring_within_days: int = 30,
    search: str = "",
) -> QuerySet[Enrollment]:
    """Return the open periods of a package in one standing as of now, learners first by
    name; ``search`` filters by user name."""
    moment = now or timezone.now()
    within = timedelta(days=expiring_within_days)
    rows = _open_periods(package_id).filter(
        _standing_q(standing, moment, within, package_id, _validity_rules(package_id))
    )
    lapsed = _lapsed_periods(package_id, moment)
    if lapsed:
        # As in standing_counts: the engine, not the stale cache, places these.
        rows = rows.exclude(pk__in=[e.pk for e in lapsed]) | _open_periods(package_id).filter(
            pk__in=[e.pk for e in lapsed if standing in _engine_standings(e, moment, within)]
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
    periods = _open_periods(package_id).select_related("learner", "version")
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
