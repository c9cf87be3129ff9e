"""The training matrix in Chromium: a manager signs in, lands on their team's page,
sees their team's matrix and nobody else's, exports it (the XLSX's rows are their
team); an admin previews an audience's impact, then saves it. At 1280 and 390 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from browser_checks import page_overflows_viewport, serious_accessibility_violations
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from coursepack.accounts import api as accounts
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from tests.audiences.audience_helpers import make_org, make_person, manage
from tests.factories import make_admin, make_course, make_draft_package

PASSWORD = "matrix-pass-1234"


def _sign_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.login button[type=submit]")


def _world() -> dict[str, Any]:
    admin = make_admin(username="matrix-admin", password=PASSWORD)
    org = make_org()
    boss = make_person(org.company, username="team-boss", password=PASSWORD)
    accounts.set_role(actor=admin, user_id=boss.pk, role="manager")
    manage(boss, org.sales)
    team = [make_person(org.north, username=f"ann-north-{i}") for i in range(3)]
    team += [make_person(org.south, username="bob-south")]
    others = [make_person(org.desk, username=f"zed-desk-{i}") for i in range(2)]
    draft = make_draft_package(actor=admin, items=[make_course(actor=admin)], name="Fire safety")
    packaging.set_version_lifecycle(
        actor=admin, version_id=draft.pk, due_kind="after_enrolment", due_days=0
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="v1")
    for person in team[:2] + others:
        learning.enroll(actor=admin, learner_id=person.pk, package_id=draft.package_id)
    return {
        "admin": admin,
        "org": org,
        "boss": boss,
        "team": team,
        "others": others,
        "version": draft,
    }


def test_a_manager_sees_and_exports_their_teams_matrix_only(
    live_server: Any, page: Page, screenshot: Any, tmp_path: Path
) -> None:
    world = _world()
    _sign_in(page, live_server.url, "team-boss")

    expect(page.locator("h1")).to_have_text("My team")
    rows = page.locator("table.matrix tbody th")
    expect(rows).to_have_count(4)
    expect(page.locator("table.matrix")).not_to_contain_text("zed-desk")
    expect(page.locator("table.overdue tbody tr")).to_have_count(2)  # due on enrolment
    expect(page.locator("table.overdue")).to_contain_text("ann-north-0")
    assert serious_accessibility_violations(page) == []
    screenshot(page, "team-1280")

    with page.expect_download() as download_info:
        page.click("a.download")
    path = tmp_path / "matrix.xlsx"
    download_info.value.save_as(path)
    sheet = load_workbook(path)["Training matrix"]
    names = [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == sorted(p.username for p in world["team"])

    # Filtering by a unit outside their scope shows nobody (no one else leaks in).
    page.goto(f"{live_server.url}/matrix/?unit={world['org'].desk.pk}")
    expect(page.locator("table.matrix tbody")).to_contain_text("Nobody matches")
    page.goto(f"{live_server.url}/team/")
    page.set_viewport_size({"width": 390, "height": 800})
    assert page_overflows_viewport(page) == 0
    screenshot(page, "team-390")


def test_an_admin_previews_an_audience_then_saves_it(
    live_server: Any, page: Page, screenshot: Any
) -> None:
    world = _world()
    _sign_in(page, live_server.url, "matrix-admin")
    page.goto(f"{live_server.url}/packages/{world['version'].package_id}/audience/")
    page.select_option("#id_org_unit_ids", [str(world["org"].north.pk)])
    page.click("button[value=preview]")
    expect(page.locator("#impact")).to_contain_text("1 learner would be enrolled, 0 withdrawn")
    screenshot(page, "audience-preview-1280")
    page.click("button[value=save]")
    expect(page.locator(".messages")).to_contain_text("1 enrolled, 0 withdrawn")
    # Due on enrolment: the north three (one just enrolled by the audience) and the
    # desk two are overdue.
    page.goto(f"{live_server.url}/matrix/?state=overdue")
    expect(page.locator("table.matrix tbody th")).to_have_count(5)
    page.goto(f"{live_server.url}/matrix/")
    expect(page.locator("table.matrix tbody th")).to_have_count(
        8
    )  # admin, boss, a team of 4, 2 others
    screenshot(page, "matrix-1280")
    page.set_viewport_size({"width": 390, "height": 800})
    assert page_overflows_viewport(page) == 0
    screenshot(page, "matrix-390")
