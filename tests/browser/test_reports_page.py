"""The reports page in Chromium: tables, the chart, filters and the XLSX download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from browser_checks import click_main_nav
from django.core.management import call_command
from openpyxl import load_workbook
from playwright.sync_api import Page, expect


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


def test_reports_filter_by_package_keeps_the_filters_in_the_downloads(
    live_server: Any, page: Page, screenshot: Any
) -> None:
    call_command("load_demo", verbosity=0)
    _sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/reports/")

    page.select_option("#id_package_id", label="HR Compliance Package")
    page.fill("#id_from", "2020-01-01")
    page.click("form.filters button[type=submit]")

    rows = page.locator('table[data-table="packages"] tbody tr')
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("HR Compliance Package")
    expect(page.locator("#id_from")).to_have_value("2020-01-01")
    href = page.locator("text=Download all tables (XLSX)").get_attribute("href")
    assert href is not None and "package_id=" in href and "from=2020-01-01" in href
    screenshot(page, "reports-filtered")
