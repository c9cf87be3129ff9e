"""Reminders and notifications: package schedules, message templates (with a preview),
reminder runs (dry run / start / progress) and the message log (ADR 0026)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from django.db.models import Q
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictBool, StrictInt, StrictStr

from coursepack.http.auth import ADMIN, READERS, caller, require
from coursepack.http.jobs import JobOut
from coursepack.http.pagination import PageParams, page_of, paginate
from coursepack.http.problems import responses
from coursepack.http.schemas import NUL_FREE, DateTimeIn, Input
from coursepack.jobs import api as jobs
from coursepack.jobs import selectors as job_selectors
from coursepack.jobs.errors import JobNotFound
from coursepack.jobs.models import Job, JobKind
from coursepack.notifications import api as notifications
from coursepack.notifications import selectors, texts
from coursepack.notifications.errors import MessageNotFound
from coursepack.notifications.models import Message
from coursepack.organisation import selectors as organisation

router = Router(tags=["notifications"])

Kind = Literal["assigned", "due_soon", "overdue", "expiring", "completed", "manager_digest"]
Result = Literal["pending", "sending", "sent", "failed", "skipped"]
Offset = Annotated[StrictInt, Field(ge=1, le=366)]
Subject = Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=NUL_FREE)]
Body = Annotated[StrictStr, Field(max_length=20_000, pattern=NUL_FREE)]
HtmlBody = Annotated[StrictStr, Field(max_length=50_000, pattern=NUL_FREE)]


class ScheduleOut(Schema):
    package_id: int
    enabled: bool
    send_assigned: bool
    due_soon_days: list[int] = Field(description="Days before the due date, largest first.")
    overdue_every_days: int = Field(description="Days between overdue reminders; 0: none.")
    expiring_days: list[int]
    send_completed: bool
    customised: bool = Field(description="False: the package uses the defaults.")


class ScheduleIn(Input):
    enabled: StrictBool = True
    send_assigned: StrictBool = True
    due_soon_days: list[Offset] = Field([30, 14, 1], max_length=10)
    overdue_every_days: Annotated[StrictInt, Field(ge=0, le=366)] = 7
    expiring_days: list[Offset] = Field([30, 7], max_length=10)
    send_completed: StrictBool = True


class TemplateOut(Schema):
    kind: str
    subject: str
    body_text: str
    body_html: str
    customised: bool
    placeholders: list[str]


class TemplateIn(Input):
    subject: Subject
    body_text: Body
    body_html: HtmlBody = ""


class PreviewIn(Input):
    subject: Subject | None = None
    body_text: Body | None = None
    body_html: HtmlBody | None = None


class PreviewOut(Schema):
    subject: str
    body_text: str
    body_html: str


class RunIn(Input):
    dry_run: StrictBool = Field(True, description="Say what would be sent; send nothing.")
    as_of: DateTimeIn | None = Field(None, description="Dry runs only: as of this moment.")


class MessageOut(Schema):
    id: int
    recipient_id: int
    recipient: str
    kind: str
    enrollment_id: int | None
    package_id: int | None
    anchor: datetime = Field(description="The date it is about: due date, expiry, ...")
    offset_days: int
    status: str
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    to_address: str
    subject: str
    error: str


class MessageDetail(MessageOut):
    body_text: str
    body_html: str


class MessageFilters(Schema):
    recipient_id: int | None = None
    kind: Kind | None = None
    status: Result | None = None
    package_id: int | None = None


def _schedule(package_id: int, schedule: selectors.Schedule) -> dict[str, Any]:
    return {
        "package_id": package_id,
        **asdict(schedule),
        "due_soon_days": sorted(schedule.due_soon_days, reverse=True),
        "expiring_days": sorted(schedule.expiring_days, reverse=True),
    }


def _template(kind: str) -> dict[str, Any]:
    text, row = selectors.template_of(kind)
    return {
        "kind": kind,
        **vars(text),
        "customised": row is not None,
        "placeholders": list(texts.PLACEHOLDERS[kind]),
    }


def _message(m: Message, *, detail: bool = False) -> dict[str, Any]:
    out = {
        "id": m.pk,
        "recipient_id": m.recipient_id,
        "recipient": m.recipient.get_username(),
        "kind": m.kind,
        "enrollment_id": m.enrollment_id,
        "package_id": m.package_id,
        "anchor": m.anchor,
        "offset_days": m.offset_days,
        "status": m.status,
        "created_at": m.created_at,
        "sent_at": m.sent_at,
        "attempts": m.attempts,
        "to_address": m.to_address,
        "subject": m.subject,
        "error": m.error,
    }
    if detail:
        out.update(body_text=m.body_text, body_html=m.body_html)
    return out


@router.get("/notifications/schedules/{package_id}", response=responses({200: ScheduleOut}, 404))
def get_schedule(request: HttpRequest, package_id: int) -> Any:
    """When a package's reminders go out (the defaults if it has no schedule of its own)."""
    require(request, *READERS)
    return _schedule(package_id, selectors.schedule_of_package(package_id))


@router.put("/notifications/schedules/{package_id}", response=responses({200: ScheduleOut}, 404))
def set_schedule(request: HttpRequest, package_id: int, body: ScheduleIn) -> Any:
    """Set when a package's reminders go out (audited)."""
    actor = require(request, *ADMIN)
    return _schedule(
        package_id, notifications.set_schedule(actor=actor, package_id=package_id, **body.dict())
    )


@router.get("/notifications/templates", response=responses({200: list[TemplateOut]}))
def list_templates(request: HttpRequest) -> Any:
    """Every kind of message with the text in use (an admin's, or the built-in)."""
    require(request, *READERS)
    return [_template(kind) for kind in texts.PLACEHOLDERS]


@router.put("/notifications/templates/{kind}", response=responses({200: TemplateOut}))
def set_template(request: HttpRequest, kind: Kind, body: TemplateIn) -> Any:
    """Save the text of one kind of message (``$placeholder``s only; audited)."""
    actor = require(request, *ADMIN)
    notifications.set_template(actor=actor, kind=kind, **body.dict())
    return _template(kind)


@router.delete("/notifications/templates/{kind}", response=responses({200: TemplateOut}))
def reset_template(request: HttpRequest, kind: Kind) -> Any:
    """Go back to the built-in text of one kind of message (audited)."""
    actor = require(request, *ADMIN)
    notifications.reset_template(actor=actor, kind=kind)
    return _template(kind)


@router.post("/notifications/templates/{kind}/preview", response=responses({200: PreviewOut}))
def preview_template(request: HttpRequest, kind: Kind, body: PreviewIn) -> Any:
    """Render the text in use, or the given text, with sample values; saves nothing."""
    require(request, *ADMIN)
    return vars(notifications.preview_template(kind=kind, **body.dict()))


@router.post("/notifications/runs", response=responses({202: JobOut}))
def start_run(request: HttpRequest, body: RunIn) -> Any:
    """Queue a reminder run; a dry run (the default) says what would be sent and sends
    nothing. Follow it at GET /notifications/runs/{job_id}."""
    actor = require(request, *ADMIN)
    job = jobs.start_reminder_run(actor=actor, dry_run=body.dry_run, as_of=body.as_of)
    return Status(202, asdict(job_selectors.job_progress(job.pk)))


def _run_changed_since(since: datetime) -> Q:
    # A run changes as it starts and ends; the job row keeps those times.
    return Q(created_at__gte=since) | Q(started_at__gte=since) | Q(finished_at__gte=since)


@router.get("/notifications/runs", response=responses({200: page_of(JobOut)}))
def list_runs(request: HttpRequest, page: Query[PageParams]) -> Any:
    """Reminder runs, oldest first, with their results."""
    require(request, *READERS)
    result = paginate(
        Job.objects.filter(kind=JobKind.REMINDERS), page, request, changed=_run_changed_since
    )
    result["items"] = [asdict(job_selectors.job_progress(j.pk)) for j in result["items"]]
    return result


@router.get("/notifications/runs/{job_id}", response=responses({200: JobOut}, 404))
def get_run(request: HttpRequest, job_id: int) -> Any:
    """A reminder run's progress and result (by kind; "N messages to M people")."""
    require(request, *READERS)
    run = job_selectors.job_progress(job_id)
    if run.kind != JobKind.REMINDERS:
        raise JobNotFound(f"There is no reminder run with id {job_id}.")
    return asdict(run)


def _visible(request: HttpRequest) -> Any:
    """The messages the caller may read: everyone's (admins, auditors), their people's
    and their own (managers, ADR 0024), their own (learners)."""
    scope = organisation.person_scope(caller(request), "recipient")
    rows = selectors.messages()
    return rows if scope is None else rows.filter(scope)


@router.get("/notifications/messages", response=responses({200: page_of(MessageOut)}))
def list_messages(
    request: HttpRequest, page: Query[PageParams], filters: Query[MessageFilters]
) -> Any:
    """The message log in id order, read by cursor (a learner sees only their own
    messages, a manager also their people's)."""
    rows = _visible(request)
    for name, value in filters.dict().items():
        if value is not None:
            rows = rows.filter(**{name: value})
    result = paginate(rows, page, request)
    result["items"] = [_message(m) for m in result["items"]]
    return result


@router.get("/notifications/messages/{message_id}", response=responses({200: MessageDetail}, 404))
def get_message(request: HttpRequest, message_id: int) -> Any:
    """One message as sent (a learner: only their own; a manager: also their people's)."""
    message = _visible(request).filter(pk=message_id).first()
    if message is None:
        raise MessageNotFound(f"There is no message with id {message_id}.")
    return _message(message, detail=True)
