"""Point-in-time transcripts: what training a learner had at any moment.

A transcript is derived only from what is never changed afterwards: the
enrollment rows' ``enrolled_at``/``withdrawn_at`` stamps, the append-only
history of version moves, the pinned (immutable) requirement trees and the
append-only completion events. The cached ``Enrollment.status`` is never read,
so the answer for a past moment is exact, whatever happened since.

"As of t" is *valid time*: an event counts if it occurred at or before t, even
when it was recorded later (a back-dated import); ``recorded_later`` says so.
A void counts from the moment it was made, so an event voided after t is listed
as counted then and voided later.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from coursepack import rules
from coursepack.audit.api import SYSTEM_ACTOR_LABEL
from coursepack.errors import InvalidInput
from coursepack.learning.errors import LearnerNotFound
from coursepack.learning.models import CompletionEvent, Enrollment, EnrollmentMove, EventKind
from coursepack.learning.selectors import to_rule_event
from coursepack.packaging import selectors as packaging
from coursepack.packaging.models import PackageVersion

__all__ = [
    "Transcript",
    "TranscriptEnrollment",
    "TranscriptEvent",
    "TranscriptStatus",
    "VersionMove",
    "VoidRecord",
    "learner_directory",
    "transcript",
]


class TranscriptStatus(StrEnum):
    """Where an enrollment stood at the transcript's moment."""

    # Nothing under the version's tree counted yet.
    NOT_STARTED = "not_started"
    # Something counted (a failed attempt too); the tree was not satisfied.
    IN_PROGRESS = "in_progress"
    # The tree was satisfied; ``completed_at`` says since when.
    COMPLETED = "completed"
    # Withdrawn at or before the moment; progress is frozen as of the withdrawal.
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
class TranscriptEnrollment:
    """One enrollment as it stood at the transcript's moment.

    ``version_*`` name the version the learner was on at that moment (an
    enrollment moved later still shows the version it had then). ``progress_status``
    is the engine's verdict — as of the withdrawal for a withdrawn enrollment —
    and ``status`` is the same but says ``withdrawn`` once it was.
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


@dataclass(frozen=True)
class VoidRecord:
    """The void of an event: when it was made, by whom and why."""

    void_event_id: int
    voided_at: datetime
    reason: str
    recorded_by: str


@dataclass(frozen=True)
class TranscriptEvent:
    """One completion event (or void) that occurred at or before the transcript's moment."""

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
    # The void of this event, whenever it was made (also after the moment).
    void: VoidRecord | None
    # Voided at or before the moment: it did not count then.
    voided: bool
    # Voided after the moment: it counted then and was voided later.
    voided_later: bool
    # A completed or passed event that counted at the moment.
    counted: bool
    # Recorded after the moment (back-dated): at the moment it was not yet on record.
    recorded_later: bool


@dataclass(frozen=True)
class Transcript:
    """A learner's training as of one moment."""

    learner_id: int
    learner_username: str
    learner_name: str
    as_of: datetime
    generated_at: datetime
    enrollments: tuple[TranscriptEnrollment, ...]
    # Every event that occurred at or before ``as_of``, voids included, oldest first.
    events: tuple[TranscriptEvent, ...]

    @property
    def completions(self) -> tuple[TranscriptEvent, ...]:
        """Return the completed, passed and failed events (voids are shown on their target)."""
        return tuple(e for e in self.events if e.kind != EventKind.VOID)


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


def _version_at(
    current: PackageVersion, moves: list[EnrollmentMove], as_of: datetime
) -> tuple[PackageVersion, list[EnrollmentMove]]:
    """Return the version an enrollment was on at ``as_of`` and the moves made by then.

    The version before the first move after ``as_of``; the current one when there is none.
    """
    done: list[EnrollmentMove] = []
    for move in moves:
        if move.moved_at > as_of:
            return move.from_version, done
        done.append(move)
    return current, done


def transcript(learner_id: int, as_of: datetime) -> Transcript:
    """Return the learner's transcript as of ``as_of``.

    Every enrollment that existed then (``enrolled_at <= as_of``) with the version
    the learner was on, its status, progress, ``completed_at`` and why it was not
    complete; every event that occurred by then with its source and evidence, and
    whether it was voided by then or later.
    """
    if timezone.is_naive(as_of):
        raise InvalidInput(
            "The moment is ambiguous.", problems=["as_of: include a time zone, e.g. Z"]
        )
    generated_at = timezone.now()
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
        to_rule_event(e.id, e.course_id, e.kind, e.occurred_at, e.voids_id) for e in rows
    ]

    entries = []
    for enrollment in enrollments:
        version, moves = _version_at(enrollment.version, moves_of[enrollment.pk], as_of)
        withdrawn_at = enrollment.withdrawn_at
        if withdrawn_at is not None and withdrawn_at > as_of:
            withdrawn_at = None
        # A withdrawn enrollment is frozen as of its withdrawal.
        evaluated_at = withdrawn_at or as_of
        tree = packaging.requirement_tree(version.pk)
        evaluation = rules.evaluate(tree, rule_events, evaluated_at)
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
            )
        )

    voids = {
        e.voids_id: VoidRecord(
            void_event_id=e.id,
            voided_at=e.occurred_at,
            reason=e.evidence_note,
            recorded_by=e.recorded_by or SYSTEM_ACTOR_LABEL,
        )
        for e in rows
        if e.kind == EventKind.VOID and e.voids_id is not None
    }
    counting = (EventKind.COMPLETED, EventKind.PASSED)
    events = []
    for e in rows:
        if e.occurred_at > as_of:
            continue
        void = voids.get(e.id)
        voided = void is not None and void.voided_at <= as_of
        events.append(
            TranscriptEvent(
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
                counted=e.kind in counting and not voided,
                recorded_later=e.recorded_at > as_of,
            )
        )

    return Transcript(
        learner_id=learner.pk,
        learner_username=str(learner.get_username()),
        learner_name=learner.get_full_name() if hasattr(learner, "get_full_name") else "",
        as_of=as_of,
        generated_at=generated_at,
        enrollments=tuple(entries),
        events=tuple(events),
    )


def _count_of(rows: QuerySet[Any]) -> Coalesce:
    counted = rows.order_by().values("learner_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def learner_directory(search: str = "") -> QuerySet[Any]:
    """Return the users whose transcripts can be read, by username, with how many
    enrollments (open and in all) and completion events (voids not counted) each has.

    ``search`` narrows to usernames and names containing it.
    """
    users = get_user_model().objects.all()
    search = search.strip()
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    mine = Enrollment.objects.filter(learner_id=OuterRef("pk"))
    return users.annotate(
        open_enrollments=_count_of(mine.filter(withdrawn_at__isnull=True)),
        all_enrollments=_count_of(mine),
        event_count=_count_of(
            CompletionEvent.objects.filter(learner_id=OuterRef("pk")).exclude(kind=EventKind.VOID)
        ),
    ).order_by("username", "pk")
