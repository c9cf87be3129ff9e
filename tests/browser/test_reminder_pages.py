"""The reminder pages in Chromium: an admin sets a package's schedule, edits a message
with a preview (a wrong placeholder is refused where it is), does a dry run and then a
real run, and finds the messages in the log and on the learner's transcript. Each page
has no serious accessibility violation and fits 390 px."""

from __future__ import annotations

import re
from typing import Any

from browser_checks import (
    click_main_nav,
    page_overflows_viewport,
    serious_accessibility_violations,
)
from playwright.sync_api import Page, expect

from coursepack.jobs import api as jobs
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from tests.factories import make_admin, make_course, make_draft_package, make_learner

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _check(page: Page) -> None:
    assert serious_accessibility_violations(page) == []
    assert page_overflows_viewport(page) == 0


def _both(page: Page, shoot: Any, name: str) -> None:
    """Check and shoot the page at laptop and phone width."""
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        _check(page)
        shoot(page, f"{name}-{label}", docs=label == "laptop")
    page.set_viewport_size(LAPTOP)


def _run_queued(page: Page) -> None:
    """Run the job the page was redirected to (the worker's task), then reload."""
    match = re.search(r"/reminders/runs/(\d+)/", page.url)
    assert match, page.url
    jobs.run_job(int(match.group(1)))
    page.reload()


def test_schedule_template_dry_run_run_and_log_by_clicks(
    live_server: Any, page: Page, shoot: Any
) -> None:
    admin = make_admin(username="rita", password="reminder-pages-pw")
    draft = make_draft_package(items=[make_course(name="Fire safety")], name="Site induction")
    packaging.set_version_lifecycle(
        actor=admin, version_id=draft.pk, due_kind="after_enrolment", due_days=5
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Release.")
    people = []
    for name in ("sam", "ivy", "joe"):
        learner = make_learner(username=name)
        learner.email = f"{name}@example.org"
        learner.first_name = name.capitalize()
        learner.save()
        learning.enroll(actor=admin, learner_id=learner.pk, package_id=draft.package_id)
        people.append(learner)
    page.set_viewport_size(LAPTOP)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "reminder-pages-pw")
    page.click("form.login button[type=submit]")

    # The package's schedule.
    page.goto(f"{live_server.url}/packages/{draft.package_id}/")
    page.click("text=Reminder schedule")
    expect(page.locator("h1")).to_contain_text("Reminder schedule: Site induction")
    page.fill("#id_due_soon_days", "7, two")
    page.click("button:has-text('Save the schedule')")
    expect(page.locator(".error-summary")).to_contain_text("whole numbers of days")
    expect(page.locator("#id_due_soon_days-error")).to_be_visible()
    page.fill("#id_due_soon_days", "7, 2")
    _both(page, shoot, "reminders-schedule")
    page.click("button:has-text('Save the schedule')")
    expect(page.locator(".banner-success")).to_contain_text("Saved the reminder schedule")
    expect(page.locator("#id_due_soon_days")).to_have_value("7, 2")

    # A template, previewed (htmx swaps the preview), refused, then saved.
    click_main_nav(page, "Reminders")
    page.click(".subnav >> text=Templates")
    page.click("text=Due soon")
    page.fill("#id_subject", "Due in $days_left days: $package")
    page.click("button:has-text('Preview')")
    expect(page.locator(".preview-subject")).to_have_text(
        "Due in 14 days: 2026 Cybersecurity Training"
    )
    page.fill("#id_body_text", "Hello $first_name, your $password")
    page.click("button:has-text('Save the due soon message')")
    expect(page.locator(".error-summary")).to_contain_text("$password is not a placeholder")
    expect(page.locator("#id_body_text-error")).to_be_visible()
    page.fill("#id_body_text", "Hello $first_name, $package is due on $due_date.")
    page.click("button:has-text('Preview')")
    expect(page.locator(".preview-text")).to_have_text(
        "Hello Ada, 2026 Cybersecurity Training is due on 2026-12-31."
    )
    _both(page, shoot, "reminders-template")
    page.click("button:has-text('Save the due soon message')")
    expect(page.locator(".banner-success")).to_contain_text("Saved the due soon message")

    # A dry run: what would go out, and nothing sent.
    click_main_nav(page, "Reminders")
    page.click("button:has-text('Start a dry run')")
    expect(page.locator("h1")).to_contain_text("Dry run")
    _run_queued(page)
    expect(page.locator(".run-summary")).to_contain_text("6 messages to 3 people")
    expect(page.locator(".run-summary")).to_contain_text("Nothing was sent")
    _both(page, shoot, "reminders-dry-run")
    page.click("text=← Reminders")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Send due reminders now')")
    _run_queued(page)
    expect(page.locator(".run-summary")).to_contain_text("6 sent, 0 failed")

    # The log, filtered; the learner's record.
    page.click("text=See the messages in the log")
    expect(page.locator("table.messages tbody tr")).to_have_count(6)
    page.select_option("#id_kind", "due_soon")
    page.click("button:has-text('Filter')")
    expect(page.locator("table.messages tbody tr")).to_have_count(3)
    expect(page.locator("table.messages")).to_contain_text("Due in 4 days: Site induction")
    _both(page, shoot, "reminders-log")
    page.click("table.messages >> text=Sam")
    expect(page.locator("table.learner-messages tbody tr")).to_have_count(2)
    expect(page.locator("table.learner-messages")).to_contain_text("Sent")
    shoot(page, "reminders-transcript-messages")
