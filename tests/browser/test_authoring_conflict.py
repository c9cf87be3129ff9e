"""Two admins edit one draft at once: neither change is lost without them knowing.

Each edit carries the draft's revision; the second writer's edit is refused, their
editor says the draft changed elsewhere and offers to reload, and after reloading
they make their change again on top of the other one.
"""

from __future__ import annotations

from browser_checks import serious_accessibility_violations
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, Page, expect

from coursepack.packaging.models import PackageVersion
from tests.factories import make_course, make_draft_package

PASSWORD = "conflict-password-1"


def _editor_for(browser: Browser, base: str, username: str, draft_id: int) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/drafts/package/{draft_id}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Editing: Cyber")).to_be_visible()
    return page


def test_an_edit_made_elsewhere_is_never_overwritten(live_server, browser: Browser, shoot) -> None:
    """Ada renames the draft; Bob, whose page is older, makes GDPR optional: refused,
    told, reloads, does it again. Ada's next edit is refused the same way. In the end
    both changes are in the draft."""
    User = get_user_model()
    for name in ("ada", "bob"):
        User.objects.create_user(username=name, password=PASSWORD, is_staff=True, is_superuser=True)
    gdpr = make_course(name="GDPR Overview")
    draft = make_draft_package(name="Cyber", items=[gdpr, make_course(name="Passwords")])

    ada = _editor_for(browser, live_server.url, "ada", draft.pk)
    bob = _editor_for(browser, live_server.url, "bob", draft.pk)

    # Ada renames the draft: autosaved
    ada.get_by_label("Name", exact=True).fill("Cyber 2025")
    expect(ada.locator("#save-status")).to_have_text("Saved just now")

    # Bob, on the page he loaded before, makes GDPR Overview optional: refused and told
    bob.get_by_role("button", name="Make GDPR Overview optional").click()
    expect(bob.locator("#conflict")).to_be_visible()
    expect(bob.locator("#save-status")).to_have_text("Not saved: the draft changed elsewhere")
    expect(bob.locator("#conflict-lost")).to_have_text("Not saved: making GDPR Overview optional.")
    expect(bob.locator(":focus")).to_have_text("Reload the draft")
    assert serious_accessibility_violations(bob) == []
    shoot(bob, "editor-conflict", docs=True)
    stored = PackageVersion.objects.get(pk=draft.pk)
    assert stored.name == "Cyber 2025"
    assert stored.items.get(course=gdpr).required is True

    # Bob reloads, sees Ada's name, and makes his change again
    bob.get_by_role("link", name="Reload the draft").click()
    expect(bob.get_by_label("Name", exact=True)).to_have_value("Cyber 2025")
    bob.get_by_role("button", name="Make GDPR Overview optional").click()
    expect(bob.locator("#save-status")).to_have_text("Saved just now")

    # Ada's next edit, on her now older page, is refused in turn
    ada.get_by_label("Description (optional)").fill("Annual training")
    expect(ada.locator("#conflict")).to_be_visible()
    expect(ada.locator("#conflict-lost")).to_contain_text("name or description")

    stored = PackageVersion.objects.get(pk=draft.pk)
    assert (stored.name, stored.description) == ("Cyber 2025", "")
    assert stored.items.get(course=gdpr).required is False
