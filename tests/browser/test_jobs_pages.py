"""Long operations in Chromium: a publish that moves learners in the background lands on
its job page, which follows the moves; the audit verification page shows the last full
run and starts a new one. Checked at 1280 and 390 px with axe."""

from __future__ import annotations

from typing import Any

from browser_checks import page_overflows_viewport, serious_accessibility_violations
from django.core.management import call_command
from playwright.sync_api import Page, expect

from coursepack.jobs import api as jobs
from coursepack.jobs.models import Job
from coursepack.packaging.models import Package, PackageVersion


def _sign_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "coursepack-admin")
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def _check(page: Page) -> None:
    assert serious_accessibility_violations(page) == []
    assert page_overflows_viewport(page) == 0


def test_a_publish_with_moves_follows_its_job_and_verification_runs_on_demand(
    live_server: Any, page: Page, shoot: Any, settings: Any
) -> None:
    settings.PUBLISH_MOVES_IN_BACKGROUND_OVER = 0  # the demo is small: send any move to a job
    call_command("load_demo", verbosity=0)
    cyber = Package.objects.get(name="2024 Cybersecurity Training")
    draft = PackageVersion.objects.get(package=cyber, status="draft")
    _sign_in(page, live_server.url)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{live_server.url}/versions/{draft.pk}/publish/")
    page.check('input[name="inflight_policy"][value="move_in_progress"]')
    page.fill("#id_change_notes", "2025 refresh: everyone not complete moves.")
    page.get_by_role("button", name=f"Publish v{draft.version_number}").click()

    job = Job.objects.get(kind="publish_with_moves")
    page.wait_for_url(f"{live_server.url}/jobs/{job.pk}/")
    expect(page.locator("h1")).to_have_text(f"Job {job.pk}: Publish with moves")
    expect(page.locator(".job-status")).to_have_text("queued")
    expect(page.locator(".messages")).to_contain_text("in the background")
    expect(page.locator("main")).to_contain_text("Until a learner is moved they stay")
    _check(page)
    shoot(page, "job-publish-with-moves-queued")

    jobs.run_job(job.pk)
    page.reload()
    expect(page.locator(".job-status")).to_have_text("succeeded")
    expect(page.locator("progress")).to_have_attribute("value", "100")
    page.set_viewport_size({"width": 390, "height": 844})
    _check(page)
    shoot(page, "job-publish-with-moves-done-phone")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/audit/verification/")
    expect(page.locator("main")).to_contain_text("No full verification has finished yet.")
    page.get_by_role("button", name="Verify the whole log now").click()
    run = Job.objects.get(kind="audit_verify")
    page.wait_for_url(f"{live_server.url}/jobs/{run.pk}/")
    jobs.run_job(run.pk)
    page.goto(f"{live_server.url}/audit/verification/")
    expect(page.locator(".verification-ok")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"job {run.pk}")
    expect(page.locator("main")).to_contain_text("appended since the last full run")
    _check(page)
    shoot(page, "audit-verification")
    page.set_viewport_size({"width": 390, "height": 844})
    _check(page)
    shoot(page, "audit-verification-phone")
