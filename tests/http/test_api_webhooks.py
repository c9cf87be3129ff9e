"""Webhooks: subscriptions managed by admins; deliveries signed as Standard Webhooks says,
in commit order, retried with back-off, recorded, redeliverable (ADR 0029).

A receiver this module starts on 127.0.0.1 (``http.server`` in a thread) records
what it is sent and verifies every signature with the ``standardwebhooks`` package.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from api_helpers import Caller, make_caller, problem
from django.core.management import call_command
from django.utils import timezone
from standardwebhooks import Webhook

from coursepack.audit.models import AuditEvent
from coursepack.integrations import webhooks
from coursepack.integrations.models import WebhookAttempt, WebhookSubscription
from tests.webhook_receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as started:
        yield started


@pytest.fixture
def local(settings: Any) -> None:
    """Let the tests deliver to 127.0.0.1, and retry without waiting."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    settings.WEBHOOK_TIMEOUT_SECONDS = 5


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    return problem(response)


def _subscribe(admin: Caller, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    response = admin.call("POST", "/webhooks", {"url": receiver.url, **fields})
    assert response.status_code == 201, response.content
    return response.json()


def _verified(secret: str, receiver: Receiver) -> list[dict[str, Any]]:
    """Every delivery's payload, each signature checked by the standardwebhooks package."""
    hook = Webhook(secret)
    payloads = []
    for delivery in receiver.received:
        payloads.append(hook.verify(delivery.body, delivery.headers))
        assert delivery.headers["webhook-id"] == str(delivery.event["id"])
    return payloads


def _audited_writes(admin: Caller, count: int) -> list[int]:
    """Create ``count`` users (each an ``account.created`` event); return their ids."""
    ids = []
    for n in range(count):
        response = admin.call("POST", "/users", {"username": f"hooked-{n}"})
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


@pytest.mark.django_db(transaction=True)
def test_the_worker_delivers_signed_events_in_order_and_never_twice(
    local: None, receiver: Receiver
) -> None:
    """Given a subscription to account.created, three users created: the worker
    (`run_jobs`) POSTs each creation once, in commit order, signed with the secret;
    a second run sends nothing again; every attempt is recorded as delivered."""
    admin = make_caller(role="admin")
    created = _subscribe(admin, receiver, event_types=["account.created"])
    users = _audited_writes(admin, 3)
    admin.call("POST", f"/users/{users[0]}/role", {"role": "auditor"})  # not subscribed

    call_command("run_jobs", batch=True, interval=0, stderr=StringIO(), stdout=StringIO())

    payloads = _verified(created["secret"], receiver)
    assert [p["type"] for p in payloads] == ["account.created"] * 3
    assert [int(p["data"]["subject"]["id"]) for p in payloads] == users
    ids = [p["data"]["id"] for p in payloads]
    assert ids == sorted(ids)
    call_command("run_jobs", batch=True, interval=0, stderr=StringIO(), stdout=StringIO())
    assert len(receiver.received) == 3
    attempts = admin.call("GET", f"/webhooks/{created['id']}/attempts").json()
    assert [(a["event_id"], a["outcome"], a["response_status"]) for a in attempts["items"]] == [
        (i, "delivered", 200) for i in ids
    ]
    hook = admin.call("GET", f"/webhooks/{created['id']}").json()
    assert hook["cursor"] >= ids[-1] and hook["failures"] == 0


def test_a_failed_delivery_is_retried_after_back_off_and_holds_back_later_events(
    local: None, settings: Any, admin: Caller, receiver: Receiver
) -> None:
    """The receiver answers 500 once: that attempt is recorded as failed with its status,
    nothing after it is sent, the next attempt waits for the back-off; then the same
    event (same webhook-id) and the one after it are delivered, in order."""
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60
    created = _subscribe(admin, receiver, event_types=["account.created"])
    users = _audited_writes(admin, 2)
    receiver.statuses = [500]

    webhooks.deliver_due()

    assert len(receiver.received) == 1
    (failed,) = admin.call("GET", f"/webhooks/{created['id']}/attempts").json()["items"]
    assert failed["outcome"] == "failed" and failed["response_status"] == 500
    assert failed["error"].startswith("HTTP 500")
    hook = admin.call("GET", f"/webhooks/{created['id']}").json()
    assert hook["failures"] == 1 and hook["next_attempt_at"] is not None
    webhooks.deliver_due()  # within the back-off: nothing is sent
    assert len(receiver.received) == 1

    webhooks.deliver_due(now=timezone.now() + timedelta(seconds=61))

    payloads = _verified(created["secret"], receiver)
    assert [int(p["data"]["subject"]["id"]) for p in payloads] == [users[0], users[0], users[1]]
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    assert admin.call("GET", f"/webhooks/{created['id']}").json()["failures"] == 0


def test_a_failing_endpoint_is_disabled_after_the_maximum_failures_and_resumes_when_enabled(
    local: None, settings: Any, admin: Caller, receiver: Receiver
) -> None:
    """After WEBHOOK_MAX_FAILURES failures in a row the subscription is disabled (on the
    audit log, with the reason); enabled again, it delivers the event that failed."""
    settings.WEBHOOK_MAX_FAILURES = 3
    created = _subscribe(admin, receiver, event_types=["account.created"])
    (user,) = _audited_writes(admin, 1)
    receiver.statuses = [503, 503, 503]

    for _ in range(4):
        webhooks.deliver_due()

    assert len(receiver.received) == 3
    hook = admin.call("GET", f"/webhooks/{created['id']}").json()
    assert hook["active"] is False and "3 failed attempts" in hook["disabled_reason"]
    assert AuditEvent.objects.filter(
        action="webhook.disabled", target_id=str(created["id"])
    ).exists()

    enabled = admin.call("PATCH", f"/webhooks/{created['id']}", {"active": True}).json()
    assert enabled["active"] and enabled["failures"] == 0
    webhooks.deliver_due()

    assert [int(e["subject"]["id"]) for e in receiver.events()] == [user] * 4


def test_an_admin_redelivers_an_event_with_the_same_webhook_id(
    local: None, admin: Caller, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    """A delivered event sent again at an admin's request (202, then the worker's task):
    the receiver gets the same webhook-id, newly signed; the attempt is marked a redelivery;
    an event the subscription has not reached is refused (409)."""
    created = _subscribe(admin, receiver, event_types=["account.created"])
    _audited_writes(admin, 1)
    webhooks.deliver_due()
    (first,) = receiver.received
    event_id = first.event["id"]

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin.call(
            "POST", f"/webhooks/{created['id']}/redeliveries", {"event_id": event_id}
        )
    assert response.status_code == 202, response.content
    assert len(queued) == 1
    webhooks.send_again(subscription_id=created["id"], event_id=event_id)

    payloads = _verified(created["secret"], receiver)
    assert [p["data"]["id"] for p in payloads] == [event_id, event_id]
    attempts = admin.call("GET", f"/webhooks/{created['id']}/attempts").json()["items"]
    assert [a["redelivery"] for a in attempts] == [False, True]
    later = AuditEvent.objects.order_by("-id").first().pk + 1000  # type: ignore[union-attr]
    refused = admin.call("POST", f"/webhooks/{created['id']}/redeliveries", {"event_id": later})
    assert _problem(refused, 409)["code"] == "event_not_delivered"


def test_a_rotated_secret_signs_beside_the_old_one_and_secrets_are_shown_once(
    local: None, admin: Caller, receiver: Receiver
) -> None:
    """After a rotation each delivery verifies with the new secret and with the old one
    (for the overlap); neither GET nor the audit log ever shows a secret."""
    created = _subscribe(admin, receiver)
    rotated = admin.call("POST", f"/webhooks/{created['id']}/secret").json()
    assert rotated["secret"] != created["secret"]
    _audited_writes(admin, 1)

    webhooks.deliver_due()

    assert _verified(rotated["secret"], receiver)
    assert _verified(created["secret"], receiver)
    listed = admin.call("GET", "/webhooks").json()["items"]
    assert listed and all("secret" not in h for h in listed)
    records = AuditEvent.objects.filter(action__startswith="webhook.")
    assert records.count() == 2
    assert not [r for r in records if created["secret"] in json.dumps([r.before, r.after])]
    # Webhook settings are not records an integration syncs: not in the feed.
    feed = admin.call("GET", "/events?limit=1000").json()["items"]
    assert not [e for e in feed if e["type"].startswith("webhook.")]


def test_private_addresses_are_refused_unless_allowed(admin: Caller, receiver: Receiver) -> None:
    """Without the setting, loopback and private URLs are 422; other schemes too."""
    for url in (
        receiver.url,
        "http://localhost:8000/x",
        "http://10.1.2.3/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
        "ftp://example.com/x",
        "https://user:pw@example.com/x",
    ):
        response = admin.call("POST", "/webhooks", {"url": url})
        assert _problem(response, 422)["code"] == "invalid_input", url
    assert not WebhookSubscription.objects.exists()


def test_a_name_resolving_to_a_private_address_fails_at_delivery(
    settings: Any, admin: Caller, receiver: Receiver
) -> None:
    """A host name is checked when delivering: one that resolves to loopback is never
    called; the attempt records why."""
    url = receiver.url.replace("127.0.0.1", "localhost.")
    # The URL check resolves no names; the worker does, and refuses this one.
    hook = _subscribe_url(admin, url)
    _audited_writes(admin, 1)

    webhooks.deliver_due()

    assert receiver.received == []
    (attempt,) = WebhookAttempt.objects.filter(subscription_id=hook["id"])
    assert attempt.outcome == "failed" and attempt.response_status is None
    assert "private, loopback or link-local" in attempt.error or "resolve" in attempt.error


def _subscribe_url(admin: Caller, url: str) -> dict[str, Any]:
    response = admin.call("POST", "/webhooks", {"url": url})
    assert response.status_code == 201, response.content
    return response.json()


def test_changes_and_deletion_are_audited_and_validated(admin: Caller, receiver: Receiver) -> None:
    """PATCH changes only what is given (audited with before/after); bad types are 422
    naming the field; DELETE is 204 and the subscription is gone (404)."""
    hook = _subscribe_url(admin, "https://hooks.example.com/coursepack")
    changed = admin.call(
        "PATCH", f"/webhooks/{hook['id']}", {"event_types": ["completion.recorded"]}
    )
    assert changed.status_code == 200 and changed.json()["event_types"] == ["completion.recorded"]
    assert changed.json()["url"] == "https://hooks.example.com/coursepack"
    record = AuditEvent.objects.get(action="webhook.changed")
    assert record.before == {"event_types": []}
    assert record.after == {"event_types": ["completion.recorded"]}
    refused = admin.call("PATCH", f"/webhooks/{hook['id']}", {"event_types": ["token.issued"]})
    assert "event_types" in json.dumps(_problem(refused, 422))

    assert admin.call("DELETE", f"/webhooks/{hook['id']}").status_code == 204
    assert _problem(admin.call("GET", f"/webhooks/{hook['id']}"), 404)["code"] == (
        "webhook_not_found"
    )
    assert AuditEvent.objects.filter(action="webhook.deleted").count() == 1
