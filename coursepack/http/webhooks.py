"""Webhook subscriptions and their delivery attempts (ADR 0029)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import StrictBool, StrictInt

from coursepack.http.auth import ADMIN, READERS, require
from coursepack.http.pagination import PageParams, page_of, paginate
from coursepack.http.problems import responses
from coursepack.http.schemas import Input
from coursepack.integrations import selectors, webhooks
from coursepack.integrations.models import WebhookSubscription
from coursepack.integrations.tasks import redeliver_task

router = Router()

#: The path parameter of one subscription.
WebhookId = Annotated[int, Path(description="The webhook subscription's id.")]

_EXAMPLE_URL = "https://hr.example.com/hooks/coursepack"

EventType = Annotated[
    str,
    Field(
        min_length=3,
        max_length=100,
        pattern=r"^[a-z_]+(\.[a-z_]+)+$",
        description="A type of the events feed, e.g. `completion.recorded`.",
        examples=["completion.recorded"],
    ),
]
Url = Annotated[
    str,
    Field(
        min_length=8,
        max_length=2000,
        description=(
            "Where to POST the events: an http:// or https:// URL on a public address "
            "(private, loopback and link-local addresses are refused unless the server "
            "allows them)."
        ),
        examples=[_EXAMPLE_URL],
    ),
]
Description = Annotated[
    str, Field(max_length=200, description="What the subscription is for, for people.")
]


class WebhookOut(Schema):
    id: int = Field(description="The subscription's id.")
    url: str = Field(description="Where the events are POSTed.")
    description: str = Field(description="What it is for.")
    event_types: list[str] = Field(
        description="The event types delivered; empty: every type of the events feed."
    )
    active: bool = Field(
        description="Whether events are delivered. False after an admin disabled it, or after "
        "too many failed attempts in a row (see `disabled_reason`)."
    )
    disabled_reason: str = Field(description="Why delivery stopped by itself; empty otherwise.")
    cursor: int = Field(
        description="The id of the last event handled; the next delivery is the first later "
        "event of a wanted type."
    )
    failures: int = Field(description="Failed attempts in a row at the next event.")
    next_attempt_at: datetime | None = Field(
        description="No attempt before this (back-off after a failure); null: at once."
    )
    created_at: datetime = Field(description="When it was created.")
    updated_at: datetime = Field(description="When it was last changed.")


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="The signing secret (`whsec_…`, Standard Webhooks). Shown only now: "
        "store it where the receiver verifies signatures."
    )


class WebhookIn(Input):
    url: Url
    event_types: list[EventType] = Field(
        [],
        max_length=100,
        description="Deliver only these event types; empty (the default): every type.",
        examples=[["completion.recorded", "completion.voided"]],
    )
    description: Description = ""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "url": _EXAMPLE_URL,
                    "event_types": ["completion.recorded"],
                    "description": "HR system",
                }
            ]
        }
    }


class WebhookPatch(Input):
    url: Url | None = None
    event_types: list[EventType] | None = Field(
        None, max_length=100, description="The event types to deliver; empty: every type."
    )
    description: Description | None = None
    active: StrictBool | None = Field(
        None,
        description="false: stop delivering; true: deliver again, resuming at the event "
        "after the cursor, with the failures cleared.",
    )

    model_config = {"json_schema_extra": {"examples": [{"active": True}]}}


class AttemptOut(Schema):
    id: int = Field(description="The attempt's id.")
    event_id: int = Field(description="The event sent (its `id` in the events feed).")
    event_type: str = Field(description="The event's type.")
    attempted_at: datetime = Field(description="When it was sent.")
    outcome: Literal["delivered", "failed"] = Field(
        description="`delivered`: the receiver answered 2xx; `failed`: anything else."
    )
    response_status: int | None = Field(
        description="The HTTP status the receiver answered; null: no answer (timeout, "
        "refused connection, refused address)."
    )
    duration_ms: int = Field(description="How long the attempt took, in milliseconds.")
    error: str = Field(description="What went wrong; empty on success.")
    redelivery: bool = Field(description="Whether an admin asked for it to be sent again.")


class RedeliveryIn(Input):
    event_id: StrictInt = Field(
        ge=1,
        le=2**62,
        description="The event to send again (one the subscription has delivered or tried).",
        examples=[1234],
    )

    model_config = {"json_schema_extra": {"examples": [{"event_id": 1234}]}}


class RedeliveryOut(Schema):
    webhook_id: int = Field(description="The subscription.")
    event_id: int = Field(description="The event queued to be sent again.")
    event_type: str = Field(description="The event's type.")


class AttemptFilters(Schema):
    event_id: int | None = Field(
        None, ge=1, le=2**62, description="Only the attempts at this event."
    )


def _out(subscription: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": subscription.pk,
        "url": subscription.url,
        "description": subscription.description,
        "event_types": list(subscription.event_types),
        "active": subscription.active,
        "disabled_reason": subscription.disabled_reason,
        "cursor": subscription.cursor,
        "failures": subscription.failures,
        "next_attempt_at": subscription.next_attempt_at,
        "created_at": subscription.created_at,
        "updated_at": subscription.updated_at,
    }


@router.get("/webhooks", response=responses({200: page_of(WebhookOut)}), tags=["webhooks"])
def list_webhooks(request: HttpRequest, page: Query[PageParams]) -> Any:
    """List the webhook subscriptions (never their secrets), oldest first."""
    require(request, *READERS)
    result = paginate(WebhookSubscription.objects.all(), page, request)
    result["items"] = [_out(s) for s in result["items"]]
    return result


@router.post("/webhooks", response=responses({201: WebhookCreated}), tags=["webhooks"])
def create_webhook(request: HttpRequest, body: WebhookIn) -> Any:
    """Subscribe a URL to the events feed: every later event of the chosen types is
    POSTed to it in order, signed as Standard Webhooks says (`webhook-id`,
    `webhook-timestamp`, `webhook-signature`). The signing secret is in this
    response only."""
    actor = require(request, *ADMIN)
    created = webhooks.create_subscription(
        actor=actor, url=body.url, event_types=body.event_types, description=body.description
    )
    return Status(201, {**_out(created.subscription), "secret": created.secret})


@router.get("/webhooks/{webhook_id}", response=responses({200: WebhookOut}, 404), tags=["webhooks"])
def get_webhook(request: HttpRequest, webhook_id: WebhookId) -> Any:
    """One webhook subscription: where it sends, how far it is, whether it is failing."""
    require(request, *READERS)
    return _out(selectors.subscription(webhook_id))


@router.patch(
    "/webhooks/{webhook_id}", response=responses({200: WebhookOut}, 404), tags=["webhooks"]
)
def change_webhook(request: HttpRequest, webhook_id: WebhookId, body: WebhookPatch) -> Any:
    """Change a subscription's URL, event types or description, or disable / enable it
    (enabling clears its failures and retries at once)."""
    actor = require(request, *ADMIN)
    given = body.model_fields_set
    changes = {k: getattr(body, k) for k in given if getattr(body, k) is not None}
    return _out(webhooks.update_subscription(actor=actor, subscription_id=webhook_id, **changes))


@router.delete("/webhooks/{webhook_id}", response=responses({204: None}, 404), tags=["webhooks"])
def delete_webhook(request: HttpRequest, webhook_id: WebhookId) -> Any:
    """Delete a subscription and its attempts; nothing more is sent to it."""
    actor = require(request, *ADMIN)
    webhooks.delete_subscription(actor=actor, subscription_id=webhook_id)
    return Status(204, None)


@router.post(
    "/webhooks/{webhook_id}/secret",
    response=responses({200: WebhookCreated}, 404),
    tags=["webhooks"],
)
def rotate_webhook_secret(request: HttpRequest, webhook_id: WebhookId) -> Any:
    """Give the subscription a new signing secret (in this response only). For a day,
    deliveries carry a second signature made with the old one."""
    actor = require(request, *ADMIN)
    rotated = webhooks.rotate_secret(actor=actor, subscription_id=webhook_id)
    return {**_out(rotated.subscription), "secret": rotated.secret}


@router.get(
    "/webhooks/{webhook_id}/attempts",
    response=responses({200: page_of(AttemptOut)}, 404),
    tags=["webhooks"],
)
def list_webhook_attempts(
    request: HttpRequest,
    webhook_id: WebhookId,
    page: Query[PageParams],
    filters: Query[AttemptFilters],
) -> Any:
    """Every delivery attempt of a subscription, oldest first: outcome, HTTP status,
    duration and error."""
    require(request, *READERS)
    subscription = selectors.subscription(webhook_id)
    rows = subscription.attempts.all()
    if filters.event_id is not None:
        rows = rows.filter(event_id=filters.event_id)
    return paginate(rows, page, request)


@router.post(
    "/webhooks/{webhook_id}/redeliveries",
    response=responses({202: RedeliveryOut}, 404, 409),
    tags=["webhooks"],
)
def redeliver(request: HttpRequest, webhook_id: WebhookId, body: RedeliveryIn) -> Any:
    """Send an event to the subscription again (202: queued; the attempt appears in
    its attempts, marked `redelivery`). The same `webhook-id` lets the receiver
    recognise it."""
    actor = require(request, *ADMIN)
    event = webhooks.request_redelivery(
        actor=actor, subscription_id=webhook_id, event_id=body.event_id
    )
    transaction.on_commit(
        lambda: redeliver_task.enqueue(subscription_id=webhook_id, event_id=event.id)
    )
    return Status(202, {"webhook_id": webhook_id, "event_id": event.id, "event_type": event.type})
