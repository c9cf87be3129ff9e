"""The compliance standing page in Chromium: counts, one standing's learners, search,
at 390 px too."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import Page, expect

from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment


def test_standing_page_counts_and_lists_learners(
    live_server: Any, page: Page, screenshot: Any
) -> None:
    """As the demo admin, after exempting one demo learner from a package: the exempt
    count is 1 and following it lists that learner; the page reads at 390 px."""
    call_command("load_demo", verbosity=0)
    admin = get_user_model().objects.get(username="admin")
    enrollment = Enrollment.objects.filter(withdrawn_at__isnull=True).order_by("pk").first()
    assert enrollment is not None
    learning.exempt(actor=admin, enrollment_ids=[enrollment.pk], reason="administrative")
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "coursepack-admin")
    page.click("form.login button[type=submit]")
    page.goto(f"{live_server.url}/packages/{enrollment.package_id}/standing/")
    expect(page.locator("h1")).to_contain_text("Compliance standing")
    counts = page.locator("table.standing-counts td a")
    expect(counts).to_have_count(8)  # one row per standing
    page.click('table.standing-counts tr:has-text("Exempt") a')
    expect(page.locator("h2")).to_have_text("Exempt")
    expect(page.locator("table.standing-learners tbody tr")).to_have_count(1)
    expect(page.locator("table.standing-learners tbody")).to_contain_text(
        enrollment.learner.username
    )
    page.set_viewport_size({"width": 390, "height": 800})
    screenshot(page, "standing")
