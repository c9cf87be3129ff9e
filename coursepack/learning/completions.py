"""Completion events: record one, import many, void one; each re-evaluates the
learner's affected enrollments in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from coursepack import rules
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.catalog.errors import CourseNotFound
from coursepack.catalog.models import Course
from coursepack.learning import lifecycle_facts, selectors, summaries
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
from coursepack.learning.revisions import Revision, learner_revision
from coursepack.learning.status_cache import (
    _Lifecycle,
    _recompute,
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
    enrollments_of_rows,
    insert_event,
    learner_enrollment_rows,
    learner_event_rows,
)
from coursepack.packaging import selectors as packaging
from coursepack.table_statistics import Resampler
from coursepack.validation import collecting

__all__ = [
    "ImportResult",
    "ImportedCompletion",
    "PreparedCompletion",
    "RecordResult",
    "commit_completion",
    "import_completions",
    "late_horizon",
    "prepare_completion",
    "record_completion",
    "recorded_late",
    "void_event",
]


def _affected(learner_id: int, course_id: int) -> list[Enrollment]:
    """Return the learner's enrollments (by id) whose pinned version contains the
    course, or a course it is equivalent to."""
    candidates = list(Enrollment.objects.filter(learner_id=learner_id).order_by("pk"))
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


@dataclass(frozen=True)
class PreparedCompletion:
    """A checked completion and the evaluation inputs read for it, before any lock.

    ``commit_completion`` writes it (once): the inputs are used if the learner's
    revision and enrollment rows are still what they were when read, and read again
    under the lock otherwise.
    """

    actor: Actor
    learner_id: int
    course_id: int
    kind: str
    occurred_at: datetime | None
    when: datetime
    now: datetime
    source: str
    external_id: str | None
    evidence_note: str
    late_reason: str
    # Read first: the stamp the inputs below are checked against under the lock.
    revision: Revision
    # Every enrollment of the learner (by id), and those the course counts for.
    enrollments: list[Enrollment]
    affected: list[Enrollment]
    # The enrollments' rows as fetched (every column): compared whole under the lock.
    enrollment_rows: tuple[tuple[Any, ...], ...]
    # The courses whose events the evaluation reads (the affected versions' courses
    # and the courses equivalent to them), those events, the lifecycle facts, and the
    # affected enrollments' last moves.
    courses: frozenset[int]
    events: dict[int, list[rules.EventRow]]
    lifecycle: _Lifecycle | None
    moves: dict[int, datetime]


@dataclass(frozen=True)
class _Inputs:
    """What re-evaluating a learner's enrollments after an event on one course reads
    (the fields of ``PreparedCompletion`` below ``late_reason``)."""

    revision: Revision
    enrollments: list[Enrollment]
    affected: list[Enrollment]
    enrollment_rows: tuple[tuple[Any, ...], ...]
    courses: frozenset[int]
    events: dict[int, list[rules.EventRow]]
    lifecycle: _Lifecycle | None
    moves: dict[int, datetime]


def _read_inputs(learner_id: int, course_id: int) -> _Inputs:
    """Read, taking no lock, the inputs of re-evaluating the learner's enrollments that
    an event on the course counts for (ADR 0030): the revision first, then the rest."""
    # The revision first, then the inputs: an append that commits in between changes
    # the revision read again under the lock, so it is never missed.
    revision = learner_revision(learner_id, course_id)
    rows = learner_enrollment_rows(learner_id)
    enrollments = enrollments_of_rows(rows)
    affected: list[Enrollment] = []
    courses: set[int] = set()
    events: dict[int, list[rules.EventRow]] = {}
    lifecycle = None
    moves: dict[int, datetime] = {}
    if enrollments:
        # None exist at all (the revision counts them): nothing to read.
        equivalences = (
            lifecycle_facts.equivalence_facts()
            if revision.equivalences
            else lifecycle_facts.EquivalenceFacts()
        )
        counted = {course_id} | equivalences.targets_of(course_id)
        for enrollment in enrollments:
            on_version = packaging.version_course_ids(enrollment.version_id)
            if not counted.isdisjoint(on_version):
                affected.append(enrollment)
                courses |= on_version
    if affected:
        ids = [e.pk for e in affected]
        # The revision's counts say which reads would find nothing: skip those.
        has_facts = revision.extensions or revision.exemptions or revision.revocations
        lifecycle = _Lifecycle(
            lifecycle_facts.enrollment_facts(ids) if has_facts else {},
            equivalences,
            packaging.lifecycle_rules({e.version_id for e in affected}),
        )
        courses |= equivalences.sources_for(courses)
        found = learner_event_rows(learner_id, courses)
        events = {learner_id: found} if found else {}
        moves = selectors.latest_moves(ids) if revision.moves else {}
    return _Inputs(
        revision=revision,
        enrollments=enrollments,
        affected=affected,
        enrollment_rows=tuple(rows),
        courses=frozenset(courses),
        events=events,
        lifecycle=lifecycle,
        moves=moves,
    )


def prepare_completion(
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
) -> PreparedCompletion:
    """Check a completion and read what recording it re-evaluates, taking no lock.

    The first half of ``record_completion`` (which see for the arguments); writes
    nothing. Hand the result to ``commit_completion``.
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
    inputs = _read_inputs(learner_id, course_id)
    return PreparedCompletion(
        actor=actor,
        learner_id=learner_id,
        course_id=course_id,
        kind=kind,
        occurred_at=occurred_at,
        when=occurred_at or now,
        now=now,
        source=source,
        external_id=external_id,
        evidence_note=evidence_note,
        late_reason=late_reason,
        **{f.name: getattr(inputs, f.name) for f in fields(_Inputs)},
    )


def _still_current(
    learner_id: int, inputs: _Inputs | PreparedCompletion, revision: Revision
) -> bool:
    """Return whether the inputs read before the lock are the ones in force now (the
    caller holds the learner): same revision, and the same enrollment rows."""
    if revision != inputs.revision:
        return False
    return tuple(learner_enrollment_rows(learner_id)) == inputs.enrollment_rows


def commit_completion(prepared: PreparedCompletion) -> RecordResult:
    """Record a prepared completion: one transaction, holding the write lock only to
    check that the prepared inputs still hold, write, and append to the audit log.

    When they no longer hold (another write about the learner, or an equivalence,
    committed since they were read), the learner's enrollments are evaluated again
    inside the transaction, as if nothing had been prepared. Either way the stored
    statuses are the engine's answer for every event committed before this one.
    """
    p = prepared
    User = get_user_model()
    with transaction.atomic():
        chain = audit.lock_chain()
        if connection.features.has_select_for_update:
            # Every write about one learner is serialised on their row (SQLite's one
            # writer at a time does that already).
            list(User.objects.select_for_update().filter(pk=p.learner_id).values_list("pk"))
        revision = learner_revision(p.learner_id, p.course_id)
        if not revision.learner:
            raise LearnerNotFound(f"There is no learner with id {p.learner_id}.")
        if p.external_id is not None:
            existing = CompletionEvent.objects.filter(external_id=p.external_id).first()
            if existing is not None:
                same = (
                    existing.learner_id == p.learner_id
                    and existing.course_id == p.course_id
                    and existing.kind == p.kind
                    and (p.occurred_at is None or existing.occurred_at == p.occurred_at)
                )
                if not same:
                    raise IdempotencyConflict(
                        f"External id {p.external_id!r} was already used for another event "
                        f"(event {existing.pk}); use a new id for a new event."
                    )
                return RecordResult(event=existing, created=False, enrollments_changed=0)
        if not revision.course:
            raise CourseNotFound(f"There is no course with id {p.course_id}.")
        current = _still_current(p.learner_id, p, revision)
        event = insert_event(
            learner_id=p.learner_id,
            course_id=p.course_id,
            kind=p.kind,
            occurred_at=p.when,
            recorded_at=p.now,
            recorded_by=_user(p.actor),
            source=p.source,
            external_id=p.external_id,
            evidence_note=p.evidence_note,
            late_reason=p.late_reason,
        )
        recorded = audit.Entry(
            actor=p.actor,
            action="completion.recorded",
            target=event,
            at=p.now,
            after={
                "learner": p.learner_id,
                "course": p.course_id,
                "kind": p.kind,
                "occurred_at": p.when.isoformat(),
                "source": p.source,
                "external_id": p.external_id,
                **({"late_reason": p.late_reason} if p.late_reason else {}),
            },
            notes=p.evidence_note,
        )
        cause = f"completion event {event.pk}"
        if not current:
            changes = _update_statuses(
                actor=p.actor,
                learner_id=p.learner_id,
                course_id=p.course_id,
                now=p.now,
                cause=cause,
            )
        elif p.affected and p.lifecycle is not None:
            new_row = (event.pk, p.course_id, p.kind, p.when, None, None)
            changes = _apply_prepared(p, p.learner_id, new_row, p.actor, p.now, cause)
        else:
            changes = []
        audit.record_all([recorded, *changes], head=chain)
    return RecordResult(event=event, created=True, enrollments_changed=len(changes))


def _apply_prepared(
    p: _Inputs | PreparedCompletion,
    learner_id: int,
    new_row: rules.EventRow,
    actor: Actor,
    now: datetime,
    cause: str,
) -> list[audit.Entry]:
    """Evaluate the affected enrollments from the inputs read before the lock and the
    new event's row (as the event read would return it once written; no query but the
    writes); store those that changed and return their records."""
    assert p.lifecycle is not None
    befores = {e.pk: _status_snapshot(e) for e in p.affected}
    rows = list(p.events.get(learner_id, ()))
    if new_row[1] in p.courses:
        rows.append(new_row)
    moves = p.moves
    changed = _recompute(
        p.affected,
        {learner_id: rows},
        p.lifecycle,
        lambda ids: {i: moves[i] for i in ids if i in moves},
    )
    _store(changed)
    return _status_change_entries(actor, changed, befores, now, cause)


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
    in the same transaction: from inputs read before it took the write lock when
    they still hold (ADR 0030), else read again under it.
    """
    return commit_completion(
        prepare_completion(
            actor=actor,
            learner_id=learner_id,
            course_id=course_id,
            kind=kind,
            occurred_at=occurred_at,
            source=source,
            external_id=external_id,
            evidence_note=evidence_note,
            late_reason=late_reason,
        )
    )


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


#: Events imported between two folds of the deferred summary changes.
_FOLD_EVERY = 100_000


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
    unfolded = 0
    # Deferred: the events of a course add to its same few summary rows (ADR 0037).
    with transaction.atomic(), summaries.deferred():
        # The lookups of each chunk are planned with what the import has written so far.
        resampler = Resampler(("learning_completionevent", "learning_courselearnercount"))
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
                unfolded += len(rows)
                resampler.wrote(result.created)
                if unfolded >= _FOLD_EVERY:
                    # Keep the session's delta tables small in an import of millions.
                    summaries.fold()
                    unfolded = 0
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
    # Before the lock, as a completion (ADR 0030): the event's learner and course (an
    # event never changes), then the inputs of their re-evaluation, checked under it.
    try:
        learner_id, course_id = CompletionEvent.objects.values_list("learner_id", "course_id").get(
            pk=event_id
        )
    except CompletionEvent.DoesNotExist:
        raise EventNotFound(f"There is no completion event with id {event_id}.") from None
    inputs = _read_inputs(learner_id, course_id)
    with transaction.atomic():
        chain = audit.lock_chain()
        _lock_learner(learner_id)
        target = CompletionEvent.objects.get(pk=event_id)
        if target.kind == EventKind.VOID:
            raise CannotVoid(f"Event {event_id} is itself a void; record a new completion instead.")
        if CompletionEvent.objects.filter(voids=target).exists():
            raise CannotVoid(f"Event {event_id} is already voided.")
        # Read before the void is written: the revision counts the learner's events.
        current = _still_current(learner_id, inputs, learner_revision(learner_id, course_id))
        now = timezone.now()
        void = insert_event(
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
        cause = f"void of event {event_id}"
        if not current:
            changes = _update_statuses(
                actor=actor, learner_id=learner_id, course_id=course_id, now=now, cause=cause
            )
        elif inputs.affected and inputs.lifecycle is not None:
            new_row = (void.pk, course_id, EventKind.VOID.value, now, target.pk, None)
            changes = _apply_prepared(inputs, learner_id, new_row, actor, now, cause)
        else:
            changes = []
        audit.record_all([voided, *changes], head=chain)
    return RecordResult(event=void, created=True, enrollments_changed=len(changes))
