"""Completion events: record one, import many, void one; each re-evaluates the
learner's affected enrollments in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.catalog.errors import CourseNotFound
from coursepack.catalog.models import Course
from coursepack.learning import lifecycle_facts, selectors
from coursepack.learning.errors import (
    CannotVoid,
    EventNotFound,
    IdempotencyConflict,
    LearnerNotFound,
)
from coursepack.learning.models import (
    CompletionEvent,
    Enrollment,
    EventKind,
    EventSource,
)
from coursepack.learning.status_cache import (
    _refresh,
    _status_change_entries,
    _status_snapshot,
    _store,
)
from coursepack.learning.write_support import (
    _CHUNK,
    _chunks,
    _lock_learner,
    _user,
)
from coursepack.packaging import selectors as packaging
from coursepack.validation import collecting

__all__ = [
    "ImportResult",
    "ImportedCompletion",
    "RecordResult",
    "import_completions",
    "late_horizon",
    "record_completion",
    "recorded_late",
    "void_event",
]


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
    return _status_change_entries(actor, changed, befores, now, cause)


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
                _status_change_entries(actor, changed, befores, now, "imported completions")
            )
            result.enrollments_changed += len(changed)
        audit.record_all(entries, head=chain)
    return result


def void_event(
    *, actor: Actor, event_id: int, reason: str, source: str = EventSource.MANUAL
) -> RecordResult:
    """Void a completion event: a new event corrects the record.

    ``source`` says where the void came from (the API passes ``api``); the
    ``reason`` is kept as the void event's evidence note.

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
            source=source,
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
