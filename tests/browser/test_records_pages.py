"""The records pages in Chromium: a transcript now and as of an earlier moment, its
printable view, the audit log with a filter, and a package's publish log.

The demo data is loaded 30 days in the past (on a hand-moved clock), then a version is
published moving in-flight learners and an event is voided, so that the record has a
history worth asking about.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from browser_checks import click_main_nav
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from coursepack.catalog.models import Course
from coursepack.learning import api as learning
from coursepack.learning.models import CompletionEvent
from coursepack.packaging import api as packaging
from coursepack.packaging.models import Package, PackageVersion
from tests.records.records_helpers import frozen_clock

DAY = timedelta(days=1)


def _sign_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "coursepack-admin")
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base_url}/")


@pytest.fixture
def history(live_server: Any) -> dict[str, Any]:
    """The demo data loaded 30 days ago; 10 days later v3 of the cybersecurity package
    published moving everyone not complete; 5 days after that one of Alice's
    completions voided."""
    from django.contrib.auth.models import User

    start = (timezone.now() - 30 * DAY).replace(second=0, microsecond=0)
    with frozen_clock(start) as clock:
        call_command("load_demo", verbosity=0)
        admin = User.objects.get(username="admin")
        cyber = Package.objects.get(name="2024 Cybersecurity Training")
        draft = PackageVersion.objects.get(package=cyber, status="draft")
        published = clock.advance(10 * DAY)
        packaging.publish_version(
            actor=admin,
            version_id=draft.pk,
            change_notes="2025 refresh: data protection electives.",
            inflight_policy="move_in_progress",
        )
        alice = User.objects.get(username="alice")
        mistaken = CompletionEvent.objects.get(
            learner=alice, course=Course.objects.get(code="PRV-230")
        )
        voided = clock.advance(5 * DAY)
        learning.void_event(
            actor=admin, event_id=mistaken.pk, reason="Certificate belongs to another Alice."
        )
    return {
        "start": start,
        "published": published,
        "voided": voided,
        "alice": alice,
        "dave": User.objects.get(username="dave"),
        "cyber": cyber,
    }


def _picker(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_transcripts_now_and_as_of_earlier_moments(
    live_server: Any, page: Page, screenshot: Any, history: dict[str, Any]
) -> None:
    """Now, Alice's HR enrollment is in progress (a completion was voided); as of the day
    before the void, as known now, too (a void corrects the record), and the page says
    the answer changed since; as known then it was complete and the event counted,
    marked as voided later.
    Dave, moved from v2 to v3 at the publish, shows v2 before it and v3 after."""
    _sign_in(page, live_server.url)
    click_main_nav(page, "Learners")
    expect(page.locator("h1")).to_have_text("Learners")
    screenshot(page, "learners")
    page.locator("tr", has_text="alice").get_by_role("link", name="Transcript").click()

    expect(page.locator("h1")).to_have_text("Transcript: Alice Nguyen")
    hr = page.locator("tr.enrollment", has_text="HR Compliance Package")
    expect(hr.locator(".badge")).to_have_text("In progress")
    voided_row = page.locator("tr.event", has_text="Handling Customer Data")
    expect(voided_row).to_contain_text("Voided")
    expect(voided_row).to_contain_text("Certificate belongs to another Alice.")
    screenshot(page, "transcript-now")

    # When the admin picks a moment the day before the void: as known now, the void
    # corrected the record, and the page says that the answer has changed since
    page.fill("#as-of", _picker(history["voided"] - DAY))
    page.click("form.as-of button[type=submit]")
    expect(page.locator(".as-of-line .known-at")).to_have_text("now")
    changes = page.locator(".timeline-changes")
    expect(changes.locator("h2")).to_have_text("Recorded since: the answer changed")
    expect(changes.locator("tr", has_text="HR Compliance Package")).to_contain_text("Completed")
    expect(changes.locator(".recorded-since")).to_contain_text("Void of")
    expect(changes.locator(".recorded-since")).to_contain_text("Handling Customer Data")
    # And, as known now, the void corrects the record: the event never counted
    hr = page.locator("tr.enrollment", has_text="HR Compliance Package")
    expect(hr.locator(".badge")).to_have_text("In progress")
    expect(page.locator("tr.event", has_text="Handling Customer Data")).to_contain_text("Voided")
    screenshot(page, "transcript-changes")

    # And, asking what the record showed then, the enrollment was complete, and the
    # event counted, voided later
    page.get_by_role("link", name="What the record showed then").click()
    expect(page.locator(".as-of-line")).to_contain_text("As of")
    expect(page.locator(".as-of-line .known-at")).to_contain_text("what the record showed")
    hr = page.locator("tr.enrollment", has_text="HR Compliance Package")
    expect(hr.locator(".badge")).to_have_text("Completed")
    voided_row = page.locator("tr.event", has_text="Handling Customer Data")
    expect(voided_row.locator(".standing.counted")).to_have_text("Counted")
    expect(voided_row.locator(".standing.voided-later")).to_have_text("voided later")
    screenshot(page, "transcript")

    # And the printable view shows the same moment on a clean page
    page.click("text=Printable view")
    expect(page.locator(".doc-head h1")).to_have_text("Alice Nguyen")
    expect(page.locator(".doc-facts .as-of")).to_contain_text(
        timezone.localtime(history["voided"] - DAY).strftime("%-d %B %Y, %H:%M")
    )
    expect(page.locator(".topbar")).to_have_count(0)
    expect(page.locator("tr.enrollment", has_text="HR Compliance Package")).to_contain_text(
        "Completed"
    )
    page.emulate_media(media="print")
    expect(page.locator(".print-toolbar")).to_be_hidden()
    screenshot(page, "transcript-print")
    page.emulate_media(media="screen")

    # And a learner moved at the publish was on v2 before it, on v3 after
    url = f"{live_server.url}/learners/{history['dave'].pk}/transcript/"
    page.goto(f"{url}?as_of={_picker(history['published'] - DAY)}")
    row = page.locator("tr.enrollment", has_text="2024 Cybersecurity Training")
    expect(row.locator("td.version")).to_contain_text("v2")
    page.goto(f"{url}?as_of={_picker(history['published'] + DAY)}")
    row = page.locator("tr.enrollment", has_text="2024 Cybersecurity Training")
    expect(row.locator("td.version")).to_contain_text("v3")
    expect(page.locator("tr.detail .move")).to_contain_text("Moved from v2 to v3")
    screenshot(page, "transcript-moved")


def test_audit_log_with_a_filter_and_the_publish_log(
    live_server: Any, page: Page, screenshot: Any, history: dict[str, Any]
) -> None:
    """The audit log lists events newest first and narrows to one action; the package page
    links to its publish log, which names who published what, and the in-flight policy."""
    _sign_in(page, live_server.url)
    click_main_nav(page, "Audit log")
    expect(page.locator("h1")).to_have_text("Audit log")
    # Newest first: the sign-in just made is on the record too.
    expect(page.locator("table.audit-log tbody tr").first).to_contain_text("account.signed_in")
    expect(page.locator("table.audit-log tbody tr").nth(1)).to_contain_text(
        history["voided"].strftime("%Y-%m-%d")
    )
    expect(page.locator("table.audit-log")).to_contain_text("completion.voided")

    page.select_option("#id_action", "version.published")
    page.fill("#id_actor", "admin")
    page.click("form.filters button[type=submit]")
    rows = page.locator("table.audit-log tbody tr")
    expect(rows).to_have_count(4)  # cybersecurity v1, v2, v3 and HR v1
    expect(rows.first).to_contain_text("2025 refresh: data protection electives.")
    expect(rows.first.locator("td.changes")).to_contain_text("status: draft → published")
    screenshot(page, "audit-log")

    page.goto(f"{live_server.url}/packages/{history['cyber'].pk}/")
    page.click("text=Publish log")
    expect(page.locator("h1")).to_have_text("Publish log: 2024 Cybersecurity Training")
    newest = page.locator("table.publish-log tbody tr").first
    expect(newest).to_contain_text("v3")
    expect(newest).to_contain_text("Moved everyone not complete")
    expect(newest).to_contain_text("2 moved")
    expect(newest).to_contain_text("admin")
    expect(page.locator("table.publish-log tbody tr")).to_have_count(5)
    screenshot(page, "publish-log")
