"""A large export in Chromium (ADR 0031): a manager asks for their matrix as XLSX; over
the rule, the page offers to prepare it in the background; its page follows the job
(htmx polling, no reload) and offers the download when written; the file holds their
people only. At 1280 and 390 px, with axe."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from browser_checks import page_overflows_viewport, serious_accessibility_violations
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from coursepack.accounts import api as accounts
from coursepack.catalog.models import Course
from coursepack.jobs import api as jobs
from coursepack.jobs.models import Job
from coursepack.learning import api as learning
from tests.audiences.audience_helpers import make_org, make_person, manage
from tests.factories import make_admin, make_course, make_published_package

PASSWORD = "export-pass-1234"


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.login button[type=submit]")


def _check(page: Page) -> None:
    assert serious_accessibility_violations(page) == []
    assert page_overflows_viewport(page) == 0


def test_a_manager_prepares_a_large_matrix_export_follows_it_and_downloads_it(
    live_server: Any, page: Page, shoot: Any, settings: Any, tmp_path: Path
) -> None:
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.EXPORT_INLINE_MAX_ROWS = 2  # the team has 4 people: over the rule
    admin = make_admin(username="export-admin", password=PASSWORD)
    org = make_org()
    boss = make_person(org.company, username="export-boss", password=PASSWORD)
    accounts.set_role(actor=admin, user_id=boss.pk, role="manager")
    manage(boss, org.sales)
    team = [make_person(org.north, username=f"ann-{i}") for i in range(4)]
    make_person(org.desk, username="zed-desk")
    version = make_published_package(actor=admin, items=[make_course(actor=admin)], name="Ethics")
    for person in team[:2]:
        learning.enroll(actor=admin, learner_id=person.pk, package_id=version.package_id)

    page.set_viewport_size({"width": 1280, "height": 800})
    _sign_in(page, live_server.url, "export-boss")
    page.goto(f"{live_server.url}/matrix/")
    page.click("a.download")

    expect(page.locator("h1")).to_have_text("Prepare the export: Training matrix")
    expect(page.locator("main")).to_contain_text("This export has 4 rows, more than the 2")
    _check(page)
    shoot(page, "export-offer-1280")
    page.get_by_role("button", name="Prepare the XLSX").click()

    job = Job.objects.get(kind="export")
    page.wait_for_url(f"{live_server.url}/exports/{job.pk}/")
    expect(page.locator("h1")).to_have_text(f"Export {job.pk}: Training matrix")
    expect(page.locator(".job-status")).to_have_text("queued")
    expect(page.locator("main")).to_contain_text("Progress: 0 of 4 rows")
    expect(page.locator(".messages")).to_contain_text("prepared in the background")
    _check(page)
    shoot(page, "export-queued-1280")

    jobs.run_job(job.pk)
    # No reload: the page's htmx polling brings the written state in.
    expect(page.locator(".job-status")).to_have_text("succeeded", timeout=15_000)
    expect(page.locator("progress")).to_have_attribute("value", "100")
    link = page.locator("a.download-export")
    expect(link).to_contain_text("coursepack-training-matrix-")
    _check(page)
    shoot(page, "export-written-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    _check(page)
    shoot(page, "export-written-390")

    with page.expect_download() as download_info:
        link.click()
    path = tmp_path / "matrix.xlsx"
    download_info.value.save_as(path)
    sheet = load_workbook(path)["Training matrix"]
    names = [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == [p.username for p in team]


def test_an_auditor_asks_for_a_long_timeline_and_prepares_it_in_the_background(
    live_server: Any, page: Page, shoot: Any, settings: Any, tmp_path: Path
) -> None:
    """A report as of a past moment over more enrollments than a request works out: the
    reports page says why it shows no table and offers the workbook as a job (ADR 0039)."""
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS = 2  # 3 enrollments: over the limit
    admin = make_admin(username="timeline-admin", password=PASSWORD)
    accounts.create_user(
        actor=admin, username="timeline-auditor", role="auditor", password=PASSWORD
    )
    org = make_org()
    version = make_published_package(actor=admin, items=[make_course(actor=admin)], name="Ethics")
    for i in range(3):
        person = make_person(org.north, username=f"tim-{i}")
        learning.enroll(actor=admin, learner_id=person.pk, package_id=version.package_id)

    page.set_viewport_size({"width": 1280, "height": 800})
    _sign_in(page, live_server.url, "timeline-auditor")
    page.goto(f"{live_server.url}/reports/")
    page.fill("#id_as_of", "2099-01-01T09:00")
    page.get_by_role("button", name="Apply").click()

    section = page.locator("#report-long-timeline")
    expect(section.locator("h2")).to_have_text("This report is prepared in the background")
    expect(section).to_contain_text("these filters cover 3 enrollments, more than the 2")
    expect(page.locator("table.report")).to_have_count(0)
    _check(page)
    shoot(page, "report-long-timeline-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    _check(page)
    shoot(page, "report-long-timeline-390")
    section.get_by_role("button", name="Prepare every table as XLSX").focus()
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/exports/\d+/$"))
    job = Job.objects.get(kind="export")
    assert page.url == f"{live_server.url}/exports/{job.pk}/"
    expect(page.locator("h1")).to_have_text(f"Export {job.pk}: All report tables")
    assert job.params["filters"]["as_of"] is not None
    # Its steps: the 3 enrollments worked out, every course counted, the 3 learners' rows.
    courses = Course.objects.count()
    assert job.total == 3 + courses + 3
    expect(page.locator("main")).to_contain_text(f"Progress: 0 of {6 + courses} steps")
    expect(page.locator("main")).to_contain_text("each course's completions are counted")
    expect(page.locator("main")).to_contain_text("each enrollment is first worked out")
    _check(page)
    shoot(page, "export-long-timeline-queued-390")
    jobs.run_job(job.pk)
    expect(page.locator(".job-status")).to_have_text("succeeded", timeout=15_000)
    expect(page.locator("a.download-export")).to_contain_text("coursepack-report-all-")
