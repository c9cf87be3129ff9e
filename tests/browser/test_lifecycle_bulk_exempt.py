"""In Chromium: the phone menu of the top bar, and exempting learners ticked on the
standing page (the exemption dialog, with an end), at 390 px and 1280 px."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from browser_checks import page_overflows_viewport, serious_accessibility_violations
from django.utils import timezone
from playwright.sync_api import Page, expect

from coursepack.learning import api as learning
from coursepack.learning import lifecycle_selectors
from coursepack.packaging import api as packaging
from tests.factories import make_admin, make_course, make_draft_package, make_learner

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


def _check(page: Page) -> None:
    assert serious_accessibility_violations(page) == []
    assert page_overflows_viewport(page) == 0


def test_the_phone_menu_and_a_bulk_exemption_by_keyboard_and_clicks(
    live_server: Any, page: Page, shoot: Any
) -> None:
    """At 390 px the top bar is one short row with a Menu button that opens by keyboard
    and lists every page under its section; at 1280 px the top bar is one line whose
    sections open as menus by keyboard, and there is no Menu button. Two
    learners ticked on the standing page are exempted until a date in one go."""
    admin = make_admin(username="noor", password="bulk-exempt-pw")
    course = make_course(name="Working at height")
    draft = make_draft_package(items=[course], name="Site safety")
    packaging.set_version_lifecycle(
        actor=admin, version_id=draft.pk, due_kind="after_enrolment", due_days=30
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Release.")
    learners = [make_learner(username=name) for name in ("ada", "ben", "cy")]
    enrollments = [
        learning.enroll(actor=admin, learner_id=u.pk, package_id=draft.package_id) for u in learners
    ]
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "noor")
    page.fill("#id_password", "bulk-exempt-pw")
    page.click("form.login button[type=submit]")
    standing = f"{live_server.url}/packages/{draft.package_id}/standing/?standing=not_started"
    page.goto(standing)

    # The phone menu: closed, the bar is short; the row of links is not shown.
    bar = page.locator("header.topbar")
    box = bar.bounding_box()
    shoot(page, "nav-menu-bar-390")
    assert box is not None and box["height"] < 110, box
    expect(page.locator(".nav-wide")).to_be_hidden()
    expect(page.get_by_role("link", name="Reports", exact=True)).to_have_count(0)
    page.locator(".nav-menu > summary").focus()
    page.keyboard.press("Enter")
    menu = page.locator(".nav-menu nav")
    expect(menu).to_be_visible()
    for name in ("Packages", "Catalog", "Groups", "Enrol", "People", "Reports", "Audit log"):
        expect(menu.get_by_role("link", name=name, exact=True)).to_be_visible()
    # Every link under its section's name.
    for section in ("Courses", "Learning", "Organisation", "Reporting"):
        expect(menu.get_by_role("group", name=section)).to_be_visible()
    _check(page)
    shoot(page, "nav-menu-open-390")
    page.keyboard.press("Enter")
    expect(menu).to_be_hidden()
    shoot(page, "nav-menu-closed-390")

    # Tick two learners, open the exemption dialog.
    page.check(f"#pick-{enrollments[0].pk}")
    page.check(f"#pick-{enrollments[1].pk}")
    page.click("button:has-text('Exempt the ticked learners')")
    expect(page.locator("h1")).to_have_text("Exempt 2 learners in Site safety")
    page.select_option("#id_reason", "administrative")
    page.fill("#id_note", "Medical leave")
    # An end in the past is refused: in the summary and at the field; nothing recorded.
    past = timezone.localtime(timezone.now() - timedelta(days=1))
    page.fill("#id_ends_at", past.strftime("%Y-%m-%dT%H:%M"))
    page.click("button:has-text('Exempt 2 learners')")
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#id_ends_at-error")).to_contain_text("must be in the future")
    shoot(page, "lifecycle-bulk-exempt-error-390")
    assert lifecycle_selectors.standing_counts(draft.package_id)["exempt"] == 0
    until = timezone.localtime(timezone.now() + timedelta(days=14))
    page.fill("#id_ends_at", until.strftime("%Y-%m-%dT%H:%M"))
    _check(page)
    shoot(page, "lifecycle-bulk-exempt-390", docs=True)
    page.click("button:has-text('Exempt 2 learners')")
    expect(page.locator(".banner-success")).to_contain_text(
        f"Exempted 2 learners from the whole enrollment until {until:%Y-%m-%d %H:%M}"
    )
    counts = lifecycle_selectors.standing_counts(draft.package_id)
    assert (counts["exempt"], counts["not_started"]) == (2, 1)
    page.goto(
        f"{live_server.url}/packages/{draft.package_id}/exceptions/?section=lapsing&within=30"
    )
    expect(page.locator("table.data.stack tbody tr")).to_have_count(2)
    _check(page)
    shoot(page, "lifecycle-lapsing-390")

    # A laptop: one line (brand, the sections, who is signed in), no Menu button. The
    # sections open as menus by keyboard; Escape closes one and returns to its name.
    page.set_viewport_size(LAPTOP)
    page.goto(standing)
    expect(page.locator(".nav-menu")).to_be_hidden()
    rows = {
        round(box["y"] + box["height"] / 2)
        for part in ("header .brand", "header nav.nav-wide", "header .who")
        if (box := page.locator(part).bounding_box()) is not None
    }
    assert len(rows) == 1 or max(rows) - min(rows) <= 4, rows
    shoot(page, "nav-bar-1280")
    reports = page.get_by_role("link", name="Reports", exact=True)
    expect(reports).to_be_hidden()
    reporting = page.locator(
        "header nav.nav-wide details.nav-group > summary", has_text="Reporting"
    )
    reporting.focus()
    page.keyboard.press("Enter")
    expect(reports).to_be_visible()
    page.keyboard.press("Tab")
    expect(reports).to_be_focused()
    _check(page)
    shoot(page, "nav-section-open-1280")
    page.keyboard.press("Escape")
    expect(reports).to_be_hidden()
    expect(reporting).to_be_focused()
    _check(page)
    shoot(page, "lifecycle-standing-1280")
