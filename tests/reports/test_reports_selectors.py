"""Report numbers on a hand-built history (see reports_dataset for who did what)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.utils import timezone
from reports_dataset import Dataset, noon

from coursepack.errors import InvalidInput
from coursepack.learning import api as learning
from coursepack.learning import selectors as learning_selectors
from coursepack.learning.models import Enrollment
from coursepack.reports import selectors
from coursepack.reports.selectors import ReportFilters, StatusCounts
from tests.factories import make_course, make_learner, make_published_package

pytestmark = pytest.mark.django_db

Q1 = {"date_from": date(2024, 1, 1), "date_to": date(2024, 4, 1)}


def counts(
    enrolled: int = 0,
    withdrawn: int = 0,
    not_started: int = 0,
    in_progress: int = 0,
    completed: int = 0,
    completed_in_range: int = 0,
) -> StatusCounts:
    return StatusCounts(
        enrolled=enrolled,
        withdrawn=withdrawn,
        not_started=not_started,
        in_progress=in_progress,
        completed=completed,
        completed_in_range=completed_in_range,
    )


def by_version(report: list[selectors.PackageRow]) -> dict[tuple[str, str], StatusCounts]:
    """{(package name, "v1" | "all"): counts}."""
    found: dict[tuple[str, str], StatusCounts] = {}
    for package in report:
        found[(package.name, "all")] = package.totals
        for version in package.versions:
            found[(package.name, f"v{version.version_number}")] = version.counts
    return found


def test_the_dataset_statuses_are_the_engines(dataset: Dataset) -> None:
    """The stored statuses the reports count are exactly the engine's (no drift)."""
    assert learning.rebuild_statuses(actor=None, fix=False).drifted == []


# --- per package and per version ------------------------------------------------------------


def test_package_report_all_time_counts_each_status_and_separates_withdrawn(
    dataset: Dataset,
) -> None:
    """All time: open enrollments by status per version, the withdrawn one apart, the
    voided completion not counted, and packages added up over their versions."""
    report = selectors.package_report(ReportFilters())

    assert by_version(report) == {
        ("Privacy", "all"): counts(2, 0, 1, 0, 1, 1),
        ("Privacy", "v1"): counts(2, 0, 1, 0, 1, 1),
        ("Safety", "all"): counts(8, 1, 2, 3, 3, 3),
        ("Safety", "v1"): counts(6, 1, 1, 3, 2, 2),
        ("Safety", "v2"): counts(2, 0, 1, 0, 1, 1),
    }
    safety = next(p for p in report if p.name == "Safety")
    assert [(v.version_number, v.state) for v in safety.versions] == [
        (1, "archived"),
        (2, "active"),
    ]
    assert safety.totals.completion_percent == 37.5
    assert safety.versions[0].counts.completion_percent == 33.3


def test_package_report_date_range_counts_enrollments_begun_in_it_and_completions_in_it(
    dataset: Dataset,
) -> None:
    """Q1 2024: status counts cover enrollments begun in Q1 (not fay's and gus's from
    December, nor April's v2 ones); "completed in range" counts gus, enrolled in
    December but completed in March, and not eve, who was withdrawn."""
    report = selectors.package_report(selectors.make_filters(**Q1))

    assert by_version(report) == {
        ("Privacy", "all"): counts(2, 0, 1, 0, 1, 1),
        ("Privacy", "v1"): counts(2, 0, 1, 0, 1, 1),
        ("Safety", "all"): counts(4, 1, 1, 2, 1, 2),
        ("Safety", "v1"): counts(4, 1, 1, 2, 1, 2),
        ("Safety", "v2"): counts(),
    }
    safety_v2 = next(p for p in report if p.name == "Safety").versions[1]
    assert safety_v2.counts.completion_percent is None


def test_the_range_includes_from_and_excludes_to(dataset: Dataset) -> None:
    """[from, to): a completion at noon on 'to' is outside, one at noon on 'from' inside."""
    feb10 = selectors.make_filters(date_from=date(2024, 2, 10), date_to=date(2024, 2, 11))
    before_feb10 = selectors.make_filters(date_from=date(2024, 2, 9), date_to=date(2024, 2, 10))

    in_range = by_version(selectors.package_report(feb10))[("Safety", "v1")]
    before = by_version(selectors.package_report(before_feb10))[("Safety", "v1")]

    assert in_range.completed_in_range == 1  # ann, 2024-02-10 12:00
    assert before.completed_in_range == 0


def test_package_and_version_filters_narrow_the_report(dataset: Dataset) -> None:
    """A package filter lists only its versions; a version filter only that version."""
    by_package = selectors.package_report(ReportFilters(package_id=dataset.privacy_id))
    by_version_id = selectors.package_report(ReportFilters(version_id=dataset.safety_v2.pk))

    assert [(p.name, [v.version_number for v in p.versions]) for p in by_package] == [
        ("Privacy", [1])
    ]
    assert [(p.name, [v.version_number for v in p.versions]) for p in by_version_id] == [
        ("Safety", [2])
    ]
    assert by_version_id[0].totals == counts(2, 0, 1, 0, 1, 1)


def test_drafts_and_packages_without_a_released_version_are_not_listed(
    dataset: Dataset, admin: Any
) -> None:
    """Nobody is enrolled in a draft: the report lists released versions only."""
    from coursepack.packaging import api as packaging

    packaging.create_draft_from(actor=admin, version_id=dataset.privacy_v1.pk)
    packaging.create_package(actor=admin, name="Unreleased")

    report = selectors.package_report(ReportFilters())

    assert [(p.name, [v.version_number for v in p.versions]) for p in report] == [
        ("Privacy", [1]),
        ("Safety", [1, 2]),
    ]


def test_overall_adds_up_every_package(dataset: Dataset) -> None:
    """The page's headline numbers are the packages' totals added up."""
    assert selectors.overall(selectors.package_report(ReportFilters())) == counts(10, 1, 3, 3, 4, 4)


# --- per course -----------------------------------------------------------------------------


def course_numbers(rows: list[selectors.CourseRow]) -> dict[str, tuple[int, int, int]]:
    return {
        row.code: (row.learners_completed, row.failed_attempts, row.events_voided) for row in rows
    }


def test_course_report_counts_distinct_learners_and_leaves_voided_events_out(
    dataset: Dataset,
) -> None:
    """A: six learners (ann twice counts once; fay only failed). B: four, gus by a pass,
    dan's voided completion counted only as voided. D: in no package, all zeros."""
    assert course_numbers(selectors.course_report(ReportFilters())) == {
        "RPT-A": (6, 1, 0),
        "RPT-B": (4, 0, 1),
        "RPT-C": (2, 0, 0),
        "RPT-D": (0, 0, 0),
    }


def test_course_report_date_range_applies_to_when_the_events_occurred(dataset: Dataset) -> None:
    """Q1: gus's December A and hal's April events are out."""
    assert course_numbers(selectors.course_report(selectors.make_filters(**Q1))) == {
        "RPT-A": (4, 1, 0),
        "RPT-B": (3, 0, 1),
        "RPT-C": (1, 0, 0),
        "RPT-D": (0, 0, 0),
    }


def test_course_report_for_a_package_lists_its_courses_and_its_open_learners(
    dataset: Dataset,
) -> None:
    """Privacy: only course C, only learners enrolled in Privacy (ann, not hal). Safety:
    A, B and C (v2 added C), and not eve, whose enrollment was withdrawn."""
    privacy = selectors.course_report(ReportFilters(package_id=dataset.privacy_id))
    safety = selectors.course_report(ReportFilters(package_id=dataset.safety_id))
    safety_v1 = selectors.course_report(ReportFilters(version_id=dataset.safety_v1.pk))

    assert course_numbers(privacy) == {"RPT-C": (1, 0, 0)}
    assert course_numbers(safety) == {"RPT-A": (5, 1, 0), "RPT-B": (3, 0, 1), "RPT-C": (2, 0, 0)}
    # v1's learners: ann, ben, cat, dan, fay, gus (hal and ivy are on v2).
    assert course_numbers(safety_v1) == {"RPT-A": (4, 1, 0), "RPT-B": (2, 0, 1)}


# --- per learner ----------------------------------------------------------------------------


def learner_numbers(rows: Any) -> dict[str, tuple[Any, ...]]:
    return {
        row.username: (
            row.enrollments,
            row.withdrawn,
            row.not_started,
            row.in_progress,
            row.completed,
            row.last_completed_at,
        )
        for row in rows
    }


def test_learner_report_counts_each_learners_enrollments(dataset: Dataset) -> None:
    """Open enrollments by status, the withdrawn apart, and the latest completion of the
    open ones (eve's withdrawn completion is not her last completion)."""
    rows = list(selectors.learner_rows(ReportFilters()))

    assert [r.username for r in rows] == [
        "ann",
        "ben",
        "cat",
        "dan",
        "eve",
        "fay",
        "gus",
        "hal",
        "ivy",
    ]
    assert rows[0].full_name == "Ann Archer"
    assert learner_numbers(rows) == {
        "ann": (2, 0, 0, 0, 2, noon(2024, 3, 20)),
        "ben": (2, 0, 1, 1, 0, None),
        "cat": (1, 0, 1, 0, 0, None),
        "dan": (1, 0, 0, 1, 0, None),
        "eve": (0, 1, 0, 0, 0, None),
        "fay": (1, 0, 0, 1, 0, None),
        "gus": (1, 0, 0, 0, 1, noon(2024, 3, 10)),
        "hal": (1, 0, 0, 0, 1, noon(2024, 4, 15)),
        "ivy": (1, 0, 1, 0, 0, None),
    }
    assert selectors.learner_count(ReportFilters()) == 9


def test_learner_report_date_range_and_package_filter(dataset: Dataset) -> None:
    """Q1 keeps the enrollments begun in Q1; a package filter keeps that package's."""
    q1 = selectors.make_filters(**Q1)
    privacy = ReportFilters(package_id=dataset.privacy_id)

    assert learner_numbers(selectors.learner_rows(q1)) == {
        "ann": (2, 0, 0, 0, 2, noon(2024, 3, 20)),
        "ben": (2, 0, 1, 1, 0, None),
        "cat": (1, 0, 1, 0, 0, None),
        "dan": (1, 0, 0, 1, 0, None),
        "eve": (0, 1, 0, 0, 0, None),
    }
    assert selectors.learner_count(q1) == 5
    assert learner_numbers(selectors.learner_rows(privacy)) == {
        "ann": (1, 0, 0, 0, 1, noon(2024, 3, 20)),
        "ben": (1, 0, 1, 0, 0, None),
    }


def test_learner_rows_are_paged_by_offset_and_limit(dataset: Dataset) -> None:
    """Pages follow the username order."""
    page = selectors.learner_rows(ReportFilters(), offset=3, limit=2)
    rest = selectors.learner_rows(ReportFilters(), offset=7)

    assert [r.username for r in page] == ["dan", "eve"]
    assert [r.username for r in rest] == ["hal", "ivy"]


# --- completions over time -----------------------------------------------------------------


def test_completions_over_time_in_q1_are_weekly_and_add_up_to_completed_in_range(
    dataset: Dataset,
) -> None:
    """A 91-day range gets weeks (from Monday 2024-01-01 to the week of 03-25); each
    version's weeks add up to its "completed in range"."""
    filters = selectors.make_filters(**Q1)
    over_time = selectors.completions_over_time(filters)

    assert over_time.bucket == "week"
    assert over_time.periods[0] == date(2024, 1, 1)
    assert over_time.periods[-1] == date(2024, 3, 25)
    assert len(over_time.periods) == 13
    series = {s.label: s for s in over_time.series}
    assert set(series) == {"Safety v1", "Privacy v1"}
    safety = dict(zip(over_time.periods, series["Safety v1"].counts, strict=True))
    assert {day: n for day, n in safety.items() if n} == {
        date(2024, 2, 5): 1,  # ann, Saturday 02-10
        date(2024, 3, 4): 1,  # gus, Sunday 03-10
    }
    privacy = dict(zip(over_time.periods, series["Privacy v1"].counts, strict=True))
    assert {day: n for day, n in privacy.items() if n} == {date(2024, 3, 18): 1}
    report = by_version(selectors.package_report(filters))
    assert series["Safety v1"].total == report[("Safety", "v1")].completed_in_range
    assert series["Privacy v1"].total == report[("Privacy", "v1")].completed_in_range
    assert sum(over_time.totals()) == 3


def test_completions_over_time_picks_days_or_months_by_the_range_length(
    dataset: Dataset,
) -> None:
    """A month of range gets days; all time (2024-02-10 to 04-15, data-bounded) gets
    weeks; a year gets months."""
    march = selectors.completions_over_time(
        selectors.make_filters(date_from=date(2024, 3, 1), date_to=date(2024, 4, 1))
    )
    all_time = selectors.completions_over_time(ReportFilters())
    year = selectors.completions_over_time(
        selectors.make_filters(date_from=date(2024, 1, 1), date_to=date(2025, 1, 1))
    )

    assert (march.bucket, len(march.periods), sum(march.totals())) == ("day", 31, 2)
    assert march.periods[9] == date(2024, 3, 10) and march.totals()[9] == 1
    assert all_time.bucket == "week"
    assert all_time.periods[0] == date(2024, 2, 5) and sum(all_time.totals()) == 4
    assert year.bucket == "month"
    assert year.periods == tuple(date(2024, m, 1) for m in range(1, 13))
    assert year.totals()[:4] == (0, 1, 2, 1)


def test_completions_over_time_with_an_absurd_range_charts_the_data_span(
    dataset: Dataset,
) -> None:
    """Year 1 to 9999 would be thousands of periods: the chart falls back to the data."""
    over_time = selectors.completions_over_time(
        selectors.make_filters(date_from=date(1, 1, 1), date_to=date(9999, 12, 31))
    )

    assert len(over_time.periods) <= selectors.MAX_PERIODS
    assert sum(over_time.totals()) == 4


def test_completions_over_time_is_empty_without_completions_in_the_range(
    dataset: Dataset,
) -> None:
    over_time = selectors.completions_over_time(
        selectors.make_filters(date_from=date(2020, 1, 1), date_to=date(2021, 1, 1))
    )

    assert (over_time.periods, over_time.series, over_time.totals()) == ((), (), ())


# --- filters ---------------------------------------------------------------------------------


def test_an_empty_date_range_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        selectors.make_filters(date_from=date(2024, 4, 1), date_to=date(2024, 4, 1))

    assert refused.value.problems[0].startswith("to: must be after from")


def test_filter_choices_list_released_versions_by_package(dataset: Dataset) -> None:
    choices = selectors.filter_choices()

    assert choices.packages == ((dataset.privacy_id, "Privacy"), (dataset.safety_id, "Safety"))
    assert [(name, n) for _, name, n in choices.versions] == [
        ("Privacy", 1),
        ("Safety", 1),
        ("Safety", 2),
    ]


def test_a_learner_moved_at_publish_counts_under_the_new_version(admin: Any) -> None:
    """Enrollments count under the version they are pinned to now."""
    from coursepack.packaging import api as packaging

    course = make_course(actor=admin)
    v1 = make_published_package(actor=admin, items=[course])
    learner = make_learner()
    learning.enroll(actor=admin, learner_id=learner.pk, package_id=v1.package_id)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    packaging.publish_version(
        actor=admin, version_id=draft.pk, change_notes="Move.", inflight_policy="move_not_started"
    )

    report = selectors.package_report(ReportFilters(package_id=v1.package_id))

    assert [(v.version_number, v.counts.enrolled) for v in report[0].versions] == [(1, 0), (2, 1)]


def test_package_list_counts_equal_the_open_enrollments(dataset: Dataset) -> None:
    """The package list's enrolled and completed per version (per-version summary rows)
    equal the open enrollments counted from the status cache."""
    found = {
        v.version.pk: (v.enrolled, v.completed)
        for p in learning_selectors.package_summaries(timezone.now())
        for v in p.versions
    }
    expected = {}
    for version_id in found:
        open_ones = Enrollment.objects.filter(
            version_id=version_id, withdrawn_at__isnull=True, superseded_at__isnull=True
        )
        expected[version_id] = (open_ones.count(), open_ones.filter(status="completed").count())

    assert found == expected
    assert any(completed for _, completed in found.values())
