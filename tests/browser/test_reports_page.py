"""The reports page in Chromium: tables, the chart, filters and the XLSX download."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browser_checks import (
    click_main_nav,
    page_overflows_viewport,
    serious_accessibility_violations,
)
from django.core.management import call_command
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from coursepack.web import reports as report_pages

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _sign_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "coursepack-admin")
    page.click("form.login button[type=submit]")


def test_reports_page_shows_tables_and_chart_and_downloads_the_xlsx(
    live_server: Any, page: Page, screenshot: Any, tmp_path: Path
) -> None:
    """As the demo admin: the page lists the demo's packages and versions with their
    counts, draws the chart of completions per version, and the XLSX it offers opens
    with the same numbers."""
    call_command("load_demo", verbosity=0)
    _sign_in(page, live_server.url)
    click_main_nav(page, "Reports")

    expect(page.locator("h1")).to_have_text("Reports")
    packages = page.locator('table[data-table="packages"]')
    v1 = packages.locator("tr", has_text="2024 Cybersecurity Training").filter(has_text="v1")
    expect(v1.locator("td")).to_have_text(
        ["2024 Cybersecurity Training", "v1", "Archived", "3", "0", "1", "1", "1", "33.3", "1"]
    )
    hr_total = packages.locator("tr.total", has_text="HR Compliance Package")
    expect(hr_total.locator("td").nth(3)).to_have_text("3")
    expect(
        page.locator('table[data-table="courses"] tr', has_text="HR-400").locator("td")
    ).to_have_text(["HR-400", "Code of Conduct", "1", "1", "1"])
    expect(page.locator('table[data-table="learners"] tbody tr')).to_have_count(6)
    chart = page.locator("figure.chart-box svg.chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar")).to_have_count(2)
    expect(chart.locator(".legend-item")).to_have_text(
        ["2024 Cybersecurity Training v1", "HR Compliance Package v1"]
    )
    screenshot(page, "reports")

    with page.expect_download() as download_info:
        page.click("text=Download all tables (XLSX)")
    download = download_info.value
    assert download.suggested_filename.startswith("coursepack-report-all-")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    workbook = load_workbook(saved, read_only=True)
    rows = list(workbook["Packages and versions"].iter_rows(values_only=True))
    workbook.close()
    assert ("2024 Cybersecurity Training", "v1", "archived", 3, 0, 1, 1, 1, 33.3, 1) in rows


def test_reports_filter_by_version_and_page_the_tables_by_keyboard(
    live_server: Any, page: Page, screenshot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version filter lists no versions until a package is chosen; choosing one
    fetches its versions (htmx); the chosen version's report keeps every filter in its
    downloads. Then, one package and two courses a page: each table's "next" link
    opens its next page at that table, the other tables staying where they were, and
    the standing section shows the packages on the page. By keyboard, at 1280 and
    390 px, with axe."""
    monkeypatch.setattr(report_pages, "PACKAGES_PER_PAGE", 1)
    monkeypatch.setattr(report_pages, "COURSES_PER_PAGE", 2)
    call_command("load_demo", verbosity=0)
    page.set_viewport_size(LAPTOP)
    _sign_in(page, live_server.url)
    click_main_nav(page, "Reports")

    versions = page.locator("#id_version_id option")
    expect(versions).to_have_text(["All versions"])
    page.select_option("#id_package_id", label="HR Compliance Package")
    expect(versions).to_have_text(["All versions", "v1"])
    page.select_option("#id_version_id", label="v1")
    page.fill("#id_from", "2020-01-01")
    page.locator("form.filters button[type=submit]").focus()
    page.keyboard.press("Enter")

    rows = page.locator('table[data-table="packages"] tbody tr')
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("HR Compliance Package")
    expect(page.locator("#id_from")).to_have_value("2020-01-01")
    expect(page.locator("#id_version_id option:checked")).to_have_text("v1")
    href = page.locator("text=Download all tables (XLSX)").get_attribute("href")
    assert href is not None and "package_id=" in href and "version_id=" in href
    assert "from=2020-01-01" in href
    # Over a range the learners' count follows the page (htmx): it fills the pager in.
    expect(page.locator("#report-learners nav.pager .where")).to_have_text(
        re.compile(r"^Learners 1\u2013\d+ of [\d,]+$")
    )
    assert serious_accessibility_violations(page) == []
    screenshot(page, "reports-filtered")
    page.set_viewport_size(PHONE)
    assert page_overflows_viewport(page) == 0
    screenshot(page, "reports-filtered-390")

    page.set_viewport_size(LAPTOP)
    page.get_by_role("link", name="Clear filters").focus()
    page.keyboard.press("Enter")
    totals = page.locator('table[data-table="packages"] tr.total td:first-child')
    expect(totals).to_have_count(1)
    first_names = totals.all_inner_texts()
    standing = page.locator('table[data-table="standing"] tbody th')
    expect(standing).to_have_text(first_names)
    expect(page.locator("#report-packages nav.pager .where")).to_contain_text(
        "Packages 1\u20131 of"
    )

    page.locator("#report-packages").get_by_role("link", name="Next packages").focus()
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"packages_page=2#report-packages$"))
    expect(page.locator("#report-packages nav.pager .where")).to_contain_text("Packages 2\u2013")
    assert totals.all_inner_texts()[0] not in first_names
    courses = page.locator('table[data-table="courses"] tbody tr')
    expect(courses).to_have_count(2)
    page.locator("#report-courses").get_by_role("link", name="Next courses").focus()
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"packages_page=2&courses_page=2#report-courses$"))
    expect(page.locator("#report-courses nav.pager .where")).to_contain_text("Courses 3\u2013")
    expect(page.locator("#report-packages nav.pager .where")).to_contain_text("Packages 2\u2013")
    assert serious_accessibility_violations(page) == []
    screenshot(page, "reports-paged")
    page.set_viewport_size(PHONE)
    assert page_overflows_viewport(page) == 0
    screenshot(page, "reports-paged-390")
