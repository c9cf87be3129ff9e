"""Smoke test of the browser stack: live_server + Playwright + Chromium + the database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer


def test_superuser_logs_into_the_admin(
    live_server: LiveServer, page: Page, screenshot: Callable[[Page, str], Path]
) -> None:
    """A superuser created in the test can log into /admin/ and sees the admin index."""
    get_user_model().objects.create_superuser(
        username="smoke-admin", email="smoke@example.com", password="smoke-password-1"
    )

    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("smoke-admin")
    page.get_by_label("Password").fill("smoke-password-1")
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    expect(page.get_by_role("link", name="Users")).to_be_visible()
    expect(page.locator("#user-tools")).to_contain_text("smoke-admin")
    path = screenshot(page, "admin-index")
    assert path.stat().st_size > 0
