"""The package list and package pages, as an admin sees them in Chromium."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import Page, expect


def _sign_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "coursepack-admin")
    page.click("form.login button[type=submit]")


def test_package_list_shows_active_archived_and_draft_versions(
    live_server, page: Page, screenshot
) -> None:
    """Given the demo data, the list shows each package's active version, its archived
    history and its draft, as the seed's package list sketch does."""
    call_command("load_demo", verbosity=0)
    _sign_in(page, live_server.url)

    cyber = page.locator("[data-section=active]", has_text="2024 Cybersecurity Training")
    expect(cyber.locator(".badge.active")).to_have_text("v2 · Active")
    expect(cyber.locator(".badge.archived")).to_have_text("v1 · Archived")
    expect(cyber.locator(".version.state-active")).to_contain_text("2 enrolled")
    expect(cyber.locator(".version.state-archived")).to_contain_text("3 enrolled · 1 completed")
    cyber_draft = page.locator("[data-section=drafts]", has_text="2024 Cybersecurity Training")
    expect(cyber_draft.locator(".badge.draft")).to_have_text("Draft v3")
    expect(cyber_draft).to_contain_text("(based on v2)")
    safety = page.locator("[data-section=drafts]", has_text="Q1 2024 Safety Training")
    expect(safety.locator(".badge")).to_have_text("Draft v1")
    # A package with a draft cannot start another: the action says why
    expect(cyber.get_by_role("button", name="Create new version")).to_be_disabled()
    expect(cyber).to_contain_text("Draft v3 already exists; edit or discard it first.")
    screenshot(page, "package-list")


def test_package_page_shows_rules_changes_and_history(live_server, page: Page, screenshot) -> None:
    """The package page shows the active version's items with their group rules,
    what changed from the previous version, and the version history."""
    call_command("load_demo", verbosity=0)
    _sign_in(page, live_server.url)
    page.locator("[data-section=active]").get_by_role(
        "link", name="2024 Cybersecurity Training"
    ).click()

    expect(page.locator(".meta .badge")).to_have_text("Version 2 · Active")
    items = page.locator("ol.items > li.item")
    expect(items.first).to_contain_text("Phishing Awareness")
    expect(
        page.locator("li.item", has_text="Cybersecurity Essentials — language").first
    ).to_contain_text("Complete 1 of 2")
    changes = page.locator("ul.changes")
    expect(changes).to_contain_text("+ Phishing Awareness (course, required)")
    expect(changes).to_contain_text("GDPR Overview: optional → required")
    screenshot(page, "package-detail-v2")

    page.click("ul.history >> text=v1")
    expect(page.locator(".meta .badge")).to_have_text("Version 1 · Archived")
    expect(page.locator("ul.changes")).to_have_count(0)
    screenshot(page, "package-detail-v1")


def test_a_learner_signing_in_lands_on_my_training(live_server, page: Page, screenshot) -> None:
    """A visitor who is not signed in is sent to the sign-in page; a learner who
    signs in is taken to "My training", and the package pages refuse them."""
    call_command("load_demo", verbosity=0)
    alice = get_user_model().objects.get(username="alice")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")
    screenshot(page, "login")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "coursepack-learner")
    page.click("form.login button[type=submit]")

    expect(page).to_have_url(f"{live_server.url}/my-training/")
    expect(page.locator("h1")).to_have_text("My training")
    expect(page.locator("header nav.nav-wide a")).to_have_text(["My training", "My transcript"])
    page.click("header nav >> text=My transcript")
    expect(page).to_have_url(f"{live_server.url}/learners/{alice.pk}/transcript/")
    expect(page.locator("h1")).to_contain_text("Alice Nguyen")
    screenshot(page, "learner-landing")

    response = page.goto(f"{live_server.url}/packages/1/")
    assert response is not None and response.status == 403
