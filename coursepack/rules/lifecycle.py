"""Due dates, extensions, validity and standing: the date-driven part of compliance.

Pure functions over frozen values, like ``evaluate``: given an enrollment's
evaluation as of t (as known at r) and its stored dates and extensions, say which
due date was in force, whether it was overdue or completed late, when the
completion expires, and — over the chain of certification periods of one learner
in one package — the learner's standing (PRODUCT.md, "Compliance lifecycle").
Nothing here needs a job to have run: every state that depends only on dates is
derived from the facts at the moment asked about.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from coursepack.rules.evaluate import EnrollmentStatus, Evaluation

__all__ = [
    "CertificationRule",
    "DueKind",
    "DueRule",
    "Extension",
    "PeriodState",
    "PeriodView",
    "Standing",
    "StandingResult",
    "due_in_force",
    "initial_due_at",
    "period_state",
    "standing",
]


class DueKind(StrEnum):
    """How a package version sets the due date of a new enrollment."""

    # N days after the enrolment moment.
    AFTER_ENROLMENT = "after_enrolment"
    # N days after the learner's hire date (the enrolment moment when it is unknown).
    AFTER_HIRE = "after_hire"
    # A fixed moment, the same for everyone.
    FIXED = "fixed"
    # No due date.
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class DueRule:
    """A version's due-date rule: ``days`` for the two relative kinds, ``fixed_at`` for FIXED."""

    kind: DueKind = DueKind.NEVER
    days: int | None = None
    fixed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CertificationRule:
    """A version's validity: a completion is valid ``valid_days``; the recertification
    window opens ``window_days`` before expiry; for ``grace_days`` after expiry the
    learner is overdue, not yet expired."""

    valid_days: int
    window_days: int = 0
    grace_days: int = 0


@dataclass(frozen=True, slots=True)
class Extension:
    """A new due date for one enrollment, in force from ``effective_at`` (its recording,
    for extensions made through the services)."""

    extension_id: int
    due_at: datetime
    effective_at: datetime
    recorded_at: datetime | None = None
    granted_by: str = ""
    reason: str = ""

    @property
    def known_from(self) -> datetime:
        """Return when the system learnt of the extension."""
        return self.effective_at if self.recorded_at is None else self.recorded_at


def initial_due_at(
    rule: DueRule, *, enrolled_at: datetime, hire_date: date | None
) -> datetime | None:
    """Return the due date a new enrollment gets from its version's rule.

    After a hire date the due moment is midnight UTC starting that day plus N days;
    a learner with no hire date is treated as hired on the enrolment moment.
    """
    if rule.kind == DueKind.NEVER:
        return None
    if rule.kind == DueKind.FIXED:
        return rule.fixed_at
    days = timedelta(days=rule.days or 0)
    if rule.kind == DueKind.AFTER_HIRE and hire_date is not None:
        return datetime.combine(hire_date, time(0, 0), tzinfo=UTC) + days
    return enrolled_at + days


def due_in_force(
    initial: datetime | None,
    extensions: Iterable[Extension],
    as_of: datetime | None,
    known_at: datetime | None = None,
) -> tuple[datetime | None, Extension | None]:
    """Return the due date in force as of ``as_of`` as known at ``known_at`` and the
    extension that set it (None: the date set at enrolment).

    It is the date of the latest extension in force by then (latest by effective
    moment, then id), else the initial one.
    """
    latest: Extension | None = None
    for extension in extensions:
        if as_of is not None and extension.effective_at > as_of:
            continue
        if known_at is not None and extension.known_from > known_at:
            continue
        if latest is None or (extension.effective_at, extension.extension_id) > (
            latest.effective_at,
            latest.extension_id,
        ):
            latest = extension
    return (initial if latest is None else latest.due_at), latest


@dataclass(frozen=True, slots=True)
class PeriodState:
    """One enrollment's dates as of t: due date in force, overdue, late, expiry."""

    due_at: datetime | None
    extension: Extension | None
    # Not complete at t and t after the due date in force at t: since that date.
    overdue_since: datetime | None
    # Completed after the due date in force at the completion moment.
    completed_late: bool
    expires_at: datetime | None
    window_opens_at: datetime | None
    grace_ends_at: datetime | None

    @property
    def overdue(self) -> bool:
        """Return whether the enrollment is overdue."""
        return self.overdue_since is not None


def period_state(
    evaluation: Evaluation,
    *,
    initial_due: datetime | None,
    extensions: Sequence[Extension] = (),
    certification: CertificationRule | None = None,
    as_of: datetime,
    known_at: datetime | None = None,
) -> PeriodState:
    """Return the dates of one enrollment as of ``as_of`` (as known at ``known_at``),
    given its evaluation on the same two timelines."""
    due_at, extension = due_in_force(initial_due, extensions, as_of, known_at)
    completed_at = evaluation.completed_at
    if evaluation.status == EnrollmentStatus.COMPLETED and completed_at is not None:
        overdue_since = None
        due_then, _ = due_in_force(initial_due, extensions, completed_at, known_at)
        # An exemption of the whole enrollment is not a completion: never "late".
        late = evaluation.exemption is None and due_then is not None and completed_at > due_then
    else:
        overdue_since = due_at if due_at is not None and as_of > due_at else None
        late = False
    expires_at = window = grace = None
    if certification is not None and completed_at is not None and evaluation.exemption is None:
        expires_at = completed_at + timedelta(days=certification.valid_days)
        window = expires_at - timedelta(days=certification.window_days)
        grace = expires_at + timedelta(days=certification.grace_days)
    return PeriodState(
        due_at=due_at,
        extension=extension,
        overdue_since=overdue_since,
        completed_late=late,
        expires_at=expires_at,
        window_opens_at=window,
        grace_ends_at=grace,
    )


class Standing(StrEnum):
    """Where a learner stands in a package as of t, over all certification periods."""

    # Complete and valid; ``until`` says until when (None: no expiry).
    CURRENT = "current"
    # Valid, but the recertification window has opened and the new period is not done.
    DUE_FOR_RECERTIFICATION = "due_for_recertification"
    # Past the due date in force (first period), or expired but within the grace period.
    OVERDUE = "overdue"
    # The last completion expired and the grace period is over.
    EXPIRED = "expired"
    # The whole enrollment is exempt.
    EXEMPT = "exempt"
    # Nothing counted yet in the period in force, and not overdue.
    NOT_STARTED = "not_started"
    # Something counted, not complete, not overdue.
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True, slots=True)
class PeriodView:
    """One certification period (an enrollment) evaluated as of t."""

    enrollment_id: int
    opened_at: datetime
    evaluation: Evaluation
    state: PeriodState


@dataclass(frozen=True, slots=True)
class StandingResult:
    """A learner's standing in a package as of t and the period that decides it."""

    standing: Standing
    # CURRENT / DUE_FOR_RECERTIFICATION: valid until; OVERDUE: overdue since; EXPIRED: since.
    until: datetime | None
    since: datetime | None
    period: PeriodView | None


def standing(periods: Sequence[PeriodView], as_of: datetime) -> StandingResult | None:
    """Return the standing as of ``as_of`` over a learner's periods in one package (any
    order); None if no period had opened by then.

    The latest period opened by ``as_of`` decides, with the latest completed period
    before it: a complete period is current until its window opens, then due for
    recertification until it expires, then overdue for the grace period, then
    expired — whether or not the next period has been created yet.
    """
    opened = sorted((p for p in periods if p.opened_at <= as_of), key=lambda p: p.opened_at)
    if not opened:
        return None
    last = opened[-1]
    if last.evaluation.exemption is not None:
        return StandingResult(Standing.EXEMPT, None, last.evaluation.exemption.effective_at, last)
    if last.evaluation.status == EnrollmentStatus.COMPLETED:
        return _by_validity(last, as_of)
    earlier = [p for p in opened[:-1] if p.evaluation.status == EnrollmentStatus.COMPLETED]
    if earlier and earlier[-1].state.expires_at is not None:
        previous = _by_validity(earlier[-1], as_of)
        if previous.standing != Standing.CURRENT:
            return StandingResult(previous.standing, previous.until, previous.since, last)
    if last.state.overdue_since is not None:
        return StandingResult(Standing.OVERDUE, None, last.state.overdue_since, last)
    status = last.evaluation.status
    kind = Standing.IN_PROGRESS if status == EnrollmentStatus.IN_PROGRESS else Standing.NOT_STARTED
    return StandingResult(kind, None, None, last)


def _by_validity(period: PeriodView, as_of: datetime) -> StandingResult:
    state = period.state
    if state.expires_at is None or state.window_opens_at is None or state.grace_ends_at is None:
        return StandingResult(Standing.CURRENT, None, period.evaluation.completed_at, period)
    if as_of < state.window_opens_at:
        return StandingResult(Standing.CURRENT, state.expires_at, None, period)
    if as_of < state.expires_at:
        return StandingResult(
            Standing.DUE_FOR_RECERTIFICATION, state.expires_at, state.window_opens_at, period
        )
    if as_of < state.grace_ends_at:
        return StandingResult(Standing.OVERDUE, None, state.expires_at, period)
    return StandingResult(Standing.EXPIRED, None, state.expires_at, period)
