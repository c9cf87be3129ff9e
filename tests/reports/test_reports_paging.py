"""The report page's tables a page at a time (issue 19): the same rows and numbers as
the whole report, the totals of everything, and the version filter's choices."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone
from reports_dataset import Dataset

from coursepack.learning import lifecycle_selectors
from coursepack.reports import selectors
from coursepack.reports.scope import for_viewer
from coursepack.reports.selectors import ReportFilters
from coursepack.web import reports as report_pages

pytestmark = pytest.mark.django_db


def every_filter(dataset: Dataset) -> dict[str, ReportFilters]:
    """A filter of each kind the selectors answer differently."""
    return {
        "everything": ReportFilters(),
        "first quarter": selectors.make_filters(
            date_from=date(2024, 1, 1), date_to=date(2024, 4, 1)
        ),
        "one package": ReportFilters(package_id=dataset.safety_id),
        "one version": ReportFilters(version_id=dataset.safety_v2.pk),
        "package over a quarter": selectors.make_filters(
            date_from=date(2024, 1, 1), date_to=date(2024, 4, 1), package_id=dataset.safety_id
        ),
        "a timeline": ReportFilters(as_of=timezone.now() - timedelta(days=1)),
        "days not on UTC midnights": selectors.make_filters(
            date_from=date(2024, 1, 1), date_to=date(2024, 4, 1), tz=ZoneInfo("Europe/Paris")
        ),
        "someone's people": for_viewer(ReportFilters(), dataset.learners["ann"]),
    }


def test_package_pages_hold_the_whole_report_and_its_totals(dataset: Dataset) -> None:
    """Page after page of one package each: the report's rows in order, and on each
    page the totals and number of packages of the whole report."""
    for name, filters in every_filter(dataset).items():
        whole = selectors.package_report(filters)
        pages = [
            selectors.package_report_page(filters, offset=offset, limit=1)
            for offset in range(len(whole) + 1)
        ]

        assert [row for page in pages for row in page.rows] == whole, name
        assert pages[-1].rows == [], name
        assert {page.totals for page in pages} == {selectors.overall(whole)}, name
        assert {page.package_count for page in pages} == {len(whole)}, name
        if filters.package_id is None and filters.version_id is None:
            # The page hands over the package filter's options as the list (one read).
            choices = selectors.package_choices()
            assert [
                selectors.package_report_page(filters, offset=offset, limit=1, choices=choices)
                for offset in range(len(whole) + 1)
            ] == pages, name


def test_course_pages_hold_the_whole_course_report(dataset: Dataset) -> None:
    """Pages of two courses: the report's rows in order and how many there are, for
    admins and for a manager (whose report is counted exactly)."""
    for name, filters in every_filter(dataset).items():
        whole = selectors.course_report(filters)
        pages = [
            selectors.course_page(filters, offset=offset, limit=2)
            for offset in range(0, len(whole) + 2, 2)
        ]

        assert [row for page in pages for row in page.rows] == whole, name
        assert {page.course_count for page in pages} == {len(whole)}, name
    assert len(selectors.course_report(ReportFilters())) > 2, "the pages above are more than one"


def test_the_version_filter_lists_the_chosen_packages_versions(dataset: Dataset) -> None:
    safety = [(dataset.safety_v1.pk, 1), (dataset.safety_v2.pk, 2)]

    assert selectors.package_choices() == [
        (dataset.privacy_id, "Privacy"),
        (dataset.safety_id, "Safety"),
    ]
    assert selectors.version_choices(dataset.safety_id) == safety
    assert selectors.version_choices(None, dataset.safety_v2.pk) == safety
    assert selectors.version_choices(None) == []
    assert selectors.version_choices(None, 999999) == []


@pytest.fixture
def staff(dataset: Dataset, admin: Any) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def test_the_page_pages_packages_and_courses_each_on_its_own(
    staff: Client, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One package and two courses a page: each table has its own next link, which
    keeps the filters and the other tables' pages; the headline counts everything and
    the standing section follows the packages shown."""
    monkeypatch.setattr(report_pages, "PACKAGES_PER_PAGE", 1)
    monkeypatch.setattr(report_pages, "COURSES_PER_PAGE", 2)
    whole = selectors.package_report(ReportFilters())
    courses = selectors.course_report(ReportFilters())

    first = staff.get("/reports/")
    second = staff.get("/reports/?packages_page=2&courses_page=2")
    beyond = staff.get("/reports/?packages_page=9")

    packages = first.context["pagers"]["packages"]
    assert (packages.number, packages.pages, packages.total) == (1, 2, 2)
    assert packages.next == "?packages_page=2#report-packages"
    assert first.context["pagers"]["courses"].next == "?courses_page=2#report-courses"
    assert [p.name for p, _ in first.context["standing"]] == ["Privacy"]
    assert first.context["totals"] == selectors.overall(whole)
    assert first.context["package_count"] == 2
    assert [r.cells[0] for r in first.context["tables"]["packages"].rows if r.total] == ["Privacy"]
    assert [r.cells[0] for r in second.context["tables"]["packages"].rows if r.total] == ["Safety"]
    assert [r.cells[0] for r in second.context["tables"]["courses"].rows] == [
        c.code for c in courses[2:4]
    ]
    assert second.context["pagers"]["courses"].previous == "?packages_page=2#report-courses"
    html = first.content.decode()
    assert "Packages 1\u20131 of 2" in html
    assert 'href="?packages_page=2#report-packages" rel="next"' in html
    # A page past the end shows the last one.
    assert beyond.context["pagers"]["packages"].number == 2


def test_the_version_filter_offers_only_the_chosen_packages_versions(
    staff: Client, dataset: Dataset
) -> None:
    """No package chosen: only "All versions"; a package chosen: its versions; htmx
    fetches them on choosing one; a version of another package is refused."""
    everything = staff.get("/reports/").context["form"]
    chosen = staff.get(f"/reports/?package_id={dataset.safety_id}").context["form"]
    options = staff.get(f"/reports/versions/?package_id={dataset.safety_id}")
    mixed = staff.get(
        f"/reports/?package_id={dataset.privacy_id}&version_id={dataset.safety_v1.pk}"
    )

    assert list(everything.fields["version_id"].choices) == [("", "All versions")]
    assert [label for _, label in chosen.fields["version_id"].choices] == [
        "All versions",
        "v1",
        "v2",
    ]
    assert options.status_code == 200
    assert re.findall(r'<option value="(\d*)">([^<]*)</option>', options.content.decode()) == [
        ("", "All versions"),
        (str(dataset.safety_v1.pk), "v1"),
        (str(dataset.safety_v2.pk), "v2"),
    ]
    assert "Version: Select a valid choice" in mixed.content.decode()
    assert "tables" not in mixed.context


def test_the_standing_section_is_the_packages_whatever_the_filter(
    staff: Client, dataset: Dataset
) -> None:
    """The standing section shows the package's standing whether the page has all
    packages, one package or one version chosen (it takes the versions the page has
    read: the package table's, or the version filter's options). The history has no
    validity rules, so this holds the counts equal, not which rules they use."""
    expected = lifecycle_selectors.standing_counts_by_package(
        [dataset.safety_id, dataset.privacy_id],
        expiring_within_days=report_pages.STANDING_WITHIN_DAYS,
    )
    assert any(any(c.values()) for c in expected.values())
    for url in (
        "/reports/",
        f"/reports/?package_id={dataset.safety_id}",
        f"/reports/?package_id={dataset.safety_id}&version_id={dataset.safety_v1.pk}",
        f"/reports/?version_id={dataset.safety_v2.pk}",
    ):
        standing = staff.get(url).context["standing"]
        assert standing, url
        for package, cells in standing:
            assert {key: n for key, _, n in cells} == {
                key: expected[package.package_id][key] for key, _ in report_pages.STANDING_LABELS
            }, url


def test_a_timeline_kept_for_a_page_gives_every_read_the_same_answers_worked_out_once(
    dataset: Dataset,
) -> None:
    """Within ``answers_kept`` (the reports page under the limit of ADR 0039) the page's
    reads on a timeline give what they give apart, for everyone and for a manager's
    people, and the transcripts' work is done once: one read of the moves per batch
    of learners, where each read did its own, and the learners' rows made once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from coursepack.reports import scope

    def reads(filters: ReportFilters) -> tuple[Any, ...]:
        return (
            selectors.learner_count(filters),
            selectors.package_report_page(filters, offset=0, limit=20),
            list(selectors.learner_rows(filters, offset=0, limit=100)),
            selectors.completions_over_time(filters, top=6, whole_up_to=12),
        )

    as_of = timezone.now() - timedelta(days=1)
    for filters in (
        ReportFilters(as_of=as_of),
        ReportFilters(as_of=as_of, package_id=dataset.safety_id),
        for_viewer(ReportFilters(as_of=as_of), dataset.learners["ann"]),
    ):
        with CaptureQueriesContext(connection) as apart_queries:
            apart = reads(filters)
        with CaptureQueriesContext(connection) as kept_queries, scope.answers_kept():
            kept = reads(filters)

        assert kept == apart, filters
        assert apart[0] > 0, filters

        def moves(queries: CaptureQueriesContext) -> int:
            return sum("learning_enrollmentmove" in q["sql"] for q in queries.captured_queries)

        assert moves(kept_queries) == 1, filters
        assert moves(apart_queries) >= 4, filters

        def names(queries: CaptureQueriesContext) -> int:
            return sum(
                'FROM "auth_user"' in q["sql"] and '"auth_user"."first_name"' in q["sql"]
                for q in queries.captured_queries
            )

        # The learners' rows are made once for their count and their page.
        assert names(kept_queries) == 1, filters
        assert names(apart_queries) == 2, filters
