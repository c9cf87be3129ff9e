"""The reports page and its exports: the XLSX and the CSV hold the page's numbers."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from typing import Any

import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook
from reports_dataset import Dataset

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.reports import selectors
from coursepack.reports.tables import TABLE_KINDS, Cell, ReportTable
from coursepack.web.reports import LEARNERS_PER_PAGE
from tests.factories import make_learner, make_published_package

pytestmark = pytest.mark.django_db

Q1 = "from=2024-01-01&to=2024-04-01"


@pytest.fixture
def staff(dataset: Dataset, admin: Any) -> Client:
    """A browser signed in as the training admin, over the hand-built history."""
    client = Client()
    client.force_login(admin)
    return client


def page_tables(client: Client, query: str) -> dict[str, ReportTable]:
    response = client.get(f"/reports/?{query}")
    assert response.status_code == 200
    tables: dict[str, ReportTable] = response.context["tables"]
    return tables


def body(response: Any) -> bytes:
    assert response.streaming, "exports are streamed, not built in memory"
    return b"".join(response.streaming_content)


def xlsx_value(cell: Cell) -> Any:
    """What openpyxl reads back for a page cell: wall-clock moments, no time zone."""
    if isinstance(cell, datetime):
        return cell.replace(tzinfo=None)
    return cell


def csv_value(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.isoformat()
    return str(cell)


def row_of(table: ReportTable, *first_cells: Any) -> tuple[Cell, ...]:
    """The cells of the row whose first cells are ``first_cells``."""
    return next(
        row.cells for row in table.rows if row.cells[: len(first_cells)] == tuple(first_cells)
    )


# --- the round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", Q1, "package_id={privacy}", "version_id={safety_v1}"])
def test_xlsx_opens_with_openpyxl_and_holds_the_pages_numbers(
    staff: Client, dataset: Dataset, query: str
) -> None:
    """One sheet per page table, in the page's order, with the same header and cells."""
    query = query.format(privacy=dataset.privacy_id, safety_v1=dataset.safety_v1.pk)
    tables = page_tables(staff, query)

    response = staff.get(f"/reports/report.xlsx?{query}")

    assert response.status_code == 200
    assert isinstance(response, FileResponse)
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = load_workbook(io.BytesIO(body(response)), read_only=True)
    assert workbook.sheetnames == [table.title for table in tables.values()]
    for table in tables.values():
        width = len(table.columns)
        # A read-only sheet ends a row at its last non-empty cell: pad to the header.
        rows = [
            row + (None,) * (width - len(row))
            for row in workbook[table.title].iter_rows(values_only=True)
        ]
        assert rows[0] == tuple(column.header for column in table.columns)
        assert rows[1:] == [tuple(xlsx_value(cell) for cell in row.cells) for row in table.rows]
    workbook.close()


def test_xlsx_numbers_are_the_selectors_numbers(staff: Client, dataset: Dataset) -> None:
    """Q1 in the workbook: Safety v1 has 4 enrolled, 1 withdrawn, 1 not started, 2 in
    progress, 1 completed (25.0 %), 2 completed in range — as the selector says."""
    response = staff.get(f"/reports/report.xlsx?{Q1}")
    workbook = load_workbook(io.BytesIO(body(response)), read_only=True)
    packages = list(workbook["Packages and versions"].iter_rows(values_only=True))
    courses = list(workbook["Courses"].iter_rows(values_only=True))
    learners = list(workbook["Learners"].iter_rows(values_only=True))
    workbook.close()

    safety_v1 = next(r for r in packages if r[:2] == ("Safety", "v1"))
    assert safety_v1 == ("Safety", "v1", "archived", 4, 1, 1, 2, 1, 25, 2)
    counts = (
        selectors.package_report(
            selectors.make_filters(date_from=date(2024, 1, 1), date_to=date(2024, 4, 1))
        )[1]
        .versions[0]
        .counts
    )
    assert safety_v1[3:] == (
        counts.enrolled,
        counts.withdrawn,
        counts.not_started,
        counts.in_progress,
        counts.completed,
        counts.completion_percent,
        counts.completed_in_range,
    )
    assert next(r for r in courses if r[0] == "RPT-B") == ("RPT-B", "Course B", 3, 0, 1)
    assert [r[0] for r in learners[1:]] == ["ann", "ben", "cat", "dan", "eve"]
    assert learners[1][-1] == datetime(2024, 3, 20, 12, 0)


@pytest.mark.parametrize("kind", TABLE_KINDS)
def test_csv_round_trips_through_the_csv_module(staff: Client, dataset: Dataset, kind: str) -> None:
    """Each table as CSV: a UTF-8 BOM, the page's header, then the page's cells."""
    table = page_tables(staff, Q1)[kind]

    response = staff.get(f"/reports/{kind}.csv?{Q1}")

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="coursepack-report-{kind}-{today}.csv"'
    )
    raw = body(response)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == [column.header for column in table.columns]
    assert rows[1:] == [[csv_value(cell) for cell in row.cells] for row in table.rows]


def test_csv_numbers_parse_back_to_the_selectors_numbers(staff: Client, dataset: Dataset) -> None:
    raw = body(staff.get(f"/reports/learners.csv?{Q1}")).decode("utf-8-sig")
    rows = {row["Username"]: row for row in csv.DictReader(io.StringIO(raw))}

    ann = rows["ann"]
    assert int(ann["Enrollments (open)"]) == 2
    assert int(ann["Completed"]) == 2
    assert datetime.fromisoformat(ann["Last completion"]) == datetime.fromisoformat(
        "2024-03-20T12:00:00+00:00"
    )
    assert (rows["eve"]["Enrollments (open)"], rows["eve"]["Withdrawn"]) == ("0", "1")
    assert rows["eve"]["Last completion"] == ""


def test_xlsx_filename_and_every_sheet_for_no_filters(staff: Client, dataset: Dataset) -> None:
    response = staff.get("/reports/report.xlsx")

    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="coursepack-report-all-{today}.xlsx"'
    )
    workbook = load_workbook(io.BytesIO(body(response)), read_only=True)
    assert workbook.sheetnames == [
        "Packages and versions",
        "Completions over time",
        "Courses",
        "Learners",
    ]
    workbook.close()


def test_text_that_looks_like_a_formula_stays_text(
    staff: Client, dataset: Dataset, admin: Any
) -> None:
    """A package named like a formula is text in the XLSX and apostrophe-quoted in the CSV,
    so a spreadsheet never runs it."""
    name = '=HYPERLINK("http://example.com","x")'
    make_published_package(actor=admin, name=name)

    workbook = load_workbook(io.BytesIO(body(staff.get("/reports/report.xlsx"))))
    sheet = workbook["Packages and versions"]
    cell = next(row[0] for row in sheet.iter_rows() if row[0].value == name)
    raw = body(staff.get("/reports/packages.csv")).decode("utf-8-sig")

    assert cell.data_type == "s"
    assert "'" + name in [row[0] for row in csv.reader(io.StringIO(raw))]


# --- the page ---------------------------------------------------------------------------------


def test_page_shows_the_tables_the_chart_and_downloads_with_the_filters(
    staff: Client, dataset: Dataset
) -> None:
    response = staff.get(f"/reports/?{Q1}&package_id={dataset.safety_id}")
    html = response.content.decode()

    assert response.status_code == 200
    assert '<svg class="chart"' in html
    assert "Safety v1" in html  # the chart's legend
    query = f"from=2024-01-01&amp;to=2024-04-01&amp;package_id={dataset.safety_id}"
    assert f'href="/reports/report.xlsx?{query}"' in html
    for kind in TABLE_KINDS:
        assert f'href="/reports/{kind}.csv?{query}"' in html
    tables = response.context["tables"]
    assert row_of(tables["packages"], "Safety", "v1")[3:] == (4, 1, 1, 2, 1, 25.0, 2)
    assert [row.cells[0] for row in tables["packages"].rows] == ["Safety", "Safety", "Safety"]
    assert response.context["totals"].completed_in_range == 2


def test_page_without_completions_says_so_instead_of_a_chart(
    staff: Client, dataset: Dataset
) -> None:
    html = staff.get("/reports/?from=2020-01-01&to=2021-01-01").content.decode()

    assert "<svg" not in html
    assert "No completions in this range." in html


def test_page_pages_the_learners(staff: Client, dataset: Dataset, admin: Any) -> None:
    """More learners than fit a page: the first page, then the rest, in username order."""
    from coursepack.learning import api as learning

    extra = [make_learner(username=f"zz{i:03d}") for i in range(LEARNERS_PER_PAGE)]
    learning.bulk_enroll(
        actor=admin, package_id=dataset.privacy_id, learner_ids=[u.pk for u in extra]
    )

    first = staff.get("/reports/")
    second = staff.get("/reports/?page=2")

    assert first.context["learner_total"] == 9 + LEARNERS_PER_PAGE
    assert len(first.context["tables"]["learners"].rows) == LEARNERS_PER_PAGE
    assert 'rel="next"' in first.content.decode()
    assert [row.cells[0] for row in second.context["tables"]["learners"].rows] == [
        f"zz{i:03d}" for i in range(91, 100)
    ]
    assert 'rel="prev"' in second.content.decode()


def test_an_empty_range_is_explained_on_the_page_and_refused_by_the_downloads(
    staff: Client, dataset: Dataset
) -> None:
    query = "from=2024-04-01&to=2024-01-01"

    page = staff.get(f"/reports/?{query}")
    csv_response = staff.get(f"/reports/packages.csv?{query}")
    xlsx_response = staff.get(f"/reports/report.xlsx?{query}")

    assert page.status_code == 200
    assert "To (not included): must be after from" in page.content.decode()
    assert "tables" not in page.context
    assert (csv_response.status_code, xlsx_response.status_code) == (400, 400)


def test_unknown_filters_and_tables_are_refused(staff: Client, dataset: Dataset) -> None:
    page = staff.get("/reports/?version_id=999999&from=someday")

    assert re.search(r"Version: Select a valid choice", page.content.decode())
    assert "Enter a valid date" in page.content.decode()
    assert staff.get("/reports/nothing.csv").status_code == 404


# --- who may see it ---------------------------------------------------------------------------


def test_auditors_may_read_reports_learners_may_not_and_strangers_sign_in_first(
    dataset: Dataset,
) -> None:
    auditor = accounts.create_user(actor=None, username="auditor1", role=Role.AUDITOR)
    learner = dataset.learners["ann"]
    paths = [
        "/reports/",
        "/reports/courses.csv",
        "/reports/report.xlsx",
        f"/reports/versions/?package_id={dataset.safety_id}",
    ]

    as_auditor, as_learner, anonymous = Client(), Client(), Client()
    as_auditor.force_login(auditor)
    as_learner.force_login(learner)

    assert [as_auditor.get(p).status_code for p in paths] == [200, 200, 200, 200]
    assert [as_learner.get(p).status_code for p in paths] == [403, 403, 403, 403]
    for path in paths:
        response = anonymous.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_the_navigation_links_to_the_reports(staff: Client) -> None:
    assert '<a href="/reports/">Reports</a>' in staff.get("/").content.decode()


def test_page_and_downloads_say_and_keep_the_timeline(staff: Client, dataset: Dataset) -> None:
    """The page states which timeline it counts; a past moment carries into the
    downloads' links and their numbers are the page's."""
    now = staff.get("/reports/")
    assert b"As of now, as known now (the stored statuses)." in now.content
    query = "as_of=2024-03-01T12:00&known_at=2024-03-01T12:00"
    then = staff.get(f"/reports/?{query}")
    assert then.status_code == 200
    page = then.content.decode()
    assert "what the record showed at that moment" in page
    assert "as_of=2024-03-01T12%3A00&amp;known_at=2024-03-01T12%3A00" in page
    tables = page_tables(staff, query)
    # enrolled, withdrawn, not started, in progress, completed
    assert row_of(tables["packages"], "Safety", "v1")[3:8] == (7, 0, 7, 0, 0)
