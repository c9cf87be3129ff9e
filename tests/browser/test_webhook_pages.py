"""The webhook pages in Chromium: an admin adds a webhook (a refused address first, the
error beside the field), copies the secret shown once, watches a failed delivery be
retried, and sends a delivered event again. Checked at 1280 and 390 px with axe."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from browser_checks import (
    click_main_nav,
    page_overflows_viewport,
    serious_accessibility_violations,
)
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect
from standardwebhooks import Webhook

from coursepack.accounts import api as accounts
from coursepack.integrations import webhooks
from coursepack.integrations.models import WebhookSubscription
from tests.factories import make_admin
from tests.webhook_receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as started:
        yield started


def _check(page: Page) -> None:
    assert serious_accessibility_violations(page) == []
    assert page_overflows_viewport(page) == 0


def test_add_a_webhook_follow_its_attempts_and_send_an_event_again(
    live_server: Any, page: Page, shoot: Any, settings: Any, receiver: Receiver
) -> None:
    admin = make_admin(username="wanda", password="webhook-pages-pw")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "wanda")
    page.fill("#id_password", "webhook-pages-pw")
    page.click("form.login button[type=submit]")
    click_main_nav(page, "Webhooks")
    expect(page.locator("h1")).to_have_text("Webhooks")

    # Private addresses are refused unless the server allows them.
    page.fill("#id_url", receiver.url)
    page.click("button:has-text('Add the webhook')")
    expect(page.locator(".error-summary")).to_contain_text("private, loopback or link-local")
    expect(page.locator("#id_url-error")).to_be_visible()
    _check(page)
    shoot(page, "webhooks-refused-address")

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60
    page.fill("#id_url", receiver.url)
    page.fill("#id_event_types", "account.created")
    page.fill("#id_description", "HR system")
    page.click("button:has-text('Add the webhook')")
    expect(page.locator("h1")).to_contain_text("Webhook to http://127.0.0.1")
    secret = page.input_value("#webhook-secret")
    assert secret.startswith("whsec_")
    _check(page)
    shoot(page, "webhook-secret-once", docs=True)

    # A person is created; the receiver fails once, then takes it.
    accounts.create_user(actor=admin, username="new-starter")
    receiver.statuses = [500]
    webhooks.deliver_due()
    page.reload()
    assert page.locator("#webhook-secret").count() == 0, "the secret is shown once"
    expect(page.locator(".webhook-attempts tbody tr")).to_have_count(1)
    expect(page.locator(".webhook-attempts")).to_contain_text("HTTP 500")
    expect(page.locator("main")).to_contain_text("Retrying (1 failed)")
    webhooks.deliver_due(now=timezone.now() + timedelta(seconds=61))
    page.reload()
    expect(page.locator(".webhook-attempts tbody tr")).to_have_count(2)
    expect(page.locator(".webhook-attempts tbody tr").first).to_contain_text("Delivered")

    # Sent again on request: queued, then the worker sends it with the same webhook-id.
    event_id = receiver.received[-1].event["id"]
    page.click(f"button:has-text('Send event {event_id} again')")
    expect(page.locator(".messages")).to_contain_text(f"Queued event {event_id}")
    call_command("run_jobs", batch=True, interval=0, stderr=StringIO(), stdout=StringIO())
    page.reload()
    expect(page.locator(".webhook-attempts tbody tr")).to_have_count(3)
    expect(page.locator(".webhook-attempts tbody tr").first).to_contain_text("sent again")
    hook = Webhook(secret)
    assert [hook.verify(d.body, d.headers)["data"]["id"] for d in receiver.received] == [
        event_id
    ] * 3
    _check(page)
    shoot(page, "webhook-attempts", docs=True)

    page.set_viewport_size({"width": 390, "height": 844})
    _check(page)
    shoot(page, "webhook-attempts-phone")
    page.goto(f"{live_server.url}/webhooks/")
    expect(page.locator(".webhook-list")).to_contain_text("HR system")
    _check(page)
    shoot(page, "webhooks-list-phone")
    assert WebhookSubscription.objects.count() == 1
