"""Reads for integrators: the events feed.

The feed is the audit log seen from outside. Every audited write appends its
records while holding the audit chain's lock until it commits (ADRs 0009,
0019), so record ids are handed out in commit order: a reader that has seen
every record up to id N will never later find a committed record below N. A
cursor that is "the last id read" therefore never skips an event, however many
writers run at once (ADR 0029).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connections
from django.db.models import TextField
from django.db.models.functions import Cast

from coursepack.audit.models import AuditEvent
from coursepack.integrations.errors import WebhookNotFound
from coursepack.integrations.models import WebhookAttempt, WebhookSubscription

__all__ = [
    "FEED_PAGE_MAX",
    "PRIVATE_ACTIONS",
    "SUBJECT_TYPES",
    "FeedEvent",
    "FeedRow",
    "attempts_of",
    "events_after",
    "feed_event",
    "feed_items",
    "feed_rows",
    "is_feed_type",
    "iter_feed",
    "subscription",
    "subscriptions",
]

#: The most events one page of the feed holds.
FEED_PAGE_MAX = 1000

#: Audit actions that are not changes to the records an integration keeps in
#: sync: sign-ins and their failures, passwords and tokens (secrets), jobs,
#: webhook subscriptions.
PRIVATE_ACTIONS = frozenset(
    {
        "account.signed_in",
        "account.signed_out",
        "account.signed_out_idle",
        "account.sign_in_failed",
        "account.locked_out",
        "account.password_reset",
        "account.password_set",
        "token.issued",
        "token.revoked",
        "job.queued",
        "job.finished",
        # Webhook subscriptions: the integrations' own settings, not records.
        "webhook.created",
        "webhook.changed",
        "webhook.secret_rotated",
        "webhook.deleted",
        "webhook.disabled",
        "webhook.redelivery_requested",
    }
)

#: What the feed calls the things the audit log names by model label.
SUBJECT_TYPES = {
    "auth.user": "user",
    "catalog.course": "course",
    "learning.completionevent": "completion",
    "learning.enrollment": "enrollment",
    "learning.equivalence": "equivalence",
    "learning.exemption": "exemption",
    "packaging.coursegroup": "group",
    "packaging.coursegroupversion": "group_version",
    "packaging.package": "package",
    "packaging.packageversion": "version",
}


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One change, as the feed tells it."""

    # In the order of _FIELDS: built positionally, one per row.
    id: int
    type: str
    occurred_at: datetime
    actor: str
    subject_type: str
    subject_id: str
    subject_label: str
    package_id: int | None
    before: dict[str, Any] | None
    data: dict[str, Any] | None
    notes: str


def is_feed_type(action: str) -> bool:
    """Return whether records of ``action`` appear in the feed."""
    return action not in PRIVATE_ACTIONS


_FIELDS = (
    "id",
    "action",
    "occurred_at",
    "actor_label",
    "target_type",
    "target_id",
    "target_label",
    "package_id",
    "before",
    "after",
    "notes",
)


def _event(row: tuple[Any, ...]) -> FeedEvent:
    pk, action, at, actor, target_type, *rest = row
    return FeedEvent(pk, action, at, actor, SUBJECT_TYPES.get(target_type, target_type), *rest)


def _feed(after_id: int, types: Iterable[str] | None) -> Any:
    rows = AuditEvent.objects.filter(id__gt=after_id)
    wanted = sorted(set(types or ()))
    if wanted:
        rows = rows.filter(action__in=[t for t in wanted if is_feed_type(t)])
    else:
        rows = rows.exclude(action__in=sorted(PRIVATE_ACTIONS))
    return rows.order_by("id").values_list(*_FIELDS)


def _when(value: Any) -> datetime:
    # SQLite's driver parses the stored UTC text into a naive datetime; PostgreSQL's
    # gives an aware one.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _page_query(after_id: int, types: Iterable[str] | None, limit: int) -> Any:
    """Return the SQL and parameters of a feed page, or None if no type asked for is public.

    On SQLite the time is selected as its stored text (UTC): the driver would
    otherwise parse it with Django's regular expression, and making the result
    aware costs more again; ``fromisoformat`` with the offset does both at once.
    """
    wanted = [t for t in sorted(set(types or ())) if is_feed_type(t)]
    if types and not wanted:
        return None
    rows = _feed(after_id, wanted or None)
    if connections[rows.db].vendor == "sqlite":
        fields = list(_FIELDS)
        fields[2] = "at_text"
        rows = rows.annotate(at_text=Cast("occurred_at", TextField())).values_list(*fields)
    return rows[:limit]


#: One event as ``feed_rows`` returns it: the fields of FeedEvent, in its order.
FeedRow = tuple[int, str, datetime, str, str, str, str, int | None, Any, Any, str]


def _fetch(query: Any) -> list[tuple[Any, ...]]:
    sql, params = query.query.sql_with_params()
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _shaped(query: Any) -> list[FeedRow]:
    """Return a feed page's rows as plain tuples in FeedEvent's field order: times as aware
    UTC moments, subjects by their public type, change data decoded."""
    subjects = SUBJECT_TYPES
    loads = json.loads
    return [
        (
            pk,
            action,
            _when(at),
            actor,
            subjects.get(target_type, target_type),
            target_id,
            label,
            package,
            loads(before) if before.__class__ is str else before,
            loads(after) if after.__class__ is str else after,
            notes,
        )
        for (
            pk,
            action,
            at,
            actor,
            target_type,
            target_id,
            label,
            package,
            before,
            after,
            notes,
        ) in _fetch(query)
    ]


def feed_rows(after_id: int, types: Iterable[str] | None, limit: int) -> list[FeedRow]:
    """Return up to ``limit`` events after ``after_id`` as plain tuples in FeedEvent's
    field order (oldest first; only ``types`` when given)."""
    query = _page_query(after_id, types, limit)
    return [] if query is None else _shaped(query)


def feed_items(
    after_id: int, types: Iterable[str] | None, limit: int, *, cursor: Callable[[int], str]
) -> list[dict[str, Any]]:
    """Return up to ``limit`` events after ``after_id`` as the feed's JSON objects (the
    API's ``EventOut``; ``cursor`` gives an event id's cursor), oldest first.

    The ORM's query, read off the cursor and shaped in one pass: a page is up to
    1,000 events, and per-row model converters and intermediate objects cost more
    than the query itself (ADR 0029, the events benchmark).
    """
    query = _page_query(after_id, types, limit)
    if query is None:
        return []
    return [
        {
            "id": pk,
            "cursor": cursor(pk),
            "type": action,
            "occurred_at": at,
            "actor": actor,
            "subject": {"type": subject_type, "id": target_id, "label": label},
            "package_id": package,
            "before": before,
            "data": after,
            "notes": notes,
        }
        for (
            pk,
            action,
            at,
            actor,
            subject_type,
            target_id,
            label,
            package,
            before,
            after,
            notes,
        ) in _shaped(query)
    ]


def events_after(
    after_id: int, *, limit: int = 100, types: Iterable[str] | None = None
) -> tuple[list[FeedEvent], bool]:
    """Return the feed's events after ``after_id`` (oldest first, at most ``limit``),
    and whether more followed; only events of ``types`` when given."""
    limit = max(1, min(limit, FEED_PAGE_MAX))
    rows = feed_rows(after_id, types, limit + 1)
    return [FeedEvent(*r) for r in rows[:limit]], len(rows) > limit


def iter_feed(
    after_id: int = 0, *, page: int = FEED_PAGE_MAX, types: Iterable[str] | None = None
) -> Iterator[FeedEvent]:
    """Yield every event after ``after_id`` page by page, as a client reading by cursor does."""
    while True:
        events, more = events_after(after_id, limit=page, types=types)
        yield from events
        if not more:
            return
        after_id = events[-1].id


def feed_event(event_id: int) -> FeedEvent | None:
    """Return one event of the feed, or None if there is no such (public) event."""
    row = (
        AuditEvent.objects.filter(pk=event_id)
        .exclude(action__in=sorted(PRIVATE_ACTIONS))
        .values_list(*_FIELDS)
        .first()
    )
    return _event(row) if row is not None else None


def subscriptions() -> list[WebhookSubscription]:
    """Return every webhook subscription, oldest first."""
    return list(WebhookSubscription.objects.order_by("id"))


def subscription(subscription_id: int) -> WebhookSubscription:
    """Return one webhook subscription, or raise WebhookNotFound."""
    found = WebhookSubscription.objects.filter(pk=subscription_id).first()
    if found is None:
        raise WebhookNotFound(f"There is no webhook subscription with id {subscription_id}.")
    return found


def attempts_of(subscription_id: int, *, before_id: int | None = None, limit: int = 50) -> Any:
    """Return a subscription's delivery attempts, newest first (ids below ``before_id``)."""
    rows = WebhookAttempt.objects.filter(subscription_id=subscription_id).order_by("-id")
    if before_id is not None:
        rows = rows.filter(id__lt=before_id)
    return rows[:limit]
