"""The people sync page in Chromium: an admin uploads an HR file, reads the dry run
(new people, a move, a leaver, a row with a problem), applies it and follows the job;
no serious accessibility violation, and the preview fits 390 px. A manager then sees
their team on "My people" and nobody else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from browser_checks import (
    click_main_nav,
    page_overflows_viewport,
    serious_accessibility_violations,
)
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from coursepack.jobs import api as jobs
from coursepack.jobs.models import Job
from coursepack.organisation import api as organisation
from tests.factories import make_admin

FIRST = """external_id,username,first_name,last_name,email,job_title,org_unit,manager_external_id
E1,ana,Ana,Silva,ana@example.com,Team lead,SALES,
E2,ben,Ben,Okafor,ben@example.com,Sales rep,SALES,E1
E3,cleo,Cleo,Ng,cleo@example.com,Engineer,IT,
"""
SECOND = """external_id,username,first_name,last_name,email,job_title,org_unit,manager_external_id
E1,ana,Ana,Silva,ana@example.com,Team lead,SALES,
E2,ben,Ben,Okafor,ben@example.com,Sales rep,IT,E1
E4,dina,Dina,Haddad,dina@example.com,Sales rep,SALES,E1
E5,eve,Eve,Moss,eve@example.com,Buyer,NOWHERE,
"""


def _check(page: Page) -> None:
    assert serious_accessibility_violations(page) == []
    assert page_overflows_viewport(page) == 0


def _upload(page: Page, url: str, path: Path, *, full: bool) -> None:
    page.goto(f"{url}/people-sync/")
    page.set_input_files("#id_people_file", str(path))
    if full:
        page.check("#id_full")
    page.click("button:has-text('Check the file')")


def _run_the_job(page: Page) -> None:
    expect(page.locator("h1")).to_contain_text("People sync")
    job = Job.objects.order_by("-pk").first()
    assert job is not None
    jobs.run_job(job.pk)
    page.reload()
    expect(page.locator(".job-status")).to_have_text("succeeded")


def test_upload_preview_and_apply_a_people_file(
    live_server: Any, page: Page, shoot: Any, tmp_path: Path
) -> None:
    admin = make_admin(username="hana", password="people-sync-pw")
    company = organisation.create_unit(actor=admin, code="CO", name="Company")
    sales = organisation.create_unit(actor=admin, code="SALES", name="Sales", parent_id=company.pk)
    organisation.create_unit(actor=admin, code="IT", name="IT", parent_id=company.pk)
    first, second = tmp_path / "people.csv", tmp_path / "people-2.csv"
    first.write_text(FIRST)
    second.write_text(SECOND)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "hana")
    page.fill("#id_password", "people-sync-pw")
    page.click("form.login button[type=submit]")

    click_main_nav(page, "People sync")
    _check(page)
    shoot(page, "people-sync-upload", docs=True)
    _upload(page, live_server.url, first, full=True)
    expect(page.locator("[data-count=creates]")).to_have_text("3")
    assert User.objects.filter(username="ana").count() == 0, "the dry run wrote nobody"
    page.click("button:has-text('Apply: 3 new')")
    _run_the_job(page)
    assert User.objects.filter(username__in=["ana", "ben", "cleo"]).count() == 3

    # The next file: Ben moves to IT, Dina joins, Cleo is gone (a leaver), Eve's unit is unknown.
    page.set_viewport_size({"width": 390, "height": 844})
    _upload(page, live_server.url, second, full=True)
    expect(page.locator("[data-count=creates]")).to_have_text("1")
    expect(page.locator("[data-count=updates]")).to_have_text("1")
    expect(page.locator("[data-count=deactivations]")).to_have_text("1")
    expect(page.locator("[data-count=errors]")).to_have_text("1")
    expect(page.locator("[data-table=updates]")).to_contain_text("org_unit: SALES → IT")
    expect(page.locator("[data-table=deactivations]")).to_contain_text("absent from the full file")
    expect(page.locator("[data-table=errors]")).to_contain_text("no org unit with the code")
    _check(page)
    shoot(page, "people-sync-preview", docs=True)
    page.click("button:has-text('Apply: 1 new')")
    _run_the_job(page)
    shoot(page, "people-sync-applied")
    assert User.objects.get(username="cleo").is_active is False
    assert User.objects.get(username="ben").placement.org_unit.code == "IT"

    # Ana manages Sales: signed in, "My people" lists Sales' people and not Ben (now in IT).
    organisation.set_unit_managers(
        actor=admin, unit_id=sales.pk, user_ids=[User.objects.get(username="ana").pk]
    )
    ana = User.objects.get(username="ana")
    ana.set_password("manager-pw-1")
    ana.save()
    page.click("button:has-text('Sign out')")
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "manager-pw-1")
    page.click("form.login button[type=submit]")
    # At 390 px the links sit behind the "Menu" disclosure.
    page.click("details.nav-menu summary")
    expect(page.locator("details.nav-menu nav")).to_contain_text("My people")
    page.click("details.nav-menu nav >> text=My people")
    expect(page.locator("main")).to_contain_text("dina")
    expect(page.locator("main")).not_to_contain_text("ben")
    _check(page)
    shoot(page, "manager-my-people")
    ben = User.objects.get(username="ben")
    response = page.goto(f"{live_server.url}/learners/{ben.pk}/transcript/")
    assert response is not None and response.status == 404
