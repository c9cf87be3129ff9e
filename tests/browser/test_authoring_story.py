"""The seed's authoring story, played in Chromium with clicks and keys only.

A fresh database and one admin: create courses, a family group, a package with three
courses (one optional) and the group; reorder by drag and by keyboard; publish v1;
create v2, add a course and make another required; the publish page lists every
problem of a broken draft at once, then shows who is on v1 and each policy's impact;
publish keeping everyone; compare v1 and v2; preview v2 as a learner with simulated
completions, storing nothing. Every page is checked with axe-core on the way.
"""

from __future__ import annotations

import re

from browser_checks import (
    click_main_nav,
    page_overflows_viewport,
    serious_accessibility_violations,
)
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from coursepack.catalog.models import Course
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.packaging.models import CourseGroupVersion, Package

PASSWORD = "story-admin-password-1"
COURSES = [
    ("SEC-101", "Password Security"),
    ("SEC-102", "Data Protection Basics"),
    ("SEC-103", "GDPR Overview"),
    ("SEC-104", "Phishing Awareness"),
    ("SEC-201", "Cybersecurity Essentials (English)"),
    ("SEC-202", "Cybersecurity Essentials (Spanish)"),
]
PACKAGE = "2024 Cybersecurity Training"
GROUP = "Cybersecurity Essentials: language"


def _accessible(page: Page) -> None:
    assert serious_accessibility_violations(page) == [], page.url


def _names(page: Page) -> list[str]:
    return page.locator("#draft-items li[data-item-id] .item-name").all_inner_texts()


def _saved(page: Page) -> None:
    expect(page.locator("#save-status")).to_have_text("Saved just now")


def _add(page: Page, search: str, name: str, *, required: bool = True) -> None:
    page.get_by_label("Search courses and groups").fill(search)
    row = page.locator("#search-results li", has_text=name)
    expect(row).to_have_count(1)
    box = row.get_by_label(f"Add {name} as required")
    if box.count() and box.is_checked() != required:
        box.click()
    row.get_by_role("button", name=f"Add {name}").click()
    expect(page.locator("#draft-items li[data-item-id]", has_text=name)).to_have_count(1)
    _saved(page)
    # The results are asked for again: they now say the item is in the draft
    expect(page.locator("#search-results li", has_text=name)).to_contain_text("In this draft")
    expect(page.get_by_label("Search courses and groups")).to_be_focused()


def test_an_admin_builds_publishes_and_compares_a_package(live_server, page: Page, shoot) -> None:
    """The authoring story, start to end, by an admin in a browser."""
    get_user_model().objects.create_user(
        username="admin", password=PASSWORD, is_staff=True, is_superuser=True
    )
    url = live_server.url
    page.set_viewport_size({"width": 1280, "height": 800})
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_default_timeout(10_000)

    # Sign in
    page.goto(f"{url}/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Packages", exact=True)).to_be_visible()
    expect(page.locator(".empty-state")).to_contain_text("No packages yet")
    _accessible(page)
    shoot(page, "packages-empty")

    # Create the courses from the catalog; a mistake is shown at its field first
    click_main_nav(page, "Catalog")
    page.get_by_role("link", name="Add a course").click()
    page.get_by_label("Code").fill("SEC-101")
    page.get_by_role("button", name="Add course").click()
    expect(page.locator(".error-summary")).to_contain_text("Name is required")
    expect(page.locator("#id_name-error")).to_contain_text("Name is required")
    _accessible(page)
    shoot(page, "course-form-error", docs=True)
    for index, (code, name) in enumerate(COURSES):
        if index:
            page.get_by_role("link", name="Add a course").click()
        page.get_by_label("Code").fill(code)
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Duration in minutes (optional)").fill("30")
        page.get_by_role("button", name="Add course").click()
        expect(page.locator(".banner-success")).to_contain_text(f"Course {code} ({name}) was added")
    expect(page.locator("table.data tbody tr")).to_have_count(len(COURSES))
    _accessible(page)
    shoot(page, "catalog", docs=True)

    # A family group of the two language editions, published
    click_main_nav(page, "Groups")
    page.get_by_role("link", name="Create group").click()
    page.get_by_label("Name", exact=True).fill(GROUP)
    page.get_by_role("radio", name=re.compile("Family")).check()
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("heading", name=f"Editing: {GROUP}")).to_be_visible()
    _add(page, "Essentials", "Cybersecurity Essentials (English)")
    _add(page, "Essentials", "Cybersecurity Essentials (Spanish)")
    shoot(page, "group-editor", docs=True)
    page.get_by_role("link", name="Publish group v1").click()
    page.get_by_role("button", name="Publish group v1").click()
    expect(page.locator(".banner-success")).to_contain_text("is published")
    _accessible(page)

    # The package: three courses (GDPR optional) and the group
    click_main_nav(page, "Packages")
    page.get_by_role("link", name="Create package").click()
    page.get_by_label("Name", exact=True).fill(PACKAGE)
    page.get_by_label("Category (optional)").fill("Security")
    page.get_by_role("button", name="Create package").click()
    expect(page.get_by_role("heading", name=f"Editing: {PACKAGE}")).to_be_visible()
    _add(page, "Password", "Password Security")
    _add(page, "Data Protection", "Data Protection Basics")
    _add(page, "GDPR", "GDPR Overview", required=False)
    _add(page, "language", GROUP)
    assert _names(page) == ["Password Security", "Data Protection Basics", "GDPR Overview", GROUP]
    gdpr = page.locator("#draft-items li", has_text="GDPR Overview")
    expect(gdpr.locator(".opt")).to_have_text("Optional")
    expect(page.locator("#draft-items li", has_text=GROUP).locator(".rule")).to_have_text(
        "Complete 1 of 2"
    )
    _accessible(page)

    # Reorder by drag: GDPR Overview above Data Protection Basics
    handle = gdpr.locator(".drag-handle")
    target = page.locator("#draft-items li", has_text="Data Protection Basics")
    page.locator("#contents-title").evaluate("el => el.scrollIntoView()")
    start, end = handle.bounding_box(), target.bounding_box()
    assert start is not None and end is not None
    with page.expect_response(re.compile(r"/items/\d+/$")) as moved:
        page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
        page.mouse.down()
        page.mouse.move(start["x"] + 5, start["y"] - 10, steps=5)
        page.mouse.move(start["x"] + 5, end["y"] + end["height"] - 2, steps=10)
        page.mouse.move(start["x"] + 5, end["y"] + 2, steps=20)
        page.mouse.move(start["x"] + 5, end["y"] + end["height"] / 3, steps=5)
        page.mouse.up()
    assert moved.value.ok
    _saved(page)
    expect(page.locator("#draft-items li[data-item-id] .item-name")).to_have_text(
        ["Password Security", "GDPR Overview", "Data Protection Basics", GROUP]
    )

    # Reorder by keyboard: Password Security moves down, and keeps the focus
    page.get_by_role("button", name="Move Password Security down").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#draft-items li[data-item-id] .item-name")).to_have_text(
        ["GDPR Overview", "Password Security", "Data Protection Basics", GROUP]
    )
    focused = page.locator(":focus")
    expect(focused).to_have_attribute("aria-label", "Move Password Security down")
    page.keyboard.press("Enter")
    expect(page.locator("#draft-items li[data-item-id] .item-name")).to_have_text(
        ["GDPR Overview", "Data Protection Basics", "Password Security", GROUP]
    )
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Move Password Security down")
    expect(page.locator("#move-announcer")).to_contain_text("position 3 of 4")
    page.reload()  # the order was saved
    assert _names(page) == ["GDPR Overview", "Data Protection Basics", "Password Security", GROUP]
    shoot(page, "draft-editor", docs=True)

    # Publish v1 with notes, from the editor's publish dialog
    page.get_by_role("link", name="Publish v1").click()
    dialog = page.get_by_role("dialog", name="Publish version 1?")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#current-enrollments")).to_contain_text("first version")
    _accessible(page)
    shoot(page, "publish-dialog-v1", docs=True)
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("link", name="Publish v1")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.get_by_role("button", name="Publish v1").click()
    expect(page.locator("#id_change_notes-error")).to_contain_text("Enter change notes")
    page.get_by_label("Change notes").fill("Initial release of 2024 cybersecurity training")
    page.get_by_role("button", name="Publish v1").click()
    expect(page.locator(".banner-success")).to_contain_text("Version 1 is published and active")
    expect(page.locator(".meta .badge")).to_have_text("Version 1 · Active")
    _accessible(page)

    # Two learners join (People), are enrolled on v1 (Enrol, pasted usernames), and one
    # completes Password Security, so the next publish has people to keep or move
    for username, first in (("sam", "Sam"), ("kim", "Kim")):
        click_main_nav(page, "People")
        page.get_by_role("link", name="Add a person").click()
        page.get_by_label("Username").fill(username)
        page.get_by_label("First name").fill(first)
        page.get_by_role("button", name="Add this person").click()
        expect(page.locator(".banner").first).to_contain_text(f"Created {username}")
    click_main_nav(page, "Enrol")
    page.get_by_label("Package").select_option(label=f"{PACKAGE} (v1)")
    page.locator("#id_usernames").fill("sam\nkim")
    page.get_by_role("button", name="Check who would be enrolled").click()
    page.get_by_role("button", name="Enrol 2 learners").click()
    expect(page.locator(".banner").first).to_contain_text(f"Enrolled 2 learners in {PACKAGE} v1.")
    page.locator("tr", has_text="sam").get_by_role("link").first.click()
    page.get_by_label("Course", exact=True).select_option(label="SEC-101 Password Security")
    page.get_by_role("button", name=re.compile("^Record for")).click()
    expect(page.locator(".banner").first).to_contain_text("Recorded SEC-101")
    click_main_nav(page, "Packages")
    page.get_by_role("link", name=PACKAGE).first.click()

    # Create v2 from v1: add Phishing Awareness, make GDPR Overview required
    page.get_by_role("button", name="Create new version from v1").click()
    expect(page.locator(".banner-success")).to_contain_text("Draft v2 was created from v1")
    expect(page.locator("#draft-state")).to_contain_text("based on v1")
    _add(page, "Phishing", "Phishing Awareness")
    page.get_by_role("button", name="Make GDPR Overview required").click()
    _saved(page)
    expect(page.locator("#draft-items li", has_text="GDPR Overview").locator(".req")).to_have_text(
        "Required"
    )

    # Break the draft: two of its courses retired in the catalog meanwhile
    for code in ("SEC-104", "SEC-101"):
        click_main_nav(page, "Catalog")
        page.get_by_role("link", name=code).click()
        page.get_by_role("button", name=f"Retire {code}").click()
        expect(page.locator(".banner-success")).to_contain_text(f"Course {code} is retired")
    click_main_nav(page, "Packages")
    page.locator("[data-section=drafts]", has_text=PACKAGE).get_by_role(
        "link", name="Publish"
    ).click()
    problems = page.locator("#problems li")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("Password Security")
    expect(problems.nth(1)).to_contain_text("Item 5, Phishing Awareness")
    expect(page.get_by_role("button", name="Publish v2")).to_be_disabled()
    _accessible(page)
    shoot(page, "publish-problems", docs=True)

    # Fix it: reactivate both courses
    for code in ("SEC-104", "SEC-101"):
        click_main_nav(page, "Catalog")
        page.get_by_label("Status").select_option("retired")
        page.get_by_role("button", name="Apply filters").click()
        page.get_by_role("link", name=code).click()
        page.get_by_role("button", name=f"Reactivate {code}").click()
        expect(page.locator(".banner-success")).to_contain_text("is active again")

    # Publish v2 keeping everyone on v1
    click_main_nav(page, "Packages")
    drafts = page.locator("[data-section=drafts]", has_text=PACKAGE)
    expect(drafts).to_contain_text("Draft v2")
    expect(drafts).to_contain_text("(based on v1)")
    expect(drafts).to_contain_text("by admin")
    shoot(page, "package-list", docs=True)
    drafts.get_by_role("link", name="Publish").click()
    expect(page.locator("#problems")).to_have_count(0)
    expect(page.locator("#current-enrollments")).to_contain_text(
        "Current enrollments in v1: 2 learners"
    )
    expect(page.locator("tr[data-policy]")).to_have_count(3)
    # Each policy's impact: nobody moves / Kim (not started) / both
    for policy, moved in (("keep", "0"), ("move_not_started", "1"), ("move_in_progress", "2")):
        row = page.locator(f"tr[data-policy={policy}]")
        expect(row.locator("td[data-label=Moved]")).to_have_text(moved)
    _accessible(page)
    shoot(page, "publish-dialog", docs=True)
    page.get_by_label(re.compile("Keep everyone on their version")).check()
    page.get_by_label("Change notes").fill("Added phishing awareness; GDPR now required.")
    page.get_by_role("button", name="Publish v2").click()
    expect(page.locator(".banner-success")).to_contain_text(
        "Version 2 is published and active: new enrollments get it. Version 1 is archived."
    )
    changes = page.locator("ul.changes li")
    expect(changes).to_have_count(2)
    _accessible(page)
    shoot(page, "package-page", docs=True)

    # Compare v1 and v2: exactly the two changes
    page.get_by_role("link", name="Compare versions").click()
    page.get_by_label("From (older)").select_option("1")
    page.get_by_label("To (newer)").select_option("2")
    page.get_by_role("button", name="Compare").click()
    diff = page.locator("#diff li")
    expect(diff).to_have_count(2)
    expect(page.locator("#diff li[data-change=added]")).to_contain_text(
        "Phishing Awareness (course, required)"
    )
    expect(page.locator("#diff li[data-change=modified]")).to_contain_text(
        "GDPR Overview: optional → required"
    )
    _accessible(page)
    shoot(page, "compare", docs=True)

    # Preview v2 as a learner, simulate completions: nothing is stored
    stored = (Enrollment.objects.count(), CompletionEvent.objects.count())
    assert stored == (2, 1)  # Sam and Kim, and Sam's Password Security
    page.get_by_role("link", name=f"Back to {PACKAGE}").click()
    page.get_by_role("link", name="Preview as learner").click()
    expect(page.locator(".banner-preview")).to_contain_text("nothing is stored")
    expect(page.locator("#preview-status")).to_contain_text("Not started")
    for name in (
        "GDPR Overview",
        "Data Protection Basics",
        "Password Security",
        "Cybersecurity Essentials (Spanish)",
    ):
        page.get_by_label(name).check()
    page.get_by_role("button", name="Show the result").click()
    expect(page.locator("#preview-status")).to_contain_text("In progress")
    expect(page.locator("#preview-why")).to_contain_text("Phishing Awareness")
    page.get_by_label("Phishing Awareness").check()
    page.get_by_role("button", name="Show the result").click()
    expect(page.locator("#preview-status")).to_contain_text("Completed")
    _accessible(page)
    shoot(page, "preview", docs=True)
    assert (Enrollment.objects.count(), CompletionEvent.objects.count()) == stored

    # The group library shows who pins the group, and everything reads at 390 px
    click_main_nav(page, "Groups")
    expect(page.locator("table.data")).to_contain_text(f"{PACKAGE} v2 → group v1")
    _accessible(page)
    shoot(page, "groups", docs=True)
    # The other pages built here pass axe too (the styled 404 included)
    # Ids are read, not assumed: PostgreSQL does not restart its sequences between tests.
    package = Package.objects.get(name=PACKAGE)
    course = Course.objects.get(code="SEC-101")
    group = CourseGroupVersion.objects.get(name=GROUP).group_id
    for path in (
        f"/catalog/{course.pk}/",
        "/groups/new/",
        f"/groups/{group}/",
        "/packages/new/",
        "/no-such-page/",
    ):
        page.goto(f"{url}{path}")
        _accessible(page)
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()

    # At 390 px: a new draft v3 in the editor, then discarded from the list
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/packages/{package.pk}/")
    page.get_by_role("button", name="Create new version from v2").click()
    expect(page.get_by_role("heading", name=f"Editing: {PACKAGE}")).to_be_visible()
    assert page_overflows_viewport(page) == 0
    shoot(page, "draft-editor-phone", docs=True)
    for path, name in (
        ("/", "package-list-phone"),
        ("/catalog/", "catalog-phone"),
        (f"/packages/{package.pk}/?v=2", "package-page-phone"),
        (f"/packages/{package.pk}/compare/?from=1&to=2", "compare-phone"),
        (f"/versions/{package.versions.get(version_number=3).pk}/publish/", "publish-phone"),
    ):
        page.goto(f"{url}{path}")
        assert page_overflows_viewport(page) == 0, path
        shoot(page, name, docs=name == "package-list-phone")
    page.goto(f"{url}/")
    page.locator("[data-section=drafts]", has_text=PACKAGE).get_by_role(
        "button", name="Discard draft"
    ).click()
    expect(page.locator(".banner-success")).to_contain_text("Draft v3 of")
    expect(page.locator("[data-section=drafts]")).to_have_count(0)
