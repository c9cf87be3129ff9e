"""Webhooks: admins subscribe a URL to the events feed; the worker POSTs each event.

Services (each one transaction, audited): ``create_subscription``,
``update_subscription``, ``rotate_secret``, ``delete_subscription`` and
``request_redelivery``. The delivery worker (``deliver_due``, run by the
django-tasks task in ``integrations.tasks``) follows the feed from each
subscription's cursor, so deliveries come in commit order and none is skipped
(ADR 0029). Each delivery is signed as the Standard Webhooks specification says:
``webhook-id`` (the event id), ``webhook-timestamp`` and ``webhook-signature:
v1,<base64 HMAC-SHA256 of "id.timestamp.body">``.

An event that fails holds back the ones after it and is retried with
exponential back-off; after ``WEBHOOK_MAX_FAILURES`` failures in a row the
subscription is disabled (audited) until an admin enables it again, when it
resumes at that event. Delivery is at least once: a receiver deduplicates by
``webhook-id``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.audit.models import AuditChainHead
from coursepack.integrations import selectors
from coursepack.integrations.errors import EventNotDelivered, WebhookNotFound
from coursepack.integrations.models import WebhookAttempt, WebhookSubscription
from coursepack.integrations.selectors import FeedEvent
from coursepack.validation import Problems, collecting

__all__ = [
    "CreatedSubscription",
    "create_subscription",
    "delete_subscription",
    "deliver_due",
    "deliveries_due",
    "payload",
    "request_redelivery",
    "rotate_secret",
    "send_again",
    "sign",
    "update_subscription",
]

#: Events one worker pass sends to one subscription at most (then the next pass goes on).
PASS_EVENTS = 200
_SECRET_PREFIX = "whsec_"
_TYPE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
_USER_AGENT = "Coursepack-Webhooks/1"


# --- signing ------------------------------------------------------------------


def _new_secret() -> str:
    return _SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``v1,<signature>`` of one delivery, as Standard Webhooks defines it."""
    key = base64.b64decode(secret.removeprefix(_SECRET_PREFIX))
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def payload(event: FeedEvent) -> bytes:
    """Return the JSON body POSTed for ``event``: its type, time and the feed's facts."""
    return json.dumps(
        {
            "type": event.type,
            "timestamp": event.occurred_at.isoformat(),
            "data": {
                "id": event.id,
                "type": event.type,
                "occurred_at": event.occurred_at.isoformat(),
                "actor": event.actor,
                "subject": {
                    "type": event.subject_type,
                    "id": event.subject_id,
                    "label": event.subject_label,
                },
                "package_id": event.package_id,
                "before": event.before,
                "data": event.data,
                "notes": event.notes,
            },
        },
        separators=(",", ":"),
        default=str,
    ).encode()


# --- validation -----------------------------------------------------------------


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(settings.WEBHOOK_ALLOW_PRIVATE_TARGETS) or (ip.is_global and not ip.is_multicast)


def _check_url(problems: Problems, url: str) -> str:
    url = problems.text("url", url, max_length=2000)
    if not url:
        return url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        problems.add("url", "is not a URL")
        return url
    if parts.scheme not in ("http", "https"):
        problems.add("url", "must start with http:// or https://")
    elif not parts.hostname:
        problems.add("url", "must name a host")
    elif parts.username or parts.password:
        problems.add("url", "must not contain a user name or password")
    elif port == 0:
        problems.add("url", "must not use port 0")
    else:
        host = parts.hostname
        # Names are resolved (and checked again) when delivering; literal
        # addresses and localhost are refused at once.
        literal = host if host != "localhost" else "127.0.0.1"
        try:
            allowed = _address_allowed(literal)
        except ValueError:
            allowed = True
        if not allowed:
            problems.add(
                "url",
                "points to a private, loopback or link-local address; Coursepack only "
                "delivers to public addresses (see COURSEPACK_WEBHOOK_ALLOW_PRIVATE)",
            )
    return url


def _check_types(problems: Problems, event_types: Iterable[str]) -> list[str]:
    if isinstance(event_types, str) or not all(isinstance(t, str) for t in event_types):
        problems.add("event_types", "must be a list of event types")
        return []
    wanted = sorted(set(event_types))
    for name in wanted:
        if not _TYPE.match(name) or len(name) > 100:
            problems.add(
                "event_types", f"{name[:100]!r} is not an event type (e.g. completion.recorded)"
            )
        elif not selectors.is_feed_type(name):
            problems.add("event_types", f"{name!r} is not in the events feed")
    if len(wanted) > 100:
        problems.add("event_types", "must name at most 100 types")
    return wanted


def _found(subscription_id: int, *, lock: bool = False) -> WebhookSubscription:
    rows = WebhookSubscription.objects.all()
    if lock:
        rows = rows.select_for_update()
    found = rows.filter(pk=subscription_id).first()
    if found is None:
        raise WebhookNotFound(f"There is no webhook subscription with id {subscription_id}.")
    return found


def _facts(subscription: WebhookSubscription) -> dict[str, Any]:
    # What the audit log keeps of a subscription: never its secret.
    return {
        "url": subscription.url,
        "description": subscription.description,
        "event_types": list(subscription.event_types),
        "active": subscription.active,
    }


# --- services -------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedSubscription:
    """A new (or re-keyed) subscription and its secret: the only time it is shown."""

    subscription: WebhookSubscription
    secret: str


def _head_id() -> int:
    head = AuditChainHead.objects.filter(pk=1).values_list("last_event_id", flat=True).first()
    return int(head or 0)


def create_subscription(
    *, actor: Actor, url: str, event_types: Iterable[str] = (), description: str = ""
) -> CreatedSubscription:
    """Subscribe ``url`` to the feed's events from now on (of ``event_types``; none: all).

    Return it with its signing secret, which is not shown again.
    """
    with collecting("The webhook cannot be created.") as problems:
        url = _check_url(problems, url)
        wanted = _check_types(problems, event_types)
        description = problems.text("description", description, max_length=200, required=False)
    secret = _new_secret()
    with transaction.atomic():
        chain = audit.lock_chain()
        now = timezone.now()
        subscription = WebhookSubscription.objects.create(
            url=url,
            description=description,
            event_types=wanted,
            secret=secret,
            # From now on: events already in the feed can be read there.
            cursor=chain.last_event_id or 0,
            created_at=now,
            updated_at=now,
        )
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="webhook.created",
                    target=subscription,
                    at=now,
                    after=_facts(subscription),
                )
            ],
            head=chain,
        )
    return CreatedSubscription(subscription, secret)


def update_subscription(
    *,
    actor: Actor,
    subscription_id: int,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookSubscription:
    """Change a subscription's URL, types, description or whether it is active.

    Enabling it (again) clears its failures and back-off: the worker resumes at
    the event after its cursor, the one that failed if that is why it stopped.
    """
    with collecting("The webhook cannot be changed.") as problems:
        if url is not None:
            url = _check_url(problems, url)
        wanted = _check_types(problems, event_types) if event_types is not None else None
        if description is not None:
            description = problems.text("description", description, max_length=200, required=False)
        if active is not None and not isinstance(active, bool):
            problems.add("active", "must be true or false")
    with transaction.atomic():
        chain = audit.lock_chain()
        subscription = _found(subscription_id, lock=True)
        before = _facts(subscription)
        if url is not None:
            subscription.url = url
        if wanted is not None:
            subscription.event_types = wanted
        if description is not None:
            subscription.description = description
        if active is not None:
            if active and not subscription.active:
                subscription.failures = 0
                subscription.next_attempt_at = None
                subscription.disabled_reason = ""
            subscription.active = active
        after = _facts(subscription)
        if after == before:
            return subscription
        now = timezone.now()
        subscription.updated_at = now
        subscription.save()
        changed = [k for k in after if after[k] != before[k]]
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="webhook.changed",
                    target=subscription,
                    at=now,
                    before={k: before[k] for k in changed},
                    after={k: after[k] for k in changed},
                )
            ],
            head=chain,
        )
    return subscription


def rotate_secret(*, actor: Actor, subscription_id: int) -> CreatedSubscription:
    """Give a subscription a new signing secret and return it (shown this once).

    For ``WEBHOOK_OLD_SECRET_HOURS`` deliveries carry a signature with the old
    secret as well, so the receiver can switch without missing one.
    """
    secret = _new_secret()
    with transaction.atomic():
        chain = audit.lock_chain()
        subscription = _found(subscription_id, lock=True)
        now = timezone.now()
        subscription.previous_secret = subscription.secret
        subscription.previous_secret_until = now + timedelta(
            hours=settings.WEBHOOK_OLD_SECRET_HOURS
        )
        subscription.secret = secret
        subscription.updated_at = now
        subscription.save()
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="webhook.secret_rotated",
                    target=subscription,
                    at=now,
                    after={
                        "old_secret_valid_until": subscription.previous_secret_until.isoformat()
                    },
                )
            ],
            head=chain,
        )
    return CreatedSubscription(subscription, secret)


def delete_subscription(*, actor: Actor, subscription_id: int) -> None:
    """Delete a subscription and the record of its attempts; nothing more is sent."""
    with transaction.atomic():
        chain = audit.lock_chain()
        subscription = _found(subscription_id, lock=True)
        now = timezone.now()
        target = audit.Named(
            subscription._meta.label_lower, str(subscription.pk), str(subscription)
        )
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="webhook.deleted",
                    target=target,
                    at=now,
                    before=_facts(subscription),
                )
            ],
            head=chain,
        )
        subscription.delete()


def _wants(subscription: WebhookSubscription, event_type: str) -> bool:
    wanted = subscription.event_types
    return selectors.is_feed_type(event_type) and (not wanted or event_type in wanted)


def request_redelivery(*, actor: Actor, subscription_id: int, event_id: int) -> FeedEvent:
    """Record an admin's request to send event ``event_id`` to a subscription again.

    Only events the subscription has reached (at or before its cursor) and takes
    can be sent again; later ones are on their way in order. The caller queues
    the sending (``integrations.tasks.redeliver_task``) after this commits.
    """
    with transaction.atomic():
        chain = audit.lock_chain()
        subscription = _found(subscription_id, lock=True)
        event = selectors.feed_event(event_id)
        if event is None or not _wants(subscription, event.type):
            raise EventNotDelivered(
                f"Event {event_id} is not one this webhook delivers; see its attempts for "
                "the events it sent."
            )
        if event_id > subscription.cursor:
            raise EventNotDelivered(
                f"Event {event_id} has not been delivered yet; it will be, in order, "
                "after the events before it."
            )
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="webhook.redelivery_requested",
                    target=subscription,
                    at=timezone.now(),
                    after={"event_id": event_id},
                )
            ],
            head=chain,
        )
    return event


# --- delivery -------------------------------------------------------------------


@dataclass(frozen=True)
class _Result:
    status: int | None
    duration_ms: int
    error: str

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could lead to an address the URL check refused: it counts as a failure.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _refused_address(url: str) -> str | None:
    """Return why ``url``'s host may not be called (it resolves to a private address)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        return f"cannot resolve {host}: {exc}"
    for info in infos:
        address = str(info[4][0])
        if not _address_allowed(address):
            return f"{host} resolves to {address}, a private, loopback or link-local address"
    return None


def _signatures(subscription: WebhookSubscription, msg_id: str, at: int, body: bytes) -> str:
    signatures = [sign(subscription.secret, msg_id, at, body)]
    until = subscription.previous_secret_until
    if subscription.previous_secret and until is not None and until > timezone.now():
        signatures.append(sign(subscription.previous_secret, msg_id, at, body))
    return " ".join(signatures)


def _post(subscription: WebhookSubscription, event: FeedEvent) -> _Result:
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    refused = _refused_address(subscription.url)
    if refused:
        return _Result(None, took(), refused[:500])
    body = payload(event)
    msg_id = str(event.id)
    at = int(time.time())
    request = urllib.request.Request(
        subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(at),
            "webhook-signature": _signatures(subscription, msg_id, at, body),
        },
    )
    try:
        with _OPENER.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read(1024)
            return _Result(response.status, took(), "")
    except urllib.error.HTTPError as exc:
        text = exc.read(200).decode("utf-8", "replace") if exc.fp else ""
        return _Result(exc.code, took(), f"HTTP {exc.code}: {text}".strip()[:500])
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return _Result(None, took(), f"{type(exc).__name__}: {reason}"[:500])


def _backoff(failures: int) -> timedelta:
    seconds = settings.WEBHOOK_RETRY_BASE_SECONDS * (2 ** max(failures - 1, 0))
    return timedelta(seconds=min(seconds, settings.WEBHOOK_RETRY_MAX_SECONDS))


def _lease_seconds() -> float:
    return 2 * float(settings.WEBHOOK_TIMEOUT_SECONDS) + 30


def _take_lease(subscription_id: int, now: datetime) -> bool:
    # A conditional UPDATE: of two workers only one gets the row.
    return bool(
        WebhookSubscription.objects.filter(pk=subscription_id, active=True)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .update(leased_until=now + timedelta(seconds=_lease_seconds()))
    )


def _attempt(
    subscription: WebhookSubscription, event: FeedEvent, result: _Result, *, redelivery: bool
) -> WebhookAttempt:
    return WebhookAttempt.objects.create(
        subscription=subscription,
        event_id=event.id,
        event_type=event.type,
        attempted_at=timezone.now(),
        outcome=(
            WebhookAttempt.Outcome.DELIVERED if result.delivered else WebhookAttempt.Outcome.FAILED
        ),
        response_status=result.status,
        duration_ms=result.duration_ms,
        error=result.error,
        redelivery=redelivery,
    )


def _advance(subscription: WebhookSubscription, cursor: int, **fields: Any) -> bool:
    """Move the cursor from where this worker found it; False if another moved it."""
    moved = WebhookSubscription.objects.filter(pk=subscription.pk, cursor=subscription.cursor)
    done = bool(
        moved.update(
            cursor=cursor,
            leased_until=timezone.now() + timedelta(seconds=_lease_seconds()),
            **fields,
        )
    )
    subscription.cursor = cursor
    return done


def _failed(subscription: WebhookSubscription, event: FeedEvent, result: _Result) -> None:
    failures = subscription.failures + 1
    now = timezone.now()
    if failures < settings.WEBHOOK_MAX_FAILURES:
        WebhookSubscription.objects.filter(pk=subscription.pk).update(
            failures=failures, next_attempt_at=now + _backoff(failures)
        )
        return
    reason = (
        f"Disabled after {failures} failed attempts in a row to deliver event {event.id} "
        f"(last: {result.error or result.status})."
    )[:300]
    with transaction.atomic():
        chain = audit.lock_chain()
        subscription = _found(subscription.pk, lock=True)
        subscription.failures = failures
        subscription.active = False
        subscription.disabled_reason = reason
        subscription.next_attempt_at = None
        subscription.updated_at = now
        subscription.save()
        audit.record_all(
            [
                audit.Entry(
                    actor=None,
                    action="webhook.disabled",
                    target=subscription,
                    at=now,
                    before={"active": True},
                    after={"active": False},
                    notes=reason,
                )
            ],
            head=chain,
        )


def _deliver(subscription: WebhookSubscription) -> int:
    """Send the subscription's next events in order until one fails; return how many went."""
    # Every record up to the head's id has committed (ids are handed out in commit
    # order), so a pass that finds nothing wanted may move the cursor up to it.
    head = _head_id()
    events, more = selectors.events_after(
        subscription.cursor, limit=PASS_EVENTS, types=subscription.event_types or None
    )
    sent = 0
    for event in events:
        result = _post(subscription, event)
        with transaction.atomic():
            _attempt(subscription, event, result, redelivery=False)
            if result.delivered:
                if not _advance(subscription, event.id, failures=0, next_attempt_at=None):
                    return sent
                sent += 1
                continue
        _failed(subscription, event, result)
        return sent
    if not more and head > subscription.cursor:
        _advance(subscription, head)
    return sent


def deliveries_due(now: datetime | None = None) -> bool:
    """Return whether any active subscription has events to send now (a cheap check)."""
    now = now or timezone.now()
    due = WebhookSubscription.objects.filter(active=True, cursor__lt=_head_id()).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    return due.exists()


def deliver_due(now: datetime | None = None) -> int:
    """Deliver every active subscription's due events (one pass); return how many were sent.

    A subscription another worker is delivering is left to it (its lease).
    """
    now = now or timezone.now()
    due = (
        WebhookSubscription.objects.filter(active=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .values_list("pk", flat=True)
    )
    sent = 0
    for subscription_id in list(due):
        if not _take_lease(subscription_id, now):
            continue
        try:
            sent += _deliver(WebhookSubscription.objects.get(pk=subscription_id))
        finally:
            WebhookSubscription.objects.filter(pk=subscription_id).update(leased_until=None)
    return sent


def send_again(*, subscription_id: int, event_id: int) -> WebhookAttempt:
    """Send one event to a subscription again (a redelivery) and record the attempt.

    It does not move the cursor or count towards the failures that disable a
    subscription; it is sent even if the subscription is disabled.
    """
    subscription = _found(subscription_id)
    event = selectors.feed_event(event_id)
    if event is None:
        raise EventNotDelivered(f"There is no event {event_id} in the feed.")
    result = _post(subscription, event)
    with transaction.atomic():
        return _attempt(subscription, event, result, redelivery=True)
