"""Your API tokens in Chromium: a learner opens the page from the top bar, is refused a
lifetime past the maximum beside the field, creates a token (its secret shown once, and
it works against the API), and revokes it. Checked at 1280 and 390 px with axe."""

from __future__ import annotations

from typing import Any

from browser_checks import page_overflows_viewport, serious_accessibility_violations
from django.test import Client
from playwright.sync_api import Page, expect

from coursepack.accounts import api as accounts
from coursepack.audit.models import AuditEvent
from tests.factories import make_learner


def _check(page: Page) -> None:
    assert serious_accessibility_violations(page) == []
    assert page_overflows_viewport(page) == 0


def test_create_use_and_revoke_your_own_api_token(
    live_server: Any, page: Page, shoot: Any, settings: Any
) -> None:
    settings.API_TOKEN_MAX_DAYS = 365
    learner = make_learner(username="tomas", password="own-tokens-pw")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "tomas")
    page.fill("#id_password", "own-tokens-pw")
    page.click("form.login button[type=submit]")
    page.click("a.own-tokens-link")
    expect(page.locator("h1")).to_have_text("Your API tokens")
    expect(page.locator("main")).to_contain_text("You have no API tokens.")

    # A lifetime past the server's maximum: refused, the error beside the field.
    page.fill("#id_name", "Reporting script")
    page.fill("#id_expires_in_days", "400")
    page.click("button:has-text('Create token')")
    expect(page.locator(".error-summary")).to_contain_text("Days until it expires")
    expect(page.locator("#id_expires_in_days-error")).to_contain_text("from 1 to 365")
    _check(page)
    shoot(page, "own-tokens-refused")

    page.fill("#id_expires_in_days", "30")
    page.click("button:has-text('Create token')")
    secret = page.input_value("#issued-token")
    assert secret.startswith("cp_")
    expect(page.locator("table.tokens tbody tr")).to_have_count(1)
    _check(page)
    shoot(page, "own-tokens-created", docs=True)
    api = Client(headers={"Authorization": f"Bearer {secret}"})
    assert api.get("/api/v1/me").json()["username"] == "tomas"

    page.reload()
    assert page.locator("#issued-token").count() == 0, "the secret is shown once"

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    _check(page)
    shoot(page, "own-tokens-phone")

    page.click("button:has-text('Revoke “Reporting script”')")
    expect(page.locator(".messages")).to_contain_text("it no longer works")
    expect(page.locator("table.tokens tbody tr").first).to_contain_text("Revoked")
    assert api.get("/api/v1/me").status_code == 401
    assert accounts.tokens_of(learner.pk)[0].revoked_at is not None
    actions = set(AuditEvent.objects.filter(actor_label="tomas").values_list("action", flat=True))
    assert {"token.issued", "token.revoked"} <= actions
    _check(page)
    shoot(page, "own-tokens-revoked")
