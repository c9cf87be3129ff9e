"""The lifecycle pages in Chromium: from a learner's progress page an admin extends
the due date and exempts them from one course, by clicks; each page has no serious
accessibility violation and fits 390 px."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from browser_checks import page_overflows_viewport, serious_accessibility_violations
from django.utils import timezone
from playwright.sync_api import Page, expect

from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from tests.factories import make_admin, make_course, make_draft_package, make_learner


def _check(page: Page) -> None:
    assert serious_accessibility_violations(page) == []
    assert page_overflows_viewport(page) == 0


def test_extend_a_due_date_and_exempt_an_item_by_clicks(
    live_server: Any, page: Page, shoot: Any
) -> None:
    admin = make_admin(username="lena", password="lifecycle-pages-pw")
    first, second = make_course(name="Fire safety"), make_course(name="First aid")
    draft = make_draft_package(items=[first, second], name="Site induction")
    packaging.set_version_lifecycle(
        actor=admin, version_id=draft.pk, due_kind="after_enrolment", due_days=30
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Release.")
    learner = make_learner(username="sam")
    enrollment = learning.enroll(actor=admin, learner_id=learner.pk, package_id=draft.package_id)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "lena")
    page.fill("#id_password", "lifecycle-pages-pw")
    page.click("form.login button[type=submit]")

    page.goto(f"{live_server.url}/enrollments/{enrollment.pk}/")
    page.click("text=Extend due date")
    expect(page.locator("h1")).to_contain_text("Extend sam's due date")
    later = timezone.localtime(timezone.now() + timedelta(days=75))
    page.fill("#id_due_at", later.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_reason", "Long-term sick leave")
    _check(page)
    shoot(page, "lifecycle-extend-due", docs=True)
    page.click("button:has-text('Extend the due date')")
    expect(page.locator(".banner-success")).to_contain_text(
        f"sam is now due on {later:%Y-%m-%d %H:%M}"
    )
    expect(page.locator(".lifecycle-extensions")).to_contain_text("Long-term sick leave")

    page.click("a.button:has-text('Exempt')")
    page.select_option("#id_item", label=f"Course {first.code} Fire safety")
    page.select_option("#id_reason", "tested_out")
    page.fill("#id_note", "Passed the fire-warden test")
    _check(page)
    shoot(page, "lifecycle-exempt", docs=True)
    page.click("button:has-text('Exempt')")
    expect(page.locator(".banner-success")).to_contain_text("sam is exempt from course")
    expect(page.locator(".lifecycle-exemptions")).to_contain_text("Passed the fire-warden test")
    _check(page)
    shoot(page, "lifecycle-progress", docs=True)

    # The standing page (with its tick boxes) and the equivalences page read at 390 px.
    page.goto(f"{live_server.url}/packages/{draft.package_id}/standing/?standing=not_started")
    expect(page.locator("legend")).to_contain_text("Extend the ticked learners' due dates")
    _check(page)
    shoot(page, "lifecycle-standing-bulk")
    page.goto(f"{live_server.url}/equivalences/")
    page.select_option("#id_source_course_id", label=f"{second.code} First aid")
    page.select_option("#id_target_course_id", label=f"{first.code} Fire safety")
    page.click("button:has-text('Check the impact')")
    expect(page.locator("#impact")).to_contain_text("would become complete")
    _check(page)
    shoot(page, "lifecycle-equivalence-check")
