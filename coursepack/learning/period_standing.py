"""One learner's lifecycle in a package as of t, as known at r, from the engine: an
enrollment's dates and standing, and a package's periods (PRODUCT.md, "Compliance
lifecycle")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from coursepack import rules
from coursepack.learning import lifecycle_facts
from coursepack.learning.models import Enrollment
from coursepack.learning.selectors import evaluate_enrollment, events_by_learner, on_version_since
from coursepack.packaging import selectors as packaging

__all__ = [
    "EnrollmentLifecycle",
    "enrollment_lifecycle",
    "package_standing",
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
