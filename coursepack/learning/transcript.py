"""Point-in-time transcripts: what training a learner had at any moment, on two timelines.

A transcript is derived only from what is never changed afterwards: the
enrollment rows' ``enrolled_at``/``withdrawn_at`` stamps, the append-only
history of version moves, the pinned (immutable) requirement trees and the
append-only completion events. The cached ``Enrollment.status`` is never read.

Every question carries two times (PRODUCT.md, "Two timelines"): *as of t* — the
state of the world at t — and *as known at r* — using only the facts recorded
by r (default: now). "As of t, as known now" is our best knowledge of the past:
a completion recorded today with an earlier date counts from its date, and a
void made today removes its event at every moment. "As of t, as known at t" is
what the system showed at t, and never changes afterwards. Enrolments, moves
and withdrawals are recorded when they happen, so both cut-offs apply to them.

For a past moment the transcript also compares its answer with the other
timeline (``changes``): as known at r against as known now when r is earlier
than now, else as known at t (what the record showed then) against as known
now; and it lists the facts about the moment recorded in between.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from coursepack import rules
from coursepack.audit.api import SYSTEM_ACTOR_LABEL
from coursepack.errors import InvalidInput
from coursepack.learning import lifecycle_facts
from coursepack.learning.errors import LearnerNotFound
from coursepack.learning.models import CompletionEvent, Enrollment, EnrollmentMove, EventKind
from coursepack.learning.selectors import to_rule_event
from coursepack.learning.timeline_events import TimelineCourseEvents, keep_course_events
from coursepack.packaging import selectors as packaging
from coursepack.packaging.models import PackageVersion, VersionStatus
from coursepack.statements import ids_in

__all__ = [
    "EnrollmentChange",
    "TimelineAnswer",
    "TimelineCourseEvents",
    "Transcript",
    "TranscriptChanges",
    "TranscriptEnrollment",
    "TranscriptEvent",
    "TranscriptStatus",
    "VersionMove",
    "VoidRecord",
    "late_entry_interval",
    "timeline_answers",
    "timeline_scope",
    "transcript",
]

_DEFAULT_LATE_ENTRY_INTERVAL = timedelta(hours=72)


def late_entry_interval() -> timedelta:
    """Return how long after it occurred an entry may be recorded before it is marked late
    (the ``COURSEPACK_LATE_ENTRY_INTERVAL`` setting)."""
    value = getattr(settings, "COURSEPACK_LATE_ENTRY_INTERVAL", _DEFAULT_LATE_ENTRY_INTERVAL)
    return value if isinstance(value, timedelta) else timedelta(hours=float(value))


class TranscriptStatus(StrEnum):
    """Where an enrollment stood at the transcript's moment."""

    # Nothing under the version's tree counted yet.
    NOT_STARTED = "not_started"
    # Something counted (a failed attempt too); the tree was not satisfied.
    IN_PROGRESS = "in_progress"
    # The tree was satisfied; ``completed_at`` says since when.
    COMPLETED = "completed"
    # Withdrawn at or before the moment; progress is what the learner had as of the
    # withdrawal (as known at the transcript's known_at).
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class VersionMove:
    """An enrollment moved to another version at publish time."""

    from_version_id: int
    from_version_number: int
    to_version_id: int
    to_version_number: int
    moved_at: datetime
    policy: str


@dataclass(frozen=True)
class TranscriptLifecycle:
    """An enrollment's compliance dates as of the transcript's moment, as known at its
    known_at (PRODUCT.md, "Compliance lifecycle")."""

    # The certification period this enrollment is (1 for a first enrolment).
    period: int
    previous_period_id: int | None
    due_at_enrolment: datetime | None
    # The due date in force then, and the extensions on record by then (oldest first).
    due_at: datetime | None
    extensions: tuple[rules.Extension, ...]
    overdue_since: datetime | None
    completed_late: bool
    expires_at: datetime | None
    recertification_opens_at: datetime | None
    exemptions_used: tuple[rules.Exemption, ...]
    equivalences_used: tuple[rules.Equivalence, ...]


@dataclass(frozen=True)
class TranscriptEnrollment:
    """One enrollment as it stood at the transcript's moment, as known at its known_at.

    ``version_*`` name the version the learner was on at that moment (an
    enrollment moved later still shows the version it had then). ``progress_status``
    is the engine's verdict — as of the withdrawal for a withdrawn enrollment —
    and ``status`` is the same but says ``withdrawn`` once it was.
    ``completed_at`` is never before ``on_version_since``; ``satisfied_at`` is when
    the training satisfied the tree, which may be earlier ("satisfied by earlier
    training").
    """

    enrollment_id: int
    package_id: int
    package_name: str
    version_id: int
    version_number: int
    version_name: str
    enrolled_at: datetime
    # Set only when the withdrawal happened at or before the moment.
    withdrawn_at: datetime | None
    status: TranscriptStatus
    progress_status: rules.EnrollmentStatus
    completed_at: datetime | None
    progress_done: int
    progress_needed: int
    optional_done: int
    optional_total: int
    why_not_complete: tuple[str, ...]
    # Moves made at or before the moment, oldest first.
    moves: tuple[VersionMove, ...]
    evaluation: rules.Evaluation
    # When the enrollment got onto ``version_*``: its enrolment or its last move.
    on_version_since: datetime
    satisfied_at: datetime | None
    satisfied_by_earlier_training: bool
    lifecycle: TranscriptLifecycle | None = None

    def answer(self) -> tuple[Any, ...]:
        """Return what an auditor reads off this row: compared across timelines."""
        return (
            self.status,
            self.version_id,
            self.completed_at,
            self.progress_done,
            self.progress_needed,
            self.optional_done,
            self.withdrawn_at,
        )


@dataclass(frozen=True)
class VoidRecord:
    """The void of an event: when it was made, by whom and why."""

    void_event_id: int
    voided_at: datetime
    reason: str
    recorded_by: str


@dataclass(frozen=True)
class TranscriptEvent:
    """One completion event (or void) that occurred by the transcript's moment and was
    on record at its known_at."""

    event_id: int
    course_id: int
    course_code: str
    course_name: str
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    recorded_by: str
    source: str
    external_id: str | None
    evidence_note: str
    # For a void event: the event it voids.
    voids_id: int | None
    # The void of this event, whenever it was recorded (also after known_at).
    void: VoidRecord | None
    # Voided by a void on record at known_at: it never counted, at any moment.
    voided: bool
    # Voided by a void recorded after known_at: it counted as known then.
    voided_later: bool
    # A completed or passed event that counted at the moment.
    counted: bool
    # Recorded after the moment (back-dated): at the moment it was not yet on record.
    recorded_later: bool
    # Recorded more than ``late_entry_interval()`` after it occurred.
    late_entry: bool


@dataclass(frozen=True)
class EnrollmentChange:
    """One enrollment whose answer for the moment differs between the two timelines."""

    enrollment_id: int
    package_name: str
    # None: the enrollment was not on record on that timeline.
    before: TranscriptEnrollment | None
    after: TranscriptEnrollment | None


@dataclass(frozen=True)
class TranscriptChanges:
    """Whether facts recorded between ``known_then`` and ``known_later`` changed the
    answer for the transcript's moment, and what."""

    known_then: datetime
    known_later: datetime
    enrollments: tuple[EnrollmentChange, ...]
    # Completions about the moment (occurred by it) and voids of them, recorded in
    # (known_then, known_later], oldest record first.
    recorded: tuple[TranscriptEvent, ...]

    @property
    def changed(self) -> bool:
        """Return whether any enrollment's answer differs."""
        return bool(self.enrollments)


@dataclass(frozen=True)
class Transcript:
    """A learner's training as of one moment, as known at another."""

    learner_id: int
    learner_username: str
    learner_name: str
    as_of: datetime
    known_at: datetime
    generated_at: datetime
    enrollments: tuple[TranscriptEnrollment, ...]
    # Every event that occurred by ``as_of`` and was on record at ``known_at``, voids
    # included, oldest first.
    events: tuple[TranscriptEvent, ...]
    # The same moment on the other timeline; None when there is no other (as of now or
    # later, as known now).
    changes: TranscriptChanges | None

    @property
    def completions(self) -> tuple[TranscriptEvent, ...]:
        """Return the completed, passed and failed events (voids are shown on their target)."""
        return tuple(e for e in self.events if e.kind != EventKind.VOID)

    @property
    def known_now(self) -> bool:
        """Return whether the transcript uses everything on record when it was made."""
        return self.known_at >= self.generated_at


class _EventRow(NamedTuple):
    """One stored event with its course and recorder, as the transcript reads it."""

    id: int
    course_id: int
    course_code: str
    course_name: str
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    # The recorder's username; None when Coursepack recorded it itself.
    recorded_by: str | None
    source: str
    external_id: str | None
    evidence_note: str
    voids_id: int | None


def _event_columns() -> tuple[str, ...]:
    username = f"recorded_by__{get_user_model().USERNAME_FIELD}"
    return (
        "id",
        "course_id",
        "course__code",
        "course__name",
        "kind",
        "occurred_at",
        "recorded_at",
        username,
        "source",
        "external_id",
        "evidence_note",
        "voids_id",
    )


class TimelineAnswer(NamedTuple):
    """An enrollment's row in its learner's transcript on a timeline, as far as a report
    reads it: the version it was on then, its enrolment and withdrawal, its progress
    status and since when it was complete. A report of the whole organisation on a
    timeline holds one per enrollment (a million at the benchmark's full scale)."""

    version_id: int
    enrolled_at: datetime
    withdrawn_at: datetime | None
    progress_status: rules.EnrollmentStatus
    completed_at: datetime | None


def _version_id_at(
    current: int, moves: list[tuple[datetime, int]], cutoff: datetime
) -> tuple[int, datetime | None]:
    """Return the version an enrollment was on at ``cutoff`` (``moves``: its (moved at,
    from version) in order) and its last move by then, as ``_version_at`` does."""
    last = None
    for moved_at, from_version_id in moves:
        if moved_at > cutoff:
            return from_version_id, last
        last = moved_at
    return current, last


def _version_at(
    current: PackageVersion, moves: list[EnrollmentMove], cutoff: datetime
) -> tuple[PackageVersion, list[EnrollmentMove]]:
    """Return the version an enrollment was on at ``cutoff`` and the moves made by then.

    The version before the first move after ``cutoff``; the current one when there is none.
    """
    done: list[EnrollmentMove] = []
    for move in moves:
        if move.moved_at > cutoff:
            return move.from_version, done
        done.append(move)
    return current, done


def _evaluated_at(
    withdrawn_at: datetime | None, superseded_at: datetime | None, as_of: datetime, cutoff: datetime
) -> tuple[datetime | None, datetime]:
    """Return an enrollment's withdrawal on record by ``cutoff`` and the moment it is
    evaluated as of ``as_of``: a withdrawn enrollment keeps what the learner had as of
    the withdrawal; so does a certification period once the next one opened."""
    if withdrawn_at is not None and withdrawn_at > cutoff:
        withdrawn_at = None
    evaluated_at = withdrawn_at or as_of
    if superseded_at is not None and superseded_at < evaluated_at:
        evaluated_at = superseded_at
    return withdrawn_at, evaluated_at


@dataclass(frozen=True)
class _Loaded:
    """What one learner's transcripts are computed from, read once."""

    enrollments: list[Enrollment]
    moves_of: dict[int, list[EnrollmentMove]]
    rows: list[_EventRow]
    rule_events: list[rules.LearnerEvent]
    facts: dict[int, lifecycle_facts.EnrollmentFacts] = field(default_factory=dict)
    equivalences: lifecycle_facts.EquivalenceFacts = field(
        default_factory=lifecycle_facts.EquivalenceFacts
    )


def _entries(data: _Loaded, as_of: datetime, known_at: datetime) -> list[TranscriptEnrollment]:
    """Return every enrollment as of ``as_of``, as known at ``known_at``."""
    # Enrolments, moves and withdrawals are on record from the moment they happen.
    cutoff = min(as_of, known_at)
    entries = []
    # Per version, once: a learner's certification periods are often on one version.
    trees: dict[int, rules.RequirementTree] = {}
    certifications: dict[int, rules.CertificationRule | None] = {}
    for enrollment in data.enrollments:
        if enrollment.enrolled_at > cutoff:
            continue
        version, moves = _version_at(enrollment.version, data.moves_of[enrollment.pk], cutoff)
        since = moves[-1].moved_at if moves else enrollment.enrolled_at
        withdrawn_at, evaluated_at = _evaluated_at(
            enrollment.withdrawn_at, enrollment.superseded_at, as_of, cutoff
        )
        tree = trees.get(version.pk)
        if tree is None:
            tree = trees[version.pk] = packaging.requirement_tree(version.pk)
        if version.pk not in certifications:
            certifications[version.pk] = packaging.lifecycle_rules([version.pk])[version.pk][1]
        mine = lifecycle_facts.facts_of(data.facts, enrollment.pk)
        evaluation = rules.evaluate(
            tree,
            data.rule_events,
            evaluated_at,
            known_at,
            on_version_since=since,
            exemptions=mine.exemptions,
            revocations=mine.revocations,
            equivalences=data.equivalences.equivalences,
            equivalence_changes=data.equivalences.changes,
            counts_from=enrollment.counts_from,
        )
        lifecycle = _lifecycle(
            enrollment, certifications[version.pk], evaluation, mine, as_of, known_at
        )
        entries.append(
            TranscriptEnrollment(
                enrollment_id=enrollment.pk,
                package_id=enrollment.package_id,
                package_name=enrollment.package.name,
                version_id=version.pk,
                version_number=version.version_number,
                version_name=version.name,
                enrolled_at=enrollment.enrolled_at,
                withdrawn_at=withdrawn_at,
                status=(
                    TranscriptStatus.WITHDRAWN
                    if withdrawn_at is not None
                    else TranscriptStatus(str(evaluation.status))
                ),
                progress_status=evaluation.status,
                completed_at=evaluation.completed_at,
                progress_done=evaluation.root.done,
                progress_needed=evaluation.root.needed,
                optional_done=evaluation.optional_done,
                optional_total=evaluation.optional_total,
                why_not_complete=tuple(evaluation.why_not_complete()),
                moves=tuple(
                    VersionMove(
                        from_version_id=m.from_version_id,
                        from_version_number=m.from_version.version_number,
                        to_version_id=m.to_version_id,
                        to_version_number=m.to_version.version_number,
                        moved_at=m.moved_at,
                        policy=m.policy,
                    )
                    for m in moves
                ),
                evaluation=evaluation,
                on_version_since=since,
                satisfied_at=evaluation.root.satisfied_at,
                satisfied_by_earlier_training=evaluation.satisfied_by_earlier_training,
                lifecycle=lifecycle,
            )
        )
    return entries


def _lifecycle(
    enrollment: Enrollment,
    certification: rules.CertificationRule | None,
    evaluation: rules.Evaluation,
    facts: lifecycle_facts.EnrollmentFacts,
    as_of: datetime,
    known_at: datetime,
) -> TranscriptLifecycle:
    """Return an enrollment's compliance dates as of ``as_of``, as known at ``known_at``
    (``certification``: its version's validity)."""
    state = rules.period_state(
        evaluation,
        initial_due=enrollment.due_at,
        extensions=facts.extensions,
        certification=certification,
        as_of=as_of,
        known_at=known_at,
    )
    closed = enrollment.withdrawn_at or enrollment.superseded_at
    overdue_since = state.overdue_since
    if closed is not None and closed <= as_of:
        overdue_since = None  # no longer required once closed
    extensions = tuple(
        sorted(
            (x for x in facts.extensions if x.effective_at <= as_of and x.known_from <= known_at),
            key=lambda x: (x.effective_at, x.extension_id),
        )
    )
    return TranscriptLifecycle(
        period=enrollment.period_number,
        previous_period_id=enrollment.previous_period_id,
        due_at_enrolment=enrollment.due_at,
        due_at=state.due_at,
        extensions=extensions,
        overdue_since=overdue_since,
        completed_late=state.completed_late,
        expires_at=state.expires_at,
        recertification_opens_at=state.window_opens_at,
        exemptions_used=evaluation.exemptions_used,
        equivalences_used=evaluation.equivalences_used,
    )


def _voids(rows: Sequence[_EventRow]) -> dict[int, tuple[VoidRecord, datetime]]:
    """Return each voided event's void record and when the void was recorded."""
    return {
        e.voids_id: (
            VoidRecord(
                void_event_id=e.id,
                voided_at=e.occurred_at,
                reason=e.evidence_note,
                recorded_by=e.recorded_by or SYSTEM_ACTOR_LABEL,
            ),
            e.recorded_at,
        )
        for e in rows
        if e.kind == EventKind.VOID and e.voids_id is not None
    }


_COUNTING = (EventKind.COMPLETED, EventKind.PASSED)


def _event(
    e: _EventRow,
    as_of: datetime,
    known_at: datetime,
    voids: dict[int, tuple[VoidRecord, datetime]],
    late_after: timedelta,
) -> TranscriptEvent:
    void, void_recorded = voids.get(e.id, (None, None))
    voided = void_recorded is not None and void_recorded <= known_at
    return TranscriptEvent(
        event_id=e.id,
        course_id=e.course_id,
        course_code=e.course_code,
        course_name=e.course_name,
        kind=e.kind,
        occurred_at=e.occurred_at,
        recorded_at=e.recorded_at,
        recorded_by=e.recorded_by or SYSTEM_ACTOR_LABEL,
        source=e.source,
        external_id=e.external_id,
        evidence_note=e.evidence_note,
        voids_id=e.voids_id,
        void=void,
        voided=voided,
        voided_later=void is not None and not voided,
        counted=e.kind in _COUNTING and not voided,
        recorded_later=e.recorded_at > as_of,
        late_entry=e.kind != EventKind.VOID and e.recorded_at - e.occurred_at > late_after,
    )


def _changes(
    data: _Loaded,
    as_of: datetime,
    then: datetime,
    later: datetime,
    ours: list[TranscriptEnrollment],
    ours_known_at: datetime,
    late_after: timedelta,
) -> TranscriptChanges:
    """Compare the answer for ``as_of`` as known at ``then`` with it as known at ``later``."""
    voids = _voids(data.rows)
    occurred = {e.id: e.occurred_at for e in data.rows}
    recorded = [
        _event(e, as_of, later, voids, late_after)
        for e in sorted(data.rows, key=lambda r: (r.recorded_at, r.id))
        if then < e.recorded_at <= later
        and (
            e.occurred_at <= as_of
            if e.kind != EventKind.VOID
            else e.voids_id is not None and occurred.get(e.voids_id, as_of) <= as_of
        )
    ]
    if not recorded and not _enrollment_facts_between(data, min(as_of, then), min(as_of, later)):
        # The same facts about the moment on both timelines: the same answer, exactly.
        return TranscriptChanges(then, later, (), ())
    other_known_at = later if ours_known_at == then else then
    other = _entries(data, as_of, other_known_at)
    before, after = (ours, other) if ours_known_at == then else (other, ours)
    before_by = {e.enrollment_id: e for e in before}
    after_by = {e.enrollment_id: e for e in after}
    changed = []
    for enrollment_id in dict.fromkeys([*before_by, *after_by]):
        old, new = before_by.get(enrollment_id), after_by.get(enrollment_id)
        if old is not None and new is not None and old.answer() == new.answer():
            continue
        shown = new or old
        assert shown is not None
        changed.append(EnrollmentChange(enrollment_id, shown.package_name, old, new))
    return TranscriptChanges(then, later, tuple(changed), tuple(recorded))


def _enrollment_facts_between(data: _Loaded, start: datetime, end: datetime) -> bool:
    """Return whether an enrolment, move or withdrawal happened in ``(start, end]``."""
    if start >= end:
        return False
    for enrollment in data.enrollments:
        if start < enrollment.enrolled_at <= end:
            return True
        if enrollment.withdrawn_at is not None and start < enrollment.withdrawn_at <= end:
            return True
        if any(start < m.moved_at <= end for m in data.moves_of[enrollment.pk]):
            return True
    return False


def transcript(learner_id: int, as_of: datetime, known_at: datetime | None = None) -> Transcript:
    """Return the learner's transcript as of ``as_of``, as known at ``known_at`` (default now).

    Every enrollment that existed then (on record at ``known_at``) with the version
    the learner was on, its status, progress, ``completed_at`` and why it was not
    complete; every event that occurred by then and was on record at ``known_at``,
    with its source and evidence, whether it was voided, recorded after the moment
    or recorded late. For a past moment, ``changes`` compares the answer with the
    other timeline (see the module docstring).
    """
    problems = [
        f"{name}: include a time zone, e.g. Z"
        for name, moment in (("as_of", as_of), ("known_at", known_at))
        if moment is not None and timezone.is_naive(moment)
    ]
    if problems:
        raise InvalidInput("The moment is ambiguous.", problems=problems)
    generated_at = timezone.now()
    known = generated_at if known_at is None else known_at
    User = get_user_model()
    learner = User.objects.filter(pk=learner_id).first()
    if learner is None:
        raise LearnerNotFound(f"There is no learner with id {learner_id}.")

    enrollments = list(
        Enrollment.objects.filter(learner_id=learner_id, enrolled_at__lte=as_of)
        .select_related("package", "version")
        .order_by("enrolled_at", "id")
    )
    moves_of: dict[int, list[EnrollmentMove]] = defaultdict(list)
    for move in (
        EnrollmentMove.objects.filter(enrollment__in=enrollments)
        .select_related("from_version", "to_version")
        .order_by("moved_at", "id")
    ):
        moves_of[move.enrollment_id].append(move)

    # Plain values, not model instances: a learner may have hundreds of events.
    rows = [
        _EventRow(*values)
        for values in CompletionEvent.objects.filter(learner_id=learner_id)
        .order_by("occurred_at", "id")
        .values_list(*_event_columns())
    ]
    rule_events = [
        to_rule_event(e.id, e.course_id, e.kind, e.occurred_at, e.voids_id, e.recorded_at)
        for e in rows
    ]
    data = _Loaded(
        enrollments,
        moves_of,
        rows,
        rule_events,
        lifecycle_facts.enrollment_facts((e.pk for e in enrollments), names=True),
        lifecycle_facts.equivalence_facts(labels=True),
    )
    late_after = late_entry_interval()

    entries = _entries(data, as_of, known)
    voids = _voids(rows)
    events = [
        _event(e, as_of, known, voids, late_after)
        for e in rows
        if e.occurred_at <= as_of and e.recorded_at <= known
    ]

    # The other timeline: as known now when this one is as known earlier, else as known
    # at the moment itself (what the record showed then).
    then = known if known < generated_at else as_of
    later = generated_at
    changes = (
        _changes(data, as_of, then, later, entries, known, late_after) if then < later else None
    )

    return Transcript(
        learner_id=learner.pk,
        learner_username=str(learner.get_username()),
        learner_name=learner.get_full_name() if hasattr(learner, "get_full_name") else "",
        as_of=as_of,
        known_at=known,
        generated_at=generated_at,
        enrollments=tuple(entries),
        events=tuple(events),
        changes=changes,
    )


def timeline_scope(
    *,
    as_of: datetime,
    known_at: datetime,
    package_id: int | None = None,
    learners: QuerySet[Any] | None = None,
) -> QuerySet[Enrollment]:
    """Return the enrollments ``timeline_answers`` works out (of one package, or all; of
    the ``learners``, or everyone's): those begun by the earlier of the two moments.
    Each costs one transcript's work, so a page counts them before it asks."""
    scope = Enrollment.objects.filter(enrolled_at__lte=min(as_of, known_at))
    if package_id is not None:
        scope = scope.filter(package_id=package_id)
    if learners is not None:
        scope = scope.filter(learner__in=learners.values("pk"))
    return scope


def timeline_answers(
    *,
    as_of: datetime,
    known_at: datetime,
    package_id: int | None = None,
    learners: QuerySet[Any] | None = None,
    enrollments_per_batch: int = 1000,
    course_events: TimelineCourseEvents | None = None,
) -> Iterator[tuple[int, TimelineAnswer]]:
    """Yield (learner id, answer) for every enrollment on record as of ``as_of``, as known
    at ``known_at`` (of one package, or all; of the ``learners``, or everyone's): the
    fields a report reads of the rows of the learners' transcripts for the same two
    times, in the same order.

    The transcript's row comes from the engine's whole evaluation, with every node's
    state, next steps and reasons; a report needs its status and completion alone. They
    come from the engine's status rule (``rules.StatusRule``), as the status cache's do,
    from the same facts as the transcript: the version then, the events known at
    ``known_at`` up to the withdrawal, the next period's opening or ``as_of``, and the
    exemptions in force then. A property test holds the status rule to the evaluation
    at every moment; others hold these answers to the transcripts' rows, with every
    lifecycle fact.

    Works through the enrollments in batches of about ``enrollments_per_batch``, each
    learner's whole, reading their moves, events and exemptions once per batch, so
    memory stays flat; for reports on a timeline other than the status cache's ("as of
    now, as known now"). A report page, at most
    ``REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS`` (1,000) enrollments, is one batch of five
    reads; on PostgreSQL three batches of 400 took a third longer.

    ``course_events``, if given, is filled with the events read that a course table on
    the same timeline counts (:class:`TimelineCourseEvents`).
    """
    scope = timeline_scope(as_of=as_of, known_at=known_at, package_id=package_id, learners=learners)
    equivalences = lifecycle_facts.equivalence_facts()
    # One package's enrollments read only the events that can count for them: on the
    # courses of its versions' trees and the courses equivalent to those (a void names
    # its target's course), as the status cache does. A learner's other events, on
    # other packages' courses, change nothing and were most of what was read.
    courses: set[int] | None = None
    if package_id is not None:
        courses = set()
        # Released versions only: no one is enrolled on a draft, and a draft's tree,
        # never cached, would be read again on every page.
        for version_id in (
            PackageVersion.objects.filter(package_id=package_id)
            .exclude(status=VersionStatus.DRAFT)
            .values_list("pk", flat=True)
        ):
            courses |= packaging.version_course_ids(version_id)
        courses |= equivalences.sources_for(courses)
    # Enrolments, moves and withdrawals are on record from the moment they happen.
    cutoff = min(as_of, known_at)
    if course_events is not None:
        course_events.courses = None if courses is None else frozenset(courses)
    # Each version's rule once: inside a transaction (an export's one moment) the tree
    # cache learns a version only once it commits, so each lookup would read it again.
    status_rules: dict[int, rules.StatusRule] = {}
    columns = (
        "pk",
        "learner_id",
        "version_id",
        "enrolled_at",
        "withdrawn_at",
        "superseded_at",
        "counts_from",
    )
    last = 0
    while True:
        # The batch: the next enrollments in learner order, each learner's whole. One
        # more than the batch holds says whether the last learner's go on past it.
        enrollments = list(
            scope.filter(learner_id__gt=last)
            .order_by("learner_id", "enrolled_at", "id")
            .values_list(*columns)[: enrollments_per_batch + 1]
        )
        if not enrollments:
            return
        if len(enrollments) > enrollments_per_batch:
            tail = enrollments[-1][1]
            enrollments = [e for e in enrollments if e[1] != tail]
            enrollments += (
                scope.filter(learner_id=tail).order_by("enrolled_at", "id").values_list(*columns)
            )
        # The batch's learners, for the events' read: the range of their ids in the
        # scope, as a subquery (see below). Moves and exemptions are read by the
        # enrollments' ids: on SQLite each subquery of the scope cost ~10 ms more.
        in_batch = scope.filter(learner_id__gt=last, learner_id__lte=enrollments[-1][1])
        last = enrollments[-1][1]
        moves_of: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        for enrollment_id, moved_at, from_version_id in (
            EnrollmentMove.objects.filter(ids_in("enrollment_id", [e[0] for e in enrollments]))
            .order_by("moved_at", "id")
            .values_list("enrollment_id", "moved_at", "from_version_id")
        ):
            moves_of[enrollment_id].append((moved_at, from_version_id))
        rows_of: dict[int, list[rules.EventRow]] = defaultdict(list)
        # Every event read was recorded by ``known_at`` (the read says so): each carries
        # that moment as its recording time, one moment fewer to read per event. An
        # event that occurred after ``as_of`` counts for nothing then (a withdrawal or
        # the next period's opening is earlier still); a void removes its target at
        # every moment, whenever it occurred.
        read = CompletionEvent.objects.filter(
            Q(occurred_at__lte=as_of) | Q(kind=EventKind.VOID), recorded_at__lte=known_at
        )
        if courses is None:
            read = read.filter(learner_id__in=in_batch.values("learner_id"))
        else:
            # The batch's learners through their enrollments, and the course on the bare
            # column (unlike the status cache's reads, whose learners are not bounded):
            # the (learner, course) index is then sought per learner and course. With
            # the learners as a list, PostgreSQL intersected two bitmaps instead, one of
            # them every event on the package's courses (twice the time).
            read = read.filter(
                learner_id__in=in_batch.values("learner_id"), course_id__in=sorted(courses)
            )
        for (
            learner_id,
            event_id,
            course_id,
            kind,
            occurred_at,
            voids_id,
        ) in read.order_by().values_list(
            "learner_id", "id", "course_id", "kind", "occurred_at", "voids_id"
        ):
            # Read whole: a batch's events are all kept until it is worked out anyway,
            # and on PostgreSQL a server-side cursor costs round trips of its own.
            rows_of[learner_id].append((event_id, course_id, kind, occurred_at, voids_id, known_at))
        if course_events is not None:
            keep_course_events(course_events, enrollments, rows_of, cutoff)
        facts = lifecycle_facts.enrollment_facts(e[0] for e in enrollments)
        # A learner's course facts depend only on the moment evaluated and the period's
        # window: most of a learner's enrollments share them.
        course_facts: dict[tuple[int, datetime, datetime | None], rules.CourseFacts] = {}
        for (
            enrollment_id,
            learner_id,
            current,
            enrolled_at,
            withdrawn_at,
            superseded_at,
            counts_from,
        ) in enrollments:
            # Every one was begun by the cutoff (``timeline_scope``).
            version_id, last_move = _version_id_at(current, moves_of[enrollment_id], cutoff)
            withdrawn_at, evaluated_at = _evaluated_at(withdrawn_at, superseded_at, as_of, cutoff)
            key = (learner_id, evaluated_at, counts_from)
            known = course_facts.get(key)
            if known is None:
                known = course_facts[key] = rules.course_facts_from_rows(
                    rows_of[learner_id],
                    evaluated_at,
                    known_at,
                    counts_from=counts_from,
                    equivalences=equivalences.equivalences,
                    equivalence_changes=equivalences.changes,
                )
            mine = lifecycle_facts.facts_of(facts, enrollment_id)
            exempt = (
                rules.exemptions_in_force(mine.exemptions, mine.revocations, evaluated_at, known_at)
                if mine.exemptions
                else {}
            )
            rule = status_rules.get(version_id)
            if rule is None:
                rule = status_rules[version_id] = packaging.status_rule(version_id)
            summary = rule.summarize(known, last_move or enrolled_at, exempt)
            yield (
                learner_id,
                TimelineAnswer(
                    version_id, enrolled_at, withdrawn_at, summary.status, summary.completed_at
                ),
            )
