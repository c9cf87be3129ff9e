"""Enrollments, completion events, progress and transcripts."""

from __future__ import annotations

from typing import Any, Literal

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Header, Query, Router, Schema, Status
from ninja.decorators import decorate_view

from coursepack.errors import InvalidInput
from coursepack.http import serialize
from coursepack.http.auth import ADMIN, READERS, caller, can_read_person, in_scope, require
from coursepack.http.pagination import PageParams, page_of, paginate
from coursepack.http.problems import responses
from coursepack.http.schemas import (
    NOT_BLANK,
    BatchIn,
    BatchOut,
    BulkEnrollIn,
    BulkEnrollOut,
    CompletionIn,
    EnrollIn,
    EnrollmentOut,
    MomentIn,
    NotesIn,
    ProgressOut,
    RecordedCompletionOut,
    RecordOut,
    TranscriptOut,
    VoidIn,
)
from coursepack.learning import api as learning
from coursepack.learning import selectors
from coursepack.learning import transcript as transcripts
from coursepack.learning.errors import EnrollmentNotFound, EventNotFound, LearnerNotFound
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.replica import reads_from_replica

router = Router()


def _visible_enrollments(user: User) -> Any:
    """Enrollments the caller may see: all for admins and auditors, their people's (and
    their own) for managers, their own for learners."""
    return in_scope(user, Enrollment.objects.select_related("learner", "package", "version"))


def _enrollment(user: User, enrollment_id: int) -> Enrollment:
    # Someone else's enrollment gets the same answer as one that does not exist.
    try:
        found: Enrollment = _visible_enrollments(user).get(pk=enrollment_id)
    except Enrollment.DoesNotExist:
        raise EnrollmentNotFound(f"There is no enrollment with id {enrollment_id}.") from None
    return found


class EnrollmentFilters(Schema):
    package_id: int | None = None
    version_id: int | None = None
    learner_id: int | None = None
    status: Literal["not_started", "in_progress", "completed", "withdrawn"] | None = None
    open: bool | None = None


@router.get("/enrollments", response=responses({200: page_of(EnrollmentOut)}), tags=["enrollments"])
def list_enrollments(
    request: HttpRequest, page: Query[PageParams], filters: Query[EnrollmentFilters]
) -> Any:
    """List enrollments (a learner sees only their own)."""
    enrollments = _visible_enrollments(caller(request)).order_by("id")
    for name in ("package_id", "version_id", "learner_id"):
        value = getattr(filters, name)
        if value is not None:
            enrollments = enrollments.filter(**{name: value})
    if filters.status == "withdrawn":
        enrollments = enrollments.filter(withdrawn_at__isnull=False)
    elif filters.status is not None:
        # A withdrawn enrollment reports `withdrawn`, whatever its progress was.
        enrollments = enrollments.filter(status=filters.status, withdrawn_at__isnull=True)
    if filters.open is not None:
        enrollments = enrollments.filter(withdrawn_at__isnull=filters.open)
    result = paginate(enrollments, page, request)
    result["items"] = [serialize.enrollment(e) for e in result["items"]]
    return result


@router.post(
    "/enrollments", response=responses({201: EnrollmentOut}, 404, 409), tags=["enrollments"]
)
def enroll(request: HttpRequest, body: EnrollIn) -> Any:
    """Enrol a learner in the package's active version."""
    actor = require(request, *ADMIN)
    enrollment = learning.enroll(actor=actor, **body.dict())
    return Status(201, serialize.enrollment(_enrollment(actor, enrollment.pk)))


@router.post(
    "/enrollments/bulk", response=responses({200: BulkEnrollOut}, 404, 409), tags=["enrollments"]
)
def bulk_enroll(request: HttpRequest, body: BulkEnrollIn) -> Any:
    """Enrol many learners at once; those already enrolled or unknown are reported."""
    actor = require(request, *ADMIN)
    result = learning.bulk_enroll(
        actor=actor, package_id=body.package_id, learner_ids=body.learner_ids, notes=body.notes
    )
    return {
        "version_id": result.version.pk,
        "enrolled": result.enrolled,
        "already_enrolled": result.already_enrolled,
        "unknown_learners": result.unknown_learners,
        "results": _bulk_results(body, result),
    }


def _bulk_results(body: BulkEnrollIn, result: learning.BulkEnrollResult) -> list[dict[str, Any]]:
    """One result per item of the request: what happened, and the enrollment it left."""
    open_enrollments = dict(
        Enrollment.objects.filter(
            package_id=body.package_id,
            learner_id__in=set(body.learner_ids),
            withdrawn_at__isnull=True,
        ).values_list("learner_id", "pk")
    )
    already, unknown = set(result.already_enrolled), set(result.unknown_learners)
    seen: set[int] = set()
    results = []
    for index, learner_id in enumerate(body.learner_ids):
        if learner_id in seen:
            outcome = "repeated"
        elif learner_id in unknown:
            outcome = "unknown_learner"
        elif learner_id in already:
            outcome = "already_enrolled"
        else:
            outcome = "enrolled"
        seen.add(learner_id)
        results.append(
            {
                "pointer": f"/learner_ids/{index}",
                "learner_id": learner_id,
                "outcome": outcome,
                "enrollment_id": open_enrollments.get(learner_id),
            }
        )
    return results


@router.get(
    "/enrollments/{enrollment_id}",
    response=responses({200: EnrollmentOut}, 404),
    tags=["enrollments"],
)
def get_enrollment(request: HttpRequest, enrollment_id: int) -> Any:
    return serialize.enrollment(_enrollment(caller(request), enrollment_id))


@router.post(
    "/enrollments/{enrollment_id}/withdraw",
    response=responses({200: EnrollmentOut}, 404, 409),
    tags=["enrollments"],
)
def withdraw(request: HttpRequest, enrollment_id: int, body: NotesIn) -> Any:
    """Withdraw an enrollment; its record is kept."""
    actor = require(request, *ADMIN)
    learning.withdraw(actor=actor, enrollment_id=enrollment_id, notes=body.notes)
    return serialize.enrollment(_enrollment(actor, enrollment_id))


class AsOf(Schema):
    as_of: MomentIn | None = Field(
        None, description="A moment with a time zone, e.g. 2025-01-31T09:00:00Z (default: now)."
    )


class TranscriptQuery(AsOf):
    known_at: MomentIn | None = Field(
        None,
        description=(
            "Use only the facts recorded by this moment (default: now). known_at = as_of "
            "gives what the system showed at as_of; it never changes afterwards."
        ),
    )


@router.get(
    "/enrollments/{enrollment_id}/progress",
    response=responses({200: ProgressOut}, 404),
    tags=["enrollments"],
)
def progress(request: HttpRequest, enrollment_id: int, query: Query[AsOf]) -> Any:
    """Where the learner stands: every node's state, what to do next, and why not complete."""
    enrollment = _enrollment(caller(request), enrollment_id)
    if query.as_of is not None and query.as_of.tzinfo is None:
        raise InvalidInput(
            "as_of needs a time zone.", problems=["as_of: include a time zone, e.g. Z"]
        )
    evaluation = selectors.enrollment_progress(enrollment, as_of=query.as_of)
    return serialize.progress(enrollment, evaluation, query.as_of)


# --- completions ----------------------------------------------------------------------


def _record(actor: User, body: CompletionIn, idempotency_key: str | None) -> Any:
    external_id = body.external_id
    if idempotency_key is not None:
        if external_id is not None and external_id != idempotency_key:
            raise InvalidInput(
                "Two different idempotency keys.",
                problems=["external_id: must equal the Idempotency-Key header when both are given"],
            )
        external_id = idempotency_key
    fields = body.dict()
    fields["external_id"] = external_id
    return learning.record_completion(actor=actor, **fields)


def _record_out(result: Any) -> dict[str, Any]:
    return {
        "event": serialize.event(result.event),
        "created": result.created,
        "enrollments_changed": result.enrollments_changed,
    }


IdempotencyKey = Header(
    None,
    alias="Idempotency-Key",
    min_length=1,
    max_length=255,
    pattern=NOT_BLANK,
    description=(
        "Sending the same key again returns the first result and changes nothing "
        "(stored as the event's external_id)."
    ),
)


@router.post(
    "/completions",
    response=responses({201: RecordOut, 200: RecordOut}, 404, 409),
    tags=["completions"],
)
def record_completion(
    request: HttpRequest, body: CompletionIn, idempotency_key: str | None = IdempotencyKey
) -> Any:
    """Record a completed, passed or failed course (201; 200 when replayed)."""
    actor = require(request, *ADMIN)
    result = _record(actor, body, idempotency_key)
    return Status((201 if result.created else 200), _record_out(result))


@router.post(
    "/completions/batch", response=responses({200: BatchOut}, 404, 409), tags=["completions"]
)
def record_batch(request: HttpRequest, body: BatchIn) -> Any:
    """Record up to 1,000 events in one transaction: all are stored, or none."""
    actor = require(request, *ADMIN)
    results = []
    with transaction.atomic():
        for index, event in enumerate(body.events):
            try:
                results.append(_record_out(_record(actor, event, None)))
            except InvalidInput as exc:
                exc.problems = [_in_item(f"/events/{index}", p) for p in exc.problems]
                raise
    return {"results": results}


def _in_item(pointer: str, problem: str) -> str:
    """Say which batch item a service's problem is about: ``/events/1/kind: …``."""
    field, sep, message = problem.partition(": ")
    if sep and " " not in field:
        return f"{pointer}/{field.replace('.', '/')}: {message}"
    return f"{pointer}: {problem}"


class EventFilters(Schema):
    learner_id: int | None = None
    course_id: int | None = None
    kind: Literal["completed", "passed", "failed", "void"] | None = None


@router.get(
    "/completions", response=responses({200: page_of(RecordedCompletionOut)}), tags=["completions"]
)
def list_completions(
    request: HttpRequest, page: Query[PageParams], filters: Query[EventFilters]
) -> Any:
    """List completion events (a learner sees only their own)."""
    user = caller(request)
    events = in_scope(user, CompletionEvent.objects.order_by("id"))
    for name in ("learner_id", "course_id", "kind"):
        value = getattr(filters, name)
        if value is not None:
            events = events.filter(**{name: value})
    result = paginate(events, page, request)
    result["items"] = [serialize.event(e) for e in result["items"]]
    return result


@router.get(
    "/completions/{int:event_id}",
    response=responses({200: RecordedCompletionOut}, 404),
    tags=["completions"],
)
def get_completion(request: HttpRequest, event_id: int) -> Any:
    """Return one completion event (or void): where a 201 of POST /completions points.
    A learner reads only their own, a manager those of their people."""
    event = in_scope(caller(request), CompletionEvent.objects.all()).filter(pk=event_id).first()
    if event is None:
        raise EventNotFound(f"There is no completion event with id {event_id}.")
    return serialize.event(event)


@router.post(
    "/completions/{event_id}/void",
    response=responses({201: RecordOut}, 404, 409),
    tags=["completions"],
)
def void(request: HttpRequest, event_id: int, body: VoidIn) -> Any:
    """Void an event: a new event says it no longer counts from now on."""
    actor = require(request, *ADMIN)
    return Status(
        201,
        _record_out(
            learning.void_event(actor=actor, event_id=event_id, reason=body.reason, source="api")
        ),
    )


# --- transcripts ------------------------------------------------------------------------


@router.get(
    "/learners/{learner_id}/transcript",
    response=responses({200: TranscriptOut}, 404),
    tags=["learners"],
)
@decorate_view(reads_from_replica)
def transcript(request: HttpRequest, learner_id: int, query: Query[TranscriptQuery]) -> Any:
    """A learner's training as of ``as_of``, as known at ``known_at`` (both default to
    now); learners see their own only.

    Every enrollment that existed then, with the version the learner was on then and
    its status then; every event that occurred by then and was on record at
    ``known_at``, whether it was voided, recorded after ``as_of`` or recorded late.
    ``changes`` compares the answer as known then (at ``known_at`` when it is
    earlier than now, else at ``as_of``) with the answer as known now. Derived from the immutable events, pinned versions and version moves,
    never from stored statuses.
    """
    user = caller(request)
    if not can_read_person(user, learner_id):
        raise LearnerNotFound(f"There is no learner with id {learner_id}.")
    problems = [
        f"{name}: include a time zone, e.g. Z"
        for name, moment in (("as_of", query.as_of), ("known_at", query.known_at))
        if moment is not None and moment.tzinfo is None
    ]
    if problems:
        raise InvalidInput("The moment needs a time zone.", problems=problems)
    as_of = query.as_of if query.as_of is not None else timezone.now()
    return serialize.transcript(transcripts.transcript(learner_id, as_of, query.known_at))


__all__ = ["READERS", "router"]
