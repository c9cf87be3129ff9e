"""Reminders and notifications: the services (ADR 0026).

A run is two steps. **Claim**: every reminder due at ``now`` (``selectors.candidates``,
set-based) is inserted as a pending ``Message``; the unique constraints on the message
record make a second claim of the same reminder a no-op, so a reminder is claimed once
whatever runs, however often. **Send**: the claimed, unsent messages (and failed ones
with attempts left) are taken one by one with a conditional update (so two workers
never send the same row), rendered, sent through Django's mail backend (SMTP from the
environment; the console in development) at most NOTIFICATIONS_RATE_PER_MINUTE a minute
and NOTIFICATIONS_MAX_PER_RUN per run, and their result recorded: sent, failed (with
the error, retried by a later run) or skipped (nothing to say any more).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.learning.models import Enrollment
from coursepack.notifications import selectors, texts
from coursepack.notifications.errors import UnknownMessageKind
from coursepack.notifications.models import (
    Message,
    MessageKind,
    MessageStatus,
    MessageTemplate,
    ReminderSchedule,
)
from coursepack.notifications.selectors import Schedule
from coursepack.packaging.errors import PackageNotFound
from coursepack.packaging.models import Package
from coursepack.validation import collecting

__all__ = [
    "RunResult",
    "claim_due",
    "preview_template",
    "reset_template",
    "run_reminders",
    "send_claimed",
    "set_schedule",
    "set_template",
]

_MAX_OFFSETS = 10
_MAX_OFFSET_DAYS = 366
_CLAIM_BATCH = 2000


def _offsets(problems: Any, name: str, values: Any) -> list[int]:
    if not isinstance(values, list | tuple) or any(
        isinstance(v, bool) or not isinstance(v, int) for v in values
    ):
        problems.add(name, "must be a list of whole numbers of days")
        return []
    days = sorted(set(values), reverse=True)
    if len(days) > _MAX_OFFSETS:
        problems.add(name, f"give at most {_MAX_OFFSETS} offsets")
    if any(d < 1 or d > _MAX_OFFSET_DAYS for d in days):
        problems.add(name, f"each offset must be between 1 and {_MAX_OFFSET_DAYS} days")
    return days


def set_schedule(
    *,
    actor: Actor,
    package_id: int,
    enabled: bool = True,
    send_assigned: bool = True,
    due_soon_days: list[int] | tuple[int, ...] = (30, 14, 1),
    overdue_every_days: int = 7,
    expiring_days: list[int] | tuple[int, ...] = (30, 7),
    send_completed: bool = True,
) -> Schedule:
    """Set when a package's reminders go out (audited); return the schedule."""
    with collecting("The reminder schedule cannot be saved.") as problems:
        due = _offsets(problems, "due_soon_days", due_soon_days)
        expiring = _offsets(problems, "expiring_days", expiring_days)
        if (
            isinstance(overdue_every_days, bool)
            or not isinstance(overdue_every_days, int)
            or not 0 <= overdue_every_days <= _MAX_OFFSET_DAYS
        ):
            problems.add(
                "overdue_every_days", f"must be a whole number from 0 (never) to {_MAX_OFFSET_DAYS}"
            )
    with transaction.atomic():
        now = timezone.now()
        package = Package.objects.filter(pk=package_id).first()
        if package is None:
            raise PackageNotFound(f"There is no package with id {package_id}.")
        before = selectors.schedule_of(package_id)
        row, _ = ReminderSchedule.objects.update_or_create(
            package_id=package_id,
            defaults={
                "enabled": enabled,
                "send_assigned": send_assigned,
                "due_soon_days": due,
                "overdue_every_days": overdue_every_days,
                "expiring_days": expiring,
                "send_completed": send_completed,
                "updated_at": now,
                "updated_by": actor if getattr(actor, "is_authenticated", False) else None,
            },
        )
        after = selectors.schedule_of(package_id)
        audit.record(
            actor=actor,
            action="notifications.schedule_set",
            target=row,
            at=now,
            before=_schedule_dict(before),
            after=_schedule_dict(after),
            package_id=package_id,
        )
        return after


def _schedule_dict(schedule: Schedule) -> dict[str, Any]:
    return {
        "enabled": schedule.enabled,
        "send_assigned": schedule.send_assigned,
        "due_soon_days": list(schedule.due_soon_days),
        "overdue_every_days": schedule.overdue_every_days,
        "expiring_days": list(schedule.expiring_days),
        "send_completed": schedule.send_completed,
    }


def _kind(kind: str) -> str:
    if kind not in MessageKind.values:
        raise UnknownMessageKind(
            f"There is no kind of message {kind!r}; the kinds are {', '.join(MessageKind.values)}."
        )
    return kind


def _checked_text(kind: str, subject: str, body_text: str, body_html: str) -> texts.TemplateText:
    with collecting("The template cannot be used.") as problems:
        subject = problems.text("subject", subject, max_length=200)
        body_text = problems.text("body_text", body_text, max_length=20_000)
        body_html = problems.text("body_html", body_html, max_length=50_000, required=False)
    text = texts.TemplateText(subject, body_text, body_html)
    texts.check(kind, text)
    return text


def preview_template(
    *,
    kind: str,
    subject: str | None = None,
    body_text: str | None = None,
    body_html: str | None = None,
) -> texts.Rendered:
    """Render a template (the one in use, or the given text) with sample values; raise
    TemplateInvalid if it names an unknown placeholder. Writes nothing."""
    current, _ = selectors.template_of(_kind(kind))
    text = _checked_text(
        kind,
        current.subject if subject is None else subject,
        current.body_text if body_text is None else body_text,
        current.body_html if body_html is None else body_html,
    )
    return texts.render(text, texts.SAMPLE)


def set_template(
    *, actor: Actor, kind: str, subject: str, body_text: str, body_html: str = ""
) -> MessageTemplate:
    """Save the text of one kind of message (checked first, audited)."""
    text = _checked_text(_kind(kind), subject, body_text, body_html)
    with transaction.atomic():
        now = timezone.now()
        before, _ = selectors.template_of(kind)
        row, _ = MessageTemplate.objects.update_or_create(
            kind=kind,
            defaults={
                "subject": text.subject,
                "body_text": text.body_text,
                "body_html": text.body_html,
                "updated_at": now,
                "updated_by": actor if getattr(actor, "is_authenticated", False) else None,
            },
        )
        audit.record(
            actor=actor,
            action="notifications.template_set",
            target=row,
            at=now,
            before=vars(before),
            after=vars(text),
        )
        return row


def reset_template(*, actor: Actor, kind: str) -> None:
    """Go back to the built-in text of one kind of message (audited)."""
    _kind(kind)
    with transaction.atomic():
        now = timezone.now()
        row = MessageTemplate.objects.filter(kind=kind).first()
        if row is None:
            return
        audit.record(
            actor=actor,
            action="notifications.template_reset",
            target=row,
            at=now,
            before={"subject": row.subject, "body_text": row.body_text, "body_html": row.body_html},
            after=vars(texts.DEFAULTS[kind]),
        )
        row.delete()


# --- a run --------------------------------------------------------------------------


@dataclass
class RunResult:
    """What one run did."""

    as_of: datetime
    claimed: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    #: Claimed or failed messages left for a later run (the per-run limit was reached).
    left: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "claimed": dict(self.claimed),
            "sent": self.sent,
            "failed": self.failed,
            "skipped": self.skipped,
            "left": self.left,
        }


def claim_due(*, actor: Actor, now: datetime, run_id: int | None = None) -> dict[str, int]:
    """Insert a pending message for every reminder due at ``now`` not claimed before
    (the unique constraints skip any claimed meanwhile); return how many, by kind.
    Each batch is one transaction with its audit record."""
    claimed: Counter[str] = Counter()
    created = timezone.now()
    for found in selectors.candidates(now):
        # "anchor" and "offset" are annotations (mypy's plugin knows only fields).
        rows = found.rows.order_by("pk").values_list(
            "pk", "learner_id", "package_id", "anchor", "offset"
        )  # type: ignore[misc]
        batch: list[Message] = []
        for pk, learner_id, package_id, anchor, offset in rows.iterator(chunk_size=_CLAIM_BATCH):
            batch.append(
                Message(
                    recipient_id=learner_id,
                    kind=found.kind,
                    enrollment_id=pk,
                    package_id=package_id,
                    anchor=anchor,
                    offset_days=offset,
                    run_id=run_id,
                    created_at=created,
                )
            )
            if len(batch) >= _CLAIM_BATCH:
                claimed[found.kind] += _insert(actor, found.kind, batch, created)
                batch = []
        claimed[found.kind] += _insert(actor, found.kind, batch, created)
    anchor = selectors.digest_anchor(now)
    managers = list(selectors.digest_recipients(now).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(managers), _CLAIM_BATCH):
        batch = [
            Message(
                recipient_id=manager_id,
                kind=MessageKind.MANAGER_DIGEST,
                anchor=anchor,
                offset_days=0,
                run_id=run_id,
                created_at=created,
            )
            for manager_id in managers[start : start + _CLAIM_BATCH]
        ]
        claimed[MessageKind.MANAGER_DIGEST] += _insert(
            actor, MessageKind.MANAGER_DIGEST, batch, created
        )
    return {k: claimed.get(k, 0) for k in MessageKind.values}


def _insert(actor: Actor, kind: str, batch: list[Message], at: datetime) -> int:
    if not batch:
        return 0
    with transaction.atomic():
        head = audit.lock_chain()
        # Counted by (kind, claim time), an index range: a row claimed meanwhile by
        # another run is skipped by the unique constraints and not counted here.
        mine = Message.objects.filter(kind=kind, created_at=at)
        before = mine.count()
        Message.objects.bulk_create(batch, ignore_conflicts=True)
        inserted = mine.count() - before
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="notifications.claimed",
                    target=audit.Named("notifications.message", kind, f"{kind} reminders"),
                    at=at,
                    after={"kind": kind, "claimed": inserted, "run": batch[0].run_id},
                )
            ],
            head=head,
        )
        return inserted


def _date(moment: datetime | None) -> str:
    return "none" if moment is None else f"{moment:%Y-%m-%d}"


def _learner_values(enrollment: Enrollment, user: Any, now: datetime) -> dict[str, str]:
    due = enrollment.due_in_force
    base = settings.NOTIFICATIONS_SITE_URL
    completed = enrollment.status == "completed"
    return {
        "first_name": user.first_name or user.get_username(),
        "full_name": user.get_full_name() or user.get_username(),
        "package": enrollment.package.name,
        "due_date": _date(due),
        "days_left": str(max((due - now).days, 0)) if due else "",
        "days_overdue": str(max((now - due).days, 0)) if due else "",
        "expires_on": _date(enrollment.expires_at),
        "completed_on": _date(enrollment.completed_at),
        "enrolled_on": _date(enrollment.enrolled_at),
        "link": f"{base}/learners/{user.pk}/transcript/"
        if completed
        else f"{base}/enrollments/{enrollment.pk}/",
    }


def _compose(message: Message, now: datetime) -> texts.Rendered | str:
    """Return the message to send, or why there is nothing to send any more."""
    user = message.recipient
    if not user.is_active:
        return "the recipient is deactivated"
    if not user.email:
        return "the recipient has no email address"
    text, _ = selectors.template_of(message.kind)
    if message.kind == MessageKind.MANAGER_DIGEST:
        overdue = selectors.team_overdue(user.pk, now)
        if not overdue:
            return "nobody in the team is overdue any more"
        lines = [
            f"{r.person} — {r.package}, overdue since {_date(r.overdue_since)}" for r in overdue
        ]
        values = {
            "first_name": user.first_name or user.get_username(),
            "full_name": user.get_full_name() or user.get_username(),
            "count": str(len({r.person_id for r in overdue})),
            "people": "\n".join(lines),
            "link": f"{settings.NOTIFICATIONS_SITE_URL}/learners/",
        }
        return texts.render(text, values)
    enrollment = message.enrollment
    assert enrollment is not None
    if enrollment.withdrawn_at is not None:
        return "the enrollment was withdrawn"
    done = enrollment.status == "completed"
    if message.kind in (MessageKind.DUE_SOON, MessageKind.OVERDUE) and (
        done or enrollment.superseded_at is not None
    ):
        return "the enrollment is complete or closed"
    return texts.render(text, _learner_values(enrollment, user, now))


class _Throttle:
    """At most ``per_minute`` sends a minute: each waits until its turn."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.next_at = 0.0

    def wait(self) -> None:
        now = time.monotonic()
        if now < self.next_at:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval


def send_claimed(
    *,
    now: datetime,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Send the claimed and retryable messages, oldest first, up to ``limit``
    (NOTIFICATIONS_MAX_PER_RUN) at NOTIFICATIONS_RATE_PER_MINUTE; record each result."""
    limit = int(settings.NOTIFICATIONS_MAX_PER_RUN) if limit is None else limit
    result = RunResult(as_of=now)
    queue = selectors.retryable(timezone.now())
    ids = list(queue.order_by("pk").values_list("pk", flat=True)[:limit])
    throttle = _Throttle(float(settings.NOTIFICATIONS_RATE_PER_MINUTE))
    connection = mail.get_connection(fail_silently=False)
    try:
        for pk in ids:
            attempt = timezone.now()
            # The claim: only one worker turns this row into "sending".
            taken = (
                selectors.retryable(attempt)
                .filter(pk=pk)
                .update(
                    status=MessageStatus.SENDING,
                    attempts=F("attempts") + 1,
                    last_attempt_at=attempt,
                )
            )
            if not taken:
                continue
            message = Message.objects.select_related(
                "recipient", "enrollment", "enrollment__package"
            ).get(pk=pk)
            composed = _compose(message, now)
            if isinstance(composed, str):
                Message.objects.filter(pk=pk).update(status=MessageStatus.SKIPPED, error=composed)
                result.skipped += 1
                continue
            fields = {
                "to_address": message.recipient.email,
                "subject": composed.subject,
                "body_text": composed.body_text,
                "body_html": composed.body_html,
            }
            throttle.wait()
            try:
                email = mail.EmailMultiAlternatives(
                    subject=composed.subject,
                    body=composed.body_text,
                    to=[message.recipient.email],
                    connection=connection,
                )
                if composed.body_html:
                    email.attach_alternative(composed.body_html, "text/html")
                email.send()
            except Exception as exc:
                connection.close()
                Message.objects.filter(pk=pk).update(
                    status=MessageStatus.FAILED,
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                    **fields,
                )
                result.failed += 1
            else:
                Message.objects.filter(pk=pk).update(
                    status=MessageStatus.SENT, sent_at=timezone.now(), error="", **fields
                )
                result.sent += 1
            if progress is not None:
                progress(1)
    finally:
        connection.close()
    result.left = selectors.retryable(timezone.now()).count()
    return result


def run_reminders(
    *,
    actor: Actor,
    now: datetime | None = None,
    run_id: int | None = None,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
    claimed: Callable[[int], None] | None = None,
) -> RunResult:
    """Claim every reminder due at ``now`` (default: the clock), then send what is
    claimed and retryable; return what happened. ``claimed`` is told how many are
    queued to send, before sending starts."""
    moment = now or timezone.now()
    counts = claim_due(actor=actor, now=moment, run_id=run_id)
    if claimed is not None:
        limit_ = int(settings.NOTIFICATIONS_MAX_PER_RUN) if limit is None else limit
        claimed(min(selectors.retryable(timezone.now()).count(), limit_))
    result = send_claimed(now=moment, limit=limit, progress=progress)
    result.claimed = counts
    return result
