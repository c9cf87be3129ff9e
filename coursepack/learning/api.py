"""The write path of enrollments and completion events.

Each public function is one transaction and appends to the audit log. Stored
enrollment statuses are a cache of the requirement engine: every write that can
change them recomputes them in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from coursepack import rules
from coursepack.accounts.models import Account
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.catalog.errors import CourseNotFound
from coursepack.catalog.models import Course
from coursepack.errors import InvalidInput
from coursepack.learning import lifecycle_facts, selectors
from coursepack.learning.errors import (
    AlreadyEnrolled,
    AlreadyWithdrawn,
    CannotVoid,
    EnrollmentNotFound,
    EventNotFound,
    IdempotencyConflict,
    LearnerNotFound,
    NoActiveVersion,
    VersionNotEnrollable,
)
from coursepack.learning.models import (
    CompletionEvent,
    Enrollment,
    EnrollmentMove,
    EventKind,
    EventSource,
)
from coursepack.packaging import selectors as packaging
from coursepack.packaging.errors import PackageNotFound, VersionNotFound
from coursepack.packaging.models import Package, PackageStatus, PackageVersion
from coursepack.validation import collecting

__all__ = [
    "LEARNERS_PER_BATCH",
    "BulkEnrollResult",
    "ImpactPreview",
    "ImportResult",
    "ImportedCompletion",
    "PolicyImpact",
    "RebuildReport",
    "RecordResult",
    "bulk_enroll",
    "count_inflight",
    "enroll",
    "import_completions",
    "late_horizon",
    "move_inflight",
    "move_inflight_chunk",
    "preview_publish",
    "rebuild_statuses",
    "record_completion",
    "recorded_late",
    "settle_lapsed_exemptions",
    "void_event",
    "withdraw",
]

InFlightPolicy = Literal["keep", "move_not_started", "move_in_progress"]

#: Which stored statuses each in-flight policy moves to the new version.
POLICY_MOVES: dict[str, tuple[str, ...]] = {
    "keep": (),
    "move_not_started": ("not_started",),
    # "Keeping their credit" needs nothing special: completion is a function of the
    # learner's events, which belong to the learner, not to the version.
    "move_in_progress": ("not_started", "in_progress"),
}

_CHUNK = 2000
#: The rebuild's batch: about 2,000 enrollments at five enrollments per learner.
LEARNERS_PER_BATCH = 400


def _user(actor: Actor) -> Any:
    return actor if actor is not None and actor.is_authenticated else None


def _chunks(values: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


#: An enrollment's cached fields (``_CACHE_FIELDS``) as one tuple.
_Cached = tuple[
    str,
    int,
    int,
    datetime | None,
    datetime | None,
    datetime | None,
    bool,
    datetime | None,
    datetime | None,
]


def _cached(
    summary: rules.StatusSummary,
    *,
    due_at: datetime | None = None,
    extensions: Iterable[rules.Extension] = (),
    certification: rules.CertificationRule | None = None,
    closed: bool = False,
    exempt: bool = False,
    lapses_at: datetime | None = None,
) -> _Cached:
    """Return a status summary and the enrollment's dates as its cached fields.

    As of now, as known now: the due date in force (latest extension); the moment the
    enrollment is overdue from while it is not complete (that date; none once it is
    complete, withdrawn or superseded by a next period); whether it was completed
    after the due date in force then; and when a completion expires (never for an
    exempt enrollment). The same values as ``rules.period_state``. ``lapses_at`` is the
    earliest end of an exemption counted: the values hold until then.
    """
    extensions = list(extensions)
    due_in_force, _ = rules.due_in_force(due_at, extensions, None)
    completed_at = summary.completed_at
    overdue_since = None
    late = False
    expires_at = None
    if summary.status == rules.EnrollmentStatus.COMPLETED and completed_at is not None:
        due_then, _ = rules.due_in_force(due_at, extensions, completed_at)
        # An exemption of the whole enrollment is not a completion: never "late".
        late = not exempt and due_then is not None and completed_at > due_then
        if certification is not None and not exempt:
            expires_at = completed_at + timedelta(days=certification.valid_days)
    elif not closed:
        overdue_since = due_in_force
    return (
        str(summary.status),
        summary.done,
        summary.needed,
        completed_at,
        due_in_force,
        overdue_since,
        late,
        expires_at,
        lapses_at,
    )


def _apply(enrollment: Enrollment, cached: _Cached) -> bool:
    """Copy cached values onto the enrollment's fields; return whether they changed."""
    old = tuple(getattr(enrollment, name) for name in _CACHE_FIELDS)
    if cached == old:
        return False
    for name, value in zip(_CACHE_FIELDS, cached, strict=True):
        setattr(enrollment, name, value)
    return True


_CACHE_FIELDS = [
    "status",
    "progress_done",
    "progress_needed",
    "completed_at",
    "due_in_force",
    "overdue_since",
    "completed_late",
    "expires_at",
    "exemption_lapses_at",
]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _status_snapshot(enrollment: Enrollment) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "version": enrollment.version_id,
        "status": enrollment.status,
        "progress": f"{enrollment.progress_done}/{enrollment.progress_needed}",
        "completed_at": _iso(enrollment.completed_at),
    }
    # Lifecycle fields only when they say something, so records without them read as before.
    for name in ("due_in_force", "overdue_since", "expires_at"):
        value = getattr(enrollment, name)
        if value is not None:
            snapshot[name] = value.isoformat()
    if enrollment.completed_late:
        snapshot["completed_late"] = True
    return snapshot


def _lock_learner(learner_id: int) -> Any:
    """Lock the learner's row: every write about one learner is serialised on it."""
    User = get_user_model()
    try:
        return User.objects.select_for_update().get(pk=learner_id)
    except User.DoesNotExist:
        raise LearnerNotFound(f"There is no learner with id {learner_id}.") from None


def _hire_dates(learner_ids: Iterable[int]) -> dict[int, date]:
    """Return the known hire dates of these learners (one query)."""
    rows = (
        Account.objects.filter(user_id__in=list(learner_ids), hire_date__isnull=False)
        .values_list("user_id", "hire_date")
        .order_by()
    )
    return {user_id: hired for user_id, hired in rows if hired is not None}


def _new_enrollment_cache(
    enrollment: Enrollment, certification: rules.CertificationRule | None
) -> _Cached:
    """Return the cached fields of an enrollment being created (it has no lifecycle facts
    of its own yet; a certification period counts from its window's opening)."""
    equivalences = lifecycle_facts.equivalence_facts()
    rule = packaging.status_rule(enrollment.version_id)
    courses = set(rule.course_ids) | equivalences.sources_for(rule.course_ids)
    events = selectors.event_rows_by_learner([enrollment.learner_id], courses)
    facts = rules.course_facts_from_rows(
        events.get(enrollment.learner_id, []),
        counts_from=enrollment.counts_from,
        equivalences=equivalences.equivalences,
        equivalence_changes=equivalences.changes,
    )
    return _cached(
        rule.summarize(facts, enrollment.enrolled_at),
        due_at=enrollment.due_at,
        certification=certification,
    )


def _enrollable_version(package: Package, version_id: int | None, now: datetime) -> PackageVersion:
    if package.status == PackageStatus.RETIRED:
        raise VersionNotEnrollable(
            f"Package {package.name!r} is retired and takes no new enrollments; "
            "reinstate it or choose another package."
        )
    active = packaging.active_version(package.pk, now)
    if version_id is not None and (active is None or version_id != active.pk):
        asked = PackageVersion.objects.filter(pk=version_id, package=package).first()
        if asked is None:
            raise VersionNotFound(f"Package {package.name!r} has no version with id {version_id}.")
        state = packaging.version_state(asked, active_id=active.pk if active else None, now=now)
        instead = (
            f"learners can only enrol in the active version, {active.version_number}."
            if active is not None
            else "publish it (or wait for the scheduled version to take effect) first."
        )
        raise VersionNotEnrollable(f"Version {asked.version_number} is {state}; {instead}")
    if active is None:
        raise NoActiveVersion(
            f"Package {package.name!r} has no published version in effect yet; publish a "
            "version (or wait for the scheduled one) before enrolling learners."
        )
    return active


def _lock_package(package_id: int) -> Package:
    try:
        return Package.objects.select_for_update().get(pk=package_id)
    except Package.DoesNotExist:
        raise PackageNotFound(f"There is no package with id {package_id}.") from None


def enroll(
    *,
    actor: Actor,
    learner_id: int,
    package_id: int,
    version_id: int | None = None,
    notes: str = "",
) -> Enrollment:
    """Enrol a learner in the package's active version, pinned to it from now on.

    ``version_id``, when given, must be that active version: an integration that
    thinks it enrols in a particular version is told if it is no longer the one.
    """
    with transaction.atomic():
        package = _lock_package(package_id)
        audit.lock_chain()
        learner = _lock_learner(learner_id)
        now = timezone.now()
        version = _enrollable_version(package, version_id, now)
        existing = (
            Enrollment.objects.filter(learner=learner, package=package, withdrawn_at__isnull=True)
            .values_list("pk", flat=True)
            .first()
        )
        if existing is not None:
            raise AlreadyEnrolled(
                f"{learner.get_username()} is already enrolled in {package.name!r}; "
                "withdraw that enrollment first to enrol again.",
                existing_id=existing,
            )
        due_rule, certification = packaging.lifecycle_rules([version.pk])[version.pk]
        due_at = rules.initial_due_at(
            due_rule, enrolled_at=now, hire_date=_hire_dates([learner.pk]).get(learner.pk)
        )
        enrollment = Enrollment(
            learner=learner,
            package=package,
            version=version,
            enrolled_at=now,
            enrolled_by=_user(actor),
            due_at=due_at,
        )
        _apply(enrollment, _new_enrollment_cache(enrollment, certification))
        try:
            with transaction.atomic():
                enrollment.save()
        except IntegrityError:
            raise AlreadyEnrolled(
                f"{learner.get_username()} is already enrolled in {package.name!r}."
            ) from None
        audit.record(
            actor=actor,
            action="enrollment.created",
            target=enrollment,
            at=now,
            after=_status_snapshot(enrollment),
            notes=notes,
            package_id=package.pk,
        )
    return enrollment


@dataclass
class BulkEnrollResult:
    """What a bulk enrolment did."""

    version: PackageVersion
    enrolled: int = 0
    already_enrolled: list[int] = field(default_factory=list)
    unknown_learners: list[int] = field(default_factory=list)


def bulk_enroll(
    *,
    actor: Actor,
    package_id: int,
    learner_ids: Iterable[int],
    notes: str = "",
    progress: Callable[[int], None] | None = None,
    chunk_size: int = _CHUNK,
    enrolled_at: Mapping[int, datetime] | None = None,
) -> BulkEnrollResult:
    """Enrol many learners in the package's active version in one transaction.

    Learners are read in chunks from ``learner_ids`` (any iterable, so a file can
    be streamed); those already enrolled or unknown are reported, not errors.
    ``progress`` is called with the number of learners handled in each chunk.
    ``enrolled_at`` keeps, per learner id, the moment they were really enrolled
    (a migration from another system); learners not in it are enrolled now.
    """
    User = get_user_model()
    if enrolled_at:
        with collecting("The learners cannot be enrolled.") as problems:
            limit = timezone.now()
            for learner_id, moment in enrolled_at.items():
                if timezone.is_naive(moment) or moment > limit:
                    problems.add(
                        "enrolled_at",
                        f"learner {learner_id}: must include a time zone and not be in the future",
                    )
                    break
    with transaction.atomic():
        package = _lock_package(package_id)
        audit.lock_chain()
        now = timezone.now()
        version = _enrollable_version(package, None, now)
        rule = packaging.status_rule(version.pk)
        due_rule, certification = packaging.lifecycle_rules([version.pk])[version.pk]
        equivalences = lifecycle_facts.equivalence_facts()
        courses = set(rule.course_ids) | equivalences.sources_for(rule.course_ids)
        result = BulkEnrollResult(version=version)
        enrolled_by = getattr(_user(actor), "pk", None)
        seen: set[int] = set()
        enrolled_ids: list[int] = []
        for chunk in _chunks(learner_ids, chunk_size):
            wanted = [i for i in dict.fromkeys(chunk) if i not in seen]
            seen.update(wanted)
            # Lock the learners (in id order, as every bulk write does) so that a
            # completion recorded for one of them meanwhile waits and is counted.
            known = set(
                User.objects.select_for_update()
                .filter(pk__in=wanted)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            taken = set(
                Enrollment.objects.filter(
                    package=package, learner_id__in=wanted, withdrawn_at__isnull=True
                ).values_list("learner_id", flat=True)
            )
            events = selectors.event_rows_by_learner(known - taken, courses)
            hired = _hire_dates(known - taken)
            rows = []
            for learner_id in wanted:
                if learner_id not in known:
                    result.unknown_learners.append(learner_id)
                elif learner_id in taken:
                    result.already_enrolled.append(learner_id)
                else:
                    # Ids, not instances: the relation descriptors cost at 100k rows.
                    enrollment = Enrollment(
                        learner_id=learner_id,
                        package_id=package.pk,
                        version_id=version.pk,
                        enrolled_at=enrolled_at.get(learner_id, now) if enrolled_at else now,
                        enrolled_by_id=enrolled_by,
                    )
                    enrollment.due_at = rules.initial_due_at(
                        due_rule,
                        enrolled_at=enrollment.enrolled_at,
                        hire_date=hired.get(learner_id),
                    )
                    facts = rules.course_facts_from_rows(
                        events.get(learner_id, []),
                        equivalences=equivalences.equivalences,
                        equivalence_changes=equivalences.changes,
                    )
                    _apply(
                        enrollment,
                        _cached(
                            rule.summarize(facts, enrollment.enrolled_at),
                            due_at=enrollment.due_at,
                            certification=certification,
                        ),
                    )
                    rows.append(enrollment)
                    enrolled_ids.append(learner_id)
            Enrollment.objects.bulk_create(rows, batch_size=1000)
            result.enrolled += len(rows)
            if progress is not None:
                progress(len(chunk))
        audit.record(
            actor=actor,
            action="enrollment.bulk_created",
            target=package,
            at=now,
            after={
                "version": version.pk,
                "enrolled": result.enrolled,
                "learners": enrolled_ids,
                "already_enrolled": result.already_enrolled,
                "unknown_learners": result.unknown_learners,
            },
            notes=notes,
            package_id=package.pk,
        )
    return result


def withdraw(*, actor: Actor, enrollment_id: int, notes: str = "") -> Enrollment:
    """Withdraw an enrollment; its record is kept, and its status is from now on what the
    learner had as of the withdrawal, as known now (a completion dated before the
    withdrawal and recorded after it still counts)."""
    with transaction.atomic():
        try:
            learner_id = Enrollment.objects.values_list("learner_id", flat=True).get(
                pk=enrollment_id
            )
        except Enrollment.DoesNotExist:
            raise EnrollmentNotFound(f"There is no enrollment with id {enrollment_id}.") from None
        audit.lock_chain()
        _lock_learner(learner_id)
        enrollment = Enrollment.objects.get(pk=enrollment_id)
        if enrollment.withdrawn_at is not None:
            raise AlreadyWithdrawn(
                f"Enrollment {enrollment_id} was already withdrawn on "
                f"{enrollment.withdrawn_at:%Y-%m-%d %H:%M}."
            )
        now = timezone.now()
        before = _status_snapshot(enrollment)
        enrollment.withdrawn_at = now
        enrollment.withdrawn_by = _user(actor)
        _refresh([enrollment])
        enrollment.save()
        audit.record(
            actor=actor,
            action="enrollment.withdrawn",
            target=enrollment,
            at=now,
            before=before,
            after={**_status_snapshot(enrollment), "withdrawn_at": now.isoformat()},
            notes=notes,
            package_id=enrollment.package_id,
        )
    return enrollment


#: What an enrollment's cached fields are computed from: (id, learner, version,
#: withdrawn_at, enrolled_at, superseded_at, counts_from, due_at).
_Key = tuple[
    int, int, int, datetime | None, datetime, datetime | None, datetime | None, datetime | None
]


def _key(e: Enrollment) -> _Key:
    return (
        e.pk,
        e.learner_id,
        e.version_id,
        e.withdrawn_at,
        e.enrolled_at,
        e.superseded_at,
        e.counts_from,
        e.due_at,
    )


@dataclass(frozen=True)
class _Lifecycle:
    """The lifecycle facts a batch of enrollments' cached fields depend on."""

    facts: dict[int, lifecycle_facts.EnrollmentFacts]
    equivalences: lifecycle_facts.EquivalenceFacts


def _lifecycle(
    enrollment_ids: Iterable[int], equivalences: lifecycle_facts.EquivalenceFacts | None = None
) -> _Lifecycle:
    return _Lifecycle(
        lifecycle_facts.enrollment_facts(enrollment_ids),
        lifecycle_facts.equivalence_facts() if equivalences is None else equivalences,
    )


def _summaries(
    enrollments: Iterable[_Key],
    events: dict[int, list[rules.EventRow]],
    moved: dict[int, datetime],
    lifecycle: _Lifecycle,
    *,
    now: datetime | None = None,
    moments: Mapping[int, datetime] | None = None,
) -> Iterator[_Cached]:
    """Compute the cached fields of each enrollment from the learners' event rows, the
    enrollments' last moves (``moved``) and their lifecycle facts; each learner's facts
    are gathered once for all enrollments that count every event.

    The cache is "as of now, as known now", except that a withdrawn enrollment, or a
    certification period superseded by the next one, keeps what the learner had as of
    then (as known now); a period counts only events from its window's opening
    (``counts_from``). ``completed_at`` is never before the enrollment got onto its
    version (enrolment or last move). "Now" is ``now`` (default: the clock), or per
    enrollment its entry in ``moments``: it decides which exemptions have lapsed.
    """
    keys = list(enrollments)
    now = now or timezone.now()
    moments = moments or {}
    status_rules: dict[int, rules.StatusRule] = {}
    version_rules = packaging.lifecycle_rules({k[2] for k in keys})
    facts: dict[int, rules.CourseFacts] = {}
    eq = lifecycle.equivalences
    for key in keys:
        enrollment_id, learner_id, version_id, withdrawn_at, enrolled_at = key[:5]
        superseded_at, counts_from, due_at = key[5:]
        rule = status_rules.get(version_id)
        if rule is None:
            # Once per call: the rule cache only learns a version once its publish
            # has committed, so inside that publish every lookup would load it again.
            rule = status_rules[version_id] = packaging.status_rule(version_id)
        since = enrolled_at
        last_move = moved.get(enrollment_id)
        if last_move is not None and last_move > since:
            since = last_move
        closed_at = withdrawn_at
        if superseded_at is not None and (closed_at is None or superseded_at < closed_at):
            closed_at = superseded_at
        if closed_at is not None or counts_from is not None:
            course_facts = rules.course_facts_from_rows(
                events.get(learner_id, ()),
                closed_at,
                counts_from=counts_from,
                equivalences=eq.equivalences,
                equivalence_changes=eq.changes,
            )
        else:
            learner_facts = facts.get(learner_id)
            if learner_facts is None:
                learner_facts = facts[learner_id] = rules.course_facts_from_rows(
                    events.get(learner_id, ()),
                    equivalences=eq.equivalences,
                    equivalence_changes=eq.changes,
                )
            course_facts = learner_facts
        mine = lifecycle_facts.facts_of(lifecycle.facts, enrollment_id)
        exempt: Mapping[rules.ExemptionKey, rules.Exemption] = {}
        lapses_at = None
        if mine.exemptions:
            # A closed period keeps what it had when it closed: no later end matters.
            at = closed_at or moments.get(enrollment_id, now)
            exempt = rules.exemptions_in_force(mine.exemptions, mine.revocations, at, None)
            if closed_at is None:
                lapses_at = rules.next_lapse(exempt, at)
        yield _cached(
            rule.summarize(course_facts, since, exempt),
            due_at=due_at,
            extensions=mine.extensions,
            certification=version_rules[version_id][1],
            closed=closed_at is not None,
            exempt=("package", 0) in exempt,
            lapses_at=lapses_at,
        )


def _refresh(
    enrollments: list[Enrollment], course_ids: Iterable[int] | None = None
) -> list[Enrollment]:
    """Recompute enrollments' cached fields in memory; return those that changed.

    ``course_ids``, when the caller knows every course of the enrollments' versions,
    limits the events read to those courses (and the courses equivalent to them).
    """
    lifecycle = _lifecycle(e.pk for e in enrollments)
    if course_ids is not None:
        course_ids = set(course_ids)
        course_ids |= lifecycle.equivalences.sources_for(course_ids)
    events = selectors.event_rows_by_learner({e.learner_id for e in enrollments}, course_ids)
    keys = [_key(e) for e in enrollments]
    summaries = list(_summaries(keys, events, {}, lifecycle))
    # A move matters only to a completion (completed_at is never before it): read the
    # moves of the completed enrollments alone, so a write that completes nothing
    # costs no extra query.
    completed = [
        key
        for key, summary in zip(keys, summaries, strict=True)
        if summary[0] == rules.EnrollmentStatus.COMPLETED
    ]
    if completed:
        moved = selectors.latest_moves(key[0] for key in completed)
        if moved:
            again = iter(
                _summaries([k for k in completed if k[0] in moved], events, moved, lifecycle)
            )
            summaries = [
                next(again) if key[0] in moved else summary
                for key, summary in zip(keys, summaries, strict=True)
            ]
    return [
        enrollment
        for enrollment, summary in zip(enrollments, summaries, strict=True)
        if _apply(enrollment, summary)
    ]


def _store(changed: list[Enrollment]) -> None:
    """Write the cached fields of changed enrollments (one statement)."""
    if len(changed) == 1:
        # The usual case of a completion; cheaper than bulk_update's CASE expressions.
        (enrollment,) = changed
        Enrollment.objects.filter(pk=enrollment.pk).update(
            **{name: getattr(enrollment, name) for name in _CACHE_FIELDS}
        )
    elif changed:
        Enrollment.objects.bulk_update(changed, _CACHE_FIELDS, batch_size=1000)


def _affected(learner_id: int, course_id: int) -> list[Enrollment]:
    """Return the learner's enrollments whose pinned version contains the course, or a
    course it is equivalent to."""
    candidates = list(Enrollment.objects.filter(learner_id=learner_id))
    courses = {course_id} | lifecycle_facts.equivalence_facts().targets_of(course_id)
    return [
        e for e in candidates if not courses.isdisjoint(packaging.version_course_ids(e.version_id))
    ]


def _update_statuses(
    *, actor: Actor, learner_id: int, course_id: int, now: datetime, cause: str
) -> list[audit.Entry]:
    """Recompute the learner's enrollments that contain the course; store those that
    changed and return the audit records that say so (for the caller to append)."""
    affected = _affected(learner_id, course_id)
    if not affected:
        return []
    befores = {e.pk: _status_snapshot(e) for e in affected}
    courses: set[int] = set()
    for enrollment in affected:
        courses |= packaging.version_course_ids(enrollment.version_id)
    changed = _refresh(affected, courses)
    _store(changed)
    return [
        audit.Entry(
            actor=actor,
            action="enrollment.status_changed",
            target=enrollment,
            at=now,
            before=befores[enrollment.pk],
            after=_status_snapshot(enrollment),
            notes=cause,
            package_id=enrollment.package_id,
        )
        for enrollment in changed
    ]


@dataclass(frozen=True)
class RecordResult:
    """The event stored (or found, for a repeated external id) and what it changed."""

    event: CompletionEvent
    created: bool
    enrollments_changed: int


_RECORDABLE = (EventKind.COMPLETED, EventKind.PASSED, EventKind.FAILED)


def late_horizon() -> timedelta:
    """Return how long after it occurred a completion may be recorded without a reason."""
    return timedelta(days=getattr(settings, "COMPLETION_LATE_HORIZON_DAYS", 365))


def recorded_late(event: CompletionEvent) -> bool:
    """Return whether ``event`` was recorded later than the horizon after it occurred."""
    return event.recorded_at - event.occurred_at > late_horizon()


def record_completion(
    *,
    actor: Actor,
    learner_id: int,
    course_id: int,
    kind: str = EventKind.COMPLETED,
    occurred_at: datetime | None = None,
    source: str = EventSource.MANUAL,
    external_id: str | None = None,
    evidence_note: str = "",
    late_reason: str = "",
) -> RecordResult:
    """Record that a learner completed, passed or failed a course.

    A completion that occurred more than ``COMPLETION_LATE_HORIZON_DAYS`` (default
    365) before it is recorded needs a ``late_reason``: it changes reports for
    periods that may already have been read.

    Recording the same ``external_id`` again with the same facts changes nothing
    and returns the stored event; with different facts it is refused. Every
    enrollment of the learner whose version contains the course is re-evaluated
    in the same transaction.
    """
    with collecting("The completion cannot be recorded.") as problems:
        if kind not in [k.value for k in _RECORDABLE]:
            problems.add("kind", "must be completed, passed or failed (use void_event to void)")
        if source not in EventSource.values:
            problems.add("source", f"must be one of {', '.join(EventSource.values)}")
        if external_id is not None:
            external_id = problems.text("external_id", external_id, max_length=255)
        evidence_note = problems.text(
            "evidence_note", evidence_note, max_length=20_000, required=False
        )
        late_reason = problems.text("late_reason", late_reason, max_length=20_000, required=False)
        now = timezone.now()
        if occurred_at is not None:
            if timezone.is_naive(occurred_at):
                problems.add("occurred_at", "must include a time zone")
            elif occurred_at > now:
                problems.add("occurred_at", "cannot be in the future")
            elif now - occurred_at > late_horizon() and not late_reason:
                problems.add(
                    "late_reason",
                    f"is required: the completion occurred more than {late_horizon().days} "
                    "days before it is recorded; say why it is recorded this late",
                )
    when = occurred_at or now
    with transaction.atomic():
        chain = audit.lock_chain()
        learner = _lock_learner(learner_id)
        if external_id is not None:
            existing = CompletionEvent.objects.filter(external_id=external_id).first()
            if existing is not None:
                same = (
                    existing.learner_id == learner.pk
                    and existing.course_id == course_id
                    and existing.kind == kind
                    and (occurred_at is None or existing.occurred_at == occurred_at)
                )
                if not same:
                    raise IdempotencyConflict(
                        f"External id {external_id!r} was already used for another event "
                        f"(event {existing.pk}); use a new id for a new event."
                    )
                return RecordResult(event=existing, created=False, enrollments_changed=0)
        if not Course.objects.filter(pk=course_id).exists():
            raise CourseNotFound(f"There is no course with id {course_id}.")
        event = CompletionEvent.objects.create(
            learner=learner,
            course_id=course_id,
            kind=kind,
            occurred_at=when,
            recorded_at=now,
            recorded_by=_user(actor),
            source=source,
            external_id=external_id,
            evidence_note=evidence_note,
            late_reason=late_reason,
        )
        recorded = audit.Entry(
            actor=actor,
            action="completion.recorded",
            target=event,
            at=now,
            after={
                "learner": learner.pk,
                "course": course_id,
                "kind": kind,
                "occurred_at": when.isoformat(),
                "source": source,
                "external_id": external_id,
                **({"late_reason": late_reason} if late_reason else {}),
            },
            notes=evidence_note,
        )
        changes = _update_statuses(
            actor=actor,
            learner_id=learner.pk,
            course_id=course_id,
            now=now,
            cause=f"completion event {event.pk}",
        )
        audit.record_all([recorded, *changes], head=chain)
    return RecordResult(event=event, created=True, enrollments_changed=len(changes))


@dataclass(frozen=True)
class ImportedCompletion:
    """One completion recorded by another system, to import as an event."""

    learner_id: int
    course_id: int
    kind: str
    occurred_at: datetime
    # The other system's key for the record: importing it again changes nothing.
    external_id: str
    evidence_note: str = ""


@dataclass
class ImportResult:
    """What an import of completions did."""

    created: int = 0
    already_recorded: int = 0
    enrollments_changed: int = 0


def _check_imported(problems: Any, chunk: list[ImportedCompletion], now: datetime) -> None:
    for c in chunk:
        where = f"completion {c.external_id!r}"
        if c.kind not in _RECORDABLE:
            problems.add("kind", f"{where}: must be completed, passed or failed")
        if not isinstance(c.external_id, str) or not c.external_id or len(c.external_id) > 255:
            problems.add("external_id", f"{where}: must be 1 to 255 characters")
        elif "\x00" in c.external_id or "\x00" in c.evidence_note:
            problems.add("external_id", f"{where}: must not contain NUL characters")
        if timezone.is_naive(c.occurred_at):
            problems.add("occurred_at", f"{where}: must include a time zone")
        elif c.occurred_at > now:
            problems.add("occurred_at", f"{where}: cannot be in the future")


_EVENT_COLUMNS = (
    "learner_id",
    "course_id",
    "kind",
    "occurred_at",
    "recorded_at",
    "recorded_by_id",
    "source",
    "external_id",
    "evidence_note",
    "late_reason",
)


def _insert_events(rows: list[tuple[Any, ...]]) -> None:
    """Insert checked event rows (in ``_EVENT_COLUMNS`` order): COPY on PostgreSQL, one
    round trip for the whole chunk instead of a parameter-bound INSERT per thousand."""
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        table = quote(CompletionEvent._meta.db_table)
        columns = ", ".join(quote(c) for c in _EVENT_COLUMNS)
        with connection.cursor() as cursor:
            raw: Any = cursor.cursor
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    CompletionEvent.objects.bulk_create(
        (CompletionEvent(**dict(zip(_EVENT_COLUMNS, row, strict=True))) for row in rows),
        batch_size=1000,
    )


def import_completions(
    *,
    actor: Actor,
    completions: Iterable[ImportedCompletion],
    source: str = EventSource.IMPORT,
    notes: str = "",
    progress: Callable[[int], None] | None = None,
    chunk_size: int = _CHUNK,
) -> ImportResult:
    """Record many completions from another system in one transaction.

    The bulk form of ``record_completion`` for migrations and file uploads:
    completions are streamed in chunks, each checked before it is written. A
    completion whose external id is already recorded with the same facts is
    skipped (so a repeated import writes nothing); with other facts the whole
    import is refused. The enrollments of the learners concerned are re-evaluated
    at the end, and one audit record says what was imported.
    """
    with collecting("The completions cannot be imported.") as problems:
        if source not in EventSource.values:
            problems.add("source", f"must be one of {', '.join(EventSource.values)}")
        notes = problems.text("notes", notes, max_length=20_000, required=False)
    User = get_user_model()
    result = ImportResult()
    learners: set[int] = set()
    last_key: str | None = None
    with transaction.atomic():
        chain = audit.lock_chain()
        now = timezone.now()
        recorded_by = getattr(_user(actor), "pk", None)
        iterator = iter(completions)
        while chunk := list(islice(iterator, chunk_size)):
            with collecting("The completions cannot be imported.") as problems:
                _check_imported(problems, chunk, now)
            keys = [c.external_id for c in chunk]
            existing = {
                row[0]: row[1:]
                for row in CompletionEvent.objects.filter(
                    selectors.external_ids_in(keys)
                ).values_list("external_id", "learner_id", "course_id", "kind", "occurred_at")
            }
            wanted = sorted({c.learner_id for c in chunk})
            known = set(
                User.objects.select_for_update()
                .filter(pk__in=wanted)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            courses = set(
                Course.objects.filter(pk__in={c.course_id for c in chunk}).values_list(
                    "pk", flat=True
                )
            )
            rows: list[tuple[Any, ...]] = []
            for c in chunk:
                facts = (c.learner_id, c.course_id, c.kind, c.occurred_at)
                if c.external_id in existing:
                    if existing[c.external_id] != facts:
                        raise IdempotencyConflict(
                            f"External id {c.external_id!r} was already used for another event; "
                            "use a new id for a new event."
                        )
                    result.already_recorded += 1
                    continue
                if c.learner_id not in known:
                    raise LearnerNotFound(f"There is no learner with id {c.learner_id}.")
                if c.course_id not in courses:
                    raise CourseNotFound(f"There is no course with id {c.course_id}.")
                existing[c.external_id] = facts
                rows.append(
                    (
                        c.learner_id,
                        c.course_id,
                        c.kind,
                        c.occurred_at,
                        now,
                        recorded_by,
                        source,
                        c.external_id,
                        c.evidence_note,
                        "",
                    )
                )
                learners.add(c.learner_id)
            if rows:
                _insert_events(rows)
                result.created += len(rows)
                last_key = rows[-1][7]
            if progress is not None:
                progress(len(chunk))
        if last_key is None:
            return result
        last = CompletionEvent.objects.get(external_id=last_key)
        entries = [
            audit.Entry(
                actor=actor,
                action="completion.imported",
                target=last,
                at=now,
                after={
                    "created": result.created,
                    "already_recorded": result.already_recorded,
                    "source": source,
                },
                notes=notes,
            )
        ]
        for chunk_ids in _chunks(sorted(learners), _CHUNK):
            affected = list(Enrollment.objects.filter(learner_id__in=chunk_ids).order_by("pk"))
            if not affected:
                continue
            befores = {e.pk: _status_snapshot(e) for e in affected}
            changed = _refresh(affected)
            _store(changed)
            entries.extend(
                audit.Entry(
                    actor=actor,
                    action="enrollment.status_changed",
                    target=e,
                    at=now,
                    before=befores[e.pk],
                    after=_status_snapshot(e),
                    notes="imported completions",
                    package_id=e.package_id,
                )
                for e in changed
            )
            result.enrollments_changed += len(changed)
        audit.record_all(entries, head=chain)
    return result


def void_event(*, actor: Actor, event_id: int, reason: str) -> RecordResult:
    """Void a completion event: a new event corrects the record.

    The voided event stays on the record. As known from now on it never happened,
    at any moment; answers as known before the void (``known_at`` earlier than
    now) still count it.
    """
    with collecting("The event cannot be voided.") as problems:
        reason = problems.text("reason", reason, max_length=20_000)
    with transaction.atomic():
        try:
            learner_id = CompletionEvent.objects.values_list("learner_id", flat=True).get(
                pk=event_id
            )
        except CompletionEvent.DoesNotExist:
            raise EventNotFound(f"There is no completion event with id {event_id}.") from None
        chain = audit.lock_chain()
        _lock_learner(learner_id)
        target = CompletionEvent.objects.get(pk=event_id)
        if target.kind == EventKind.VOID:
            raise CannotVoid(f"Event {event_id} is itself a void; record a new completion instead.")
        if CompletionEvent.objects.filter(voids=target).exists():
            raise CannotVoid(f"Event {event_id} is already voided.")
        now = timezone.now()
        void = CompletionEvent.objects.create(
            learner_id=learner_id,
            course_id=target.course_id,
            kind=EventKind.VOID,
            occurred_at=now,
            recorded_at=now,
            recorded_by=_user(actor),
            source=EventSource.MANUAL,
            evidence_note=reason,
            voids=target,
        )
        voided = audit.Entry(
            actor=actor,
            action="completion.voided",
            target=target,
            at=now,
            after={"void_event": void.pk},
            notes=reason,
            # The void is a completion event too: bound here, so it is on the record.
            binds=(void,),
        )
        changes = _update_statuses(
            actor=actor,
            learner_id=learner_id,
            course_id=target.course_id,
            now=now,
            cause=f"void of event {event_id}",
        )
        audit.record_all([voided, *changes], head=chain)
    return RecordResult(event=void, created=True, enrollments_changed=len(changes))


# --- publishing and in-flight learners --------------------------------------------


@dataclass(frozen=True)
class PolicyImpact:
    """What one in-flight policy would do to the enrollments on the current version."""

    policy: str
    moves: int
    gain_completion: int
    lose_completion: int
    further_from_completion: int


@dataclass(frozen=True)
class ImpactPreview:
    """The impact of publishing a draft, per in-flight policy, before confirming."""

    current_version: PackageVersion | None
    open_enrollments: int
    by_status: dict[str, int]
    policies: list[PolicyImpact]


def _remaining(done: int, needed: int) -> int:
    return max(0, needed - done)


def preview_publish(*, version_id: int) -> ImpactPreview:
    """Say, for each in-flight policy, how many enrollments it moves and how their
    completion would change, were the draft published now. Writes nothing."""
    draft = packaging.get_version(version_id)
    now = timezone.now()
    current = packaging.active_version(draft.package_id, now)
    if current is None:
        return ImpactPreview(None, 0, {}, [PolicyImpact(p, 0, 0, 0, 0) for p in POLICY_MOVES])
    open_enrollments = Enrollment.objects.filter(
        version=current, withdrawn_at__isnull=True, superseded_at__isnull=True
    )
    by_status: dict[str, int] = {
        row["status"]: row["n"]
        for row in open_enrollments.values("status").annotate(n=Count("id")).order_by()
    }
    rule = packaging.status_rule(draft.pk)
    movable = open_enrollments.filter(status__in=POLICY_MOVES["move_in_progress"])
    outcomes: dict[str, list[tuple[bool, bool, bool]]] = {
        s: [] for s in POLICY_MOVES["move_in_progress"]
    }
    for chunk in _chunks(movable.values_list("pk", flat=True).iterator(chunk_size=5000), _CHUNK):
        rows = list(Enrollment.objects.filter(pk__in=chunk))
        events = selectors.event_rows_by_learner([e.learner_id for e in rows], rule.course_ids)
        for enrollment in rows:
            # Were they moved now, they would be on the new version from now on.
            summary = rule.summarize(
                rules.course_facts_from_rows(events.get(enrollment.learner_id, [])), now
            )
            was_complete = enrollment.status == "completed"
            now_complete = summary.status == rules.EnrollmentStatus.COMPLETED
            # Further from completion means more work left, not a smaller fraction:
            # an item becoming optional turns 1/3 into 0/2 with the same two left.
            further = _remaining(summary.done, summary.needed) > _remaining(
                enrollment.progress_done, enrollment.progress_needed
            )
            outcomes[enrollment.status].append(
                (now_complete and not was_complete, was_complete and not now_complete, further)
            )
    impacts = []
    for policy, statuses in POLICY_MOVES.items():
        picked = [o for s in statuses for o in outcomes.get(s, [])]
        impacts.append(
            PolicyImpact(
                policy=policy,
                moves=len(picked),
                gain_completion=sum(o[0] for o in picked),
                lose_completion=sum(o[1] for o in picked),
                further_from_completion=sum(o[2] for o in picked),
            )
        )
    return ImpactPreview(current, sum(by_status.values()), by_status, impacts)


def move_inflight(
    *,
    actor: Actor,
    from_version: PackageVersion,
    to_version: PackageVersion,
    policy: InFlightPolicy,
    at: datetime,
) -> int:
    """Move open enrollments on ``from_version`` that the policy names to ``to_version``.

    Called by ``packaging.api.publish_version`` inside its transaction, through the
    in-flight mover port ``LearningConfig.ready`` registers. Each move
    is recorded on the enrollment's history and in the audit log; statuses are
    re-evaluated against the new version.
    """
    if policy not in POLICY_MOVES:
        raise InvalidInput(
            "Unknown in-flight policy.",
            problems=[f"inflight_policy: must be one of {', '.join(POLICY_MOVES)}"],
        )
    statuses = POLICY_MOVES[policy]
    if not statuses:
        return 0
    ids = list(
        Enrollment.objects.filter(
            version=from_version,
            withdrawn_at__isnull=True,
            superseded_at__isnull=True,
            status__in=statuses,
        ).values_list("pk", flat=True)
    )
    moved = 0
    User = get_user_model()
    for chunk in _chunks(ids, _CHUNK):
        rows = list(Enrollment.objects.filter(pk__in=chunk))
        # Lock the learners first: a completion recorded for one of them meanwhile
        # waits, then re-evaluates against the version they were moved to.
        list(
            User.objects.select_for_update()
            .filter(pk__in=[e.learner_id for e in rows])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        EnrollmentMove.objects.bulk_create(
            EnrollmentMove(
                enrollment=e,
                from_version=from_version,
                to_version=to_version,
                moved_at=at,
                actor=_user(actor),
                policy=policy,
            )
            for e in rows
        )
        for e in rows:
            e.version = to_version
        _refresh(rows)
        Enrollment.objects.bulk_update(rows, ["version", *_CACHE_FIELDS], batch_size=1000)
        moved += len(rows)
    audit.record(
        actor=actor,
        action="enrollment.bulk_moved",
        target=to_version,
        at=at,
        before={"version": from_version.pk},
        after={"version": to_version.pk, "enrollments": ids},
        notes=f"in-flight policy {policy}",
        package_id=to_version.package_id,
    )
    return moved


def _inflight(from_version_id: int, policy: str) -> Any:
    if policy not in POLICY_MOVES:
        raise InvalidInput(
            "Unknown in-flight policy.",
            problems=[f"inflight_policy: must be one of {', '.join(POLICY_MOVES)}"],
        )
    return Enrollment.objects.filter(
        version_id=from_version_id,
        withdrawn_at__isnull=True,
        superseded_at__isnull=True,
        status__in=POLICY_MOVES[policy],
    )


def count_inflight(*, from_version_id: int, policy: InFlightPolicy) -> int:
    """Return how many open enrollments on ``from_version_id`` the policy would move now."""
    return _inflight(from_version_id, policy).count() if POLICY_MOVES.get(policy) else 0


@dataclass(frozen=True)
class MoveChunk:
    """What one chunk of a background move did."""

    moved: list[int]
    # The highest enrollment id this chunk looked at (the job's cursor), or None when
    # there was nothing left to look at.
    last_id: int | None
    # Why the moves stopped early (the target is no longer the active version), or "".
    stopped: str = ""


def move_inflight_chunk(
    *,
    actor: Actor,
    from_version_id: int,
    to_version_id: int,
    policy: InFlightPolicy,
    after_id: int,
    limit: int,
    notes: str = "",
) -> MoveChunk:
    """Move the next ``limit`` open enrollments (by id, after ``after_id``) that the
    policy names from one version to the next, in one transaction with one audit record.

    The background half of a publish with moves (``jobs.start_publish``): the version
    is already published; this moves learners onto it a committed chunk at a time.
    Each enrollment's status is read when its chunk runs, so a learner who started
    (or finished) meanwhile is judged by the status they have then. Running a chunk
    again moves nobody twice (a moved enrollment is no longer on ``from_version``).
    If ``to_version`` is no longer the active version (a newer one was published),
    nothing moves and ``stopped`` says why.
    """
    with transaction.atomic():
        # Lock order: audit chain, learners, enrollments (ADR 0009).
        head = audit.lock_chain()
        to_version = PackageVersion.objects.get(pk=to_version_id)
        if to_version.status != "published":
            return MoveChunk(
                [],
                None,
                f"v{to_version.version_number} is {to_version.status} now: "
                "the learners left were not moved onto it",
            )
        from_version = PackageVersion.objects.get(pk=from_version_id)
        window = list(
            Enrollment.objects.filter(version_id=from_version_id, pk__gt=after_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not window:
            return MoveChunk([], None)
        User = get_user_model()
        learner_ids = list(
            Enrollment.objects.filter(pk__in=window).values_list("learner_id", flat=True)
        )
        list(
            User.objects.select_for_update()
            .filter(pk__in=learner_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # Read the statuses with the learners held: a completion committed before this
        # point is already in them, one after it waits and sees the new version.
        rows = list(_inflight(from_version_id, policy).filter(pk__in=window).order_by("pk"))
        if not rows:
            return MoveChunk([], window[-1])
        now = timezone.now()
        EnrollmentMove.objects.bulk_create(
            EnrollmentMove(
                enrollment=e,
                from_version=from_version,
                to_version=to_version,
                moved_at=now,
                actor=_user(actor),
                policy=policy,
            )
            for e in rows
        )
        for e in rows:
            e.version = to_version
        _refresh(rows)
        Enrollment.objects.bulk_update(rows, ["version", *_CACHE_FIELDS], batch_size=1000)
        moved = [e.pk for e in rows]
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="enrollment.bulk_moved",
                    target=to_version,
                    at=now,
                    before={"version": from_version.pk},
                    after={"version": to_version.pk, "enrollments": moved},
                    notes=f"in-flight policy {policy}{f' ({notes})' if notes else ''}",
                    package_id=to_version.package_id,
                )
            ],
            head=head,
        )
        return MoveChunk(moved, window[-1])


# --- the cache ------------------------------------------------------------------


@dataclass
class RebuildReport:
    """What a rebuild found: how many enrollments it checked and which had drifted."""

    checked: int = 0
    drifted: list[int] = field(default_factory=list)
    fixed: bool = False
    # Right until an exemption they count ended, and not recomputed since (not drift).
    lapsed: list[int] = field(default_factory=list)


def rebuild_statuses(
    *,
    actor: Actor,
    fix: bool = True,
    learners_per_batch: int = LEARNERS_PER_BATCH,
    progress: Callable[[int], None] | None = None,
) -> RebuildReport:
    """Recompute every enrollment's stored status from events and report drift.

    Works through the learners in batches, reading each event once (a learner's
    facts serve all their enrollments), so memory stays flat however many
    enrollments there are. With ``fix`` the drifted rows are corrected, each batch
    in one transaction; either way they are reported. ``progress`` is called with
    the number of enrollments checked in each batch.
    """
    report = RebuildReport(fixed=fix)
    equivalences = lifecycle_facts.equivalence_facts()
    for enrollments, events, moved in selectors.status_batches(learners_per_batch):
        checked_before = report.checked
        split = selectors.CACHE_KEY_COLUMNS
        keys = [row[:split] for row in enrollments]
        lifecycle = _lifecycle((row[0] for row in enrollments), equivalences)
        now = timezone.now()
        # A row waiting on an exemption's end that has passed is not drift: its values
        # were right until then (compare them as of just before it), and it is due for
        # settling, which a fixing rebuild does below.
        lapsed = {
            row[0]: row[-1] - _INSTANT
            for row in enrollments
            if row[-1] is not None and row[-1] <= now
        }
        drifted = [
            row[0]
            for row, cached in zip(
                enrollments,
                _summaries(keys, events, moved, lifecycle, now=now, moments=lapsed),
                strict=True,
            )
            if tuple(row[split:]) != cached
        ]
        report.lapsed.extend(sorted(set(lapsed) - set(drifted)))
        if drifted:
            with transaction.atomic():
                # A write may have committed between reading these rows and reading
                # their events: look again with every writer held off, so that only
                # real drift is reported (and fixed).
                chain = audit.lock_chain()
                changed = _refresh(list(Enrollment.objects.filter(pk__in=drifted).order_by("pk")))
                report.drifted.extend(e.pk for e in changed)
                if fix and changed:
                    Enrollment.objects.bulk_update(changed, _CACHE_FIELDS, batch_size=1000)
                    # Each batch's fixes are on the record in the batch's own
                    # transaction: a rebuild killed half-way leaves no fix unaudited.
                    audit.record_all(
                        [
                            audit.Entry(
                                actor=actor,
                                action="enrollment.statuses_rebuilt",
                                target=changed[0],
                                at=timezone.now(),
                                after={
                                    "checked": checked_before + len(enrollments),
                                    "drifted": [e.pk for e in changed],
                                },
                            )
                        ],
                        head=chain,
                    )
        report.checked += len(enrollments)
        if progress is not None:
            progress(len(enrollments))
    if fix and report.lapsed:
        settle_lapsed_exemptions(actor=actor)
    return report


_INSTANT = timedelta(microseconds=1)


def settle_lapsed_exemptions(*, actor: Actor, now: datetime | None = None) -> int:
    """Recompute the cached fields of the open periods whose counted exemption has ended
    by ``now`` (default: now), one transaction, audited; return how many changed.

    Reads are right without it (the standing reads derive those periods at read
    time); it keeps them few, and the other reads of the cache exact. The worker runs
    it with the periodic settling.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        chain = audit.lock_chain()
        ids = list(
            Enrollment.objects.filter(exemption_lapses_at__lte=moment)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0
        learners = Enrollment.objects.filter(pk__in=ids).values_list("learner_id", flat=True)
        for learner_id in sorted(set(learners)):
            _lock_learner(learner_id)
        enrollments = list(Enrollment.objects.filter(pk__in=ids).order_by("pk"))
        befores = {e.pk: _status_snapshot(e) for e in enrollments}
        changed = _refresh(enrollments)
        _store(changed)
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="enrollment.status_changed",
                    target=e,
                    at=moment,
                    before=befores[e.pk],
                    after=_status_snapshot(e),
                    notes="exemption lapsed",
                    package_id=e.package_id,
                )
                for e in changed
            ],
            head=chain,
        )
    return len(changed)


# The lifecycle services build on the helpers above; they are part of this surface.
from coursepack.learning.lifecycle_services import (  # noqa: E402
    EquivalenceImpact,
    apply_equivalence_retroactively,
    create_equivalence,
    end_equivalence,
    equivalence_impact,
    exempt,
    extend_due_date,
    open_certification_periods,
    open_next_period,
    revoke_exemption,
)

__all__ += [
    "EquivalenceImpact",
    "apply_equivalence_retroactively",
    "create_equivalence",
    "end_equivalence",
    "equivalence_impact",
    "exempt",
    "extend_due_date",
    "open_certification_periods",
    "open_next_period",
    "revoke_exemption",
]
