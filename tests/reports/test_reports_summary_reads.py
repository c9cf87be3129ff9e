"""The reads ADR 0032 answers from summary rows equal the exact aggregates on the
hand-built history (reports_dataset): the per-course table of a package or version,
the completions chart by month or year, and the learners of a date range."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from reports_dataset import Dataset

from coursepack.reports import exact, selectors, summary_reads
from coursepack.reports.scope import ReportFilters

pytestmark = pytest.mark.django_db


def _days(first: date | None, stop: date | None, **scope: int) -> ReportFilters:
    def midnight(day: date | None) -> datetime | None:
        return None if day is None else datetime.combine(day, time.min, tzinfo=UTC)

    return ReportFilters(start=midnight(first), end=midnight(stop), **scope)


def test_course_table_of_a_package_or_version_from_summary_rows(dataset: Dataset) -> None:
    """Each package's and version's course table (voids, failures, a withdrawn learner
    and learners of other packages in the history) is the events' count, and lists
    something."""
    scopes = [
        {"package_id": dataset.safety_id},
        {"package_id": dataset.privacy_id},
        {"package_id": dataset.safety_id, "version_id": dataset.safety_v1.pk},
        {"package_id": dataset.safety_id, "version_id": dataset.safety_v2.pk},
        {"package_id": dataset.privacy_id, "version_id": dataset.privacy_v1.pk},
    ]
    counted = 0
    for scope in scopes:
        filters = ReportFilters(**scope)
        course_ids = [c.pk for c in dataset.courses.values()]
        expected = exact.course_counts(filters, course_ids)
        got = summary_reads.course_counts(filters, course_ids)
        assert {c: n for c, n in got.items() if any(n)} == {
            c: n for c, n in expected.items() if any(n)
        }, scope
        counted += sum(sum(n) for n in expected.values())
        rows = selectors.course_report(filters)
        assert {
            r.course_id: (r.learners_completed, r.failed_attempts, r.events_voided) for r in rows
        } == {r.course_id: expected.get(r.course_id, (0, 0, 0)) for r in rows}
    assert counted > 0


@pytest.mark.parametrize(
    ("first", "stop"),
    [
        (None, None),
        (date(2024, 1, 1), date(2025, 1, 1)),  # whole months: the month rows alone
        (date(2023, 12, 15), date(2024, 9, 10)),  # both ends cut a month
        (date(2024, 3, 10), date(2024, 10, 1)),  # the first cut month has completions
        (date(2023, 9, 1), date(2024, 3, 15)),  # so has the last
        (date(2023, 11, 20), None),
        (None, date(2024, 8, 17)),
        (date(2024, 1, 1), date(2024, 2, 20)),  # by day
    ],
)
def test_completions_chart_by_month_from_summary_rows(
    dataset: Dataset, first: date | None, stop: date | None
) -> None:
    """The chart from the month and day rows equals the one from the enrollments, for
    every package and for one, over whole months, months cut by the range's ends,
    ranges open at one end and a range charted by day."""
    for scope in ({}, {"package_id": dataset.safety_id}):
        filters = _days(first, stop, **scope)
        got = summary_reads.period_counts(filters, first, stop)
        expected = exact.period_counts(filters, UTC)
        if got is not None:  # None: an open end's time of day decides the period
            assert got == expected, (scope, first, stop)
    whole_year = summary_reads.period_counts(
        _days(date(2024, 1, 1), date(2025, 1, 1)), date(2024, 1, 1), date(2025, 1, 1)
    )
    assert whole_year is not None and whole_year.bucket == "month"
    assert sum(sum(c) for c in whole_year.counts.values()) > 0


@pytest.mark.parametrize("few", [exact.FEW_IN_RANGE, 0])
def test_learners_of_a_range_found_either_way(
    dataset: Dataset, few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The learners of a range are the same whether read from the enrollments begun in
    it (few of them) or by walking the usernames (many)."""
    monkeypatch.setattr(exact, "FEW_IN_RANGE", few)
    for filters in (
        _days(date(2024, 1, 1), date(2024, 4, 1)),
        _days(date(2024, 1, 1), date(2024, 4, 1), package_id=dataset.safety_id),
        _days(date(2030, 1, 1), date(2031, 1, 1)),
    ):
        rows = list(selectors.learner_rows(filters))
        assert [r.username for r in rows] == sorted(r.username for r in rows)
        assert len(rows) == selectors.learner_count(filters)
        assert list(selectors.learner_rows(filters, offset=1, limit=2)) == rows[1:3]
    assert [r.username for r in selectors.learner_rows(_days(date(2024, 1, 1), date(2024, 4, 1)))] == [
        "ann", "ben", "cat", "dan", "eve",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("first", "stop"),
    [
        (None, None),
        (date(2024, 1, 1), date(2025, 1, 1)),
        (date(2023, 12, 15), date(2024, 9, 10)),
        (date(2023, 9, 1), date(2024, 3, 15)),
        (date(2024, 1, 1), date(2024, 2, 20)),
    ],
)
def test_chart_folded_by_the_database_adds_up_to_the_whole(
    dataset: Dataset, first: date | None, stop: date | None
) -> None:
    """Asked for the top version only (ADR 0036, the chart folded by the database), the
    chart keeps that version's counts as they are and adds the others up per period:
    the same periods, the same totals, the version with the most completions kept
    (the first of the chart's order among equals)."""
    filters = _days(first, stop)
    whole = summary_reads.period_counts(filters, first, stop)
    folded = summary_reads.period_counts(filters, first, stop, top=1)
    assert whole is not None and folded is not None
    assert (folded.bucket, folded.periods) == (whole.bucket, whole.periods)
    full = selectors.completions_over_time(filters)
    if len(whole.counts) <= 1:  # nothing to fold
        assert folded == whole
        return
    most = max(full.series, key=lambda s: s.total)  # the first among equals
    assert folded.counts == {most.version_id: whole.counts[most.version_id]}
    assert folded.other_versions == len(whole.counts) - 1
    rest = [c for v, c in whole.counts.items() if v != most.version_id]
    assert folded.other == [sum(column) for column in zip(*rest, strict=True)]
    # Up to ``whole_up_to`` versions, every version keeps its own counts.
    assert summary_reads.period_counts(filters, first, stop, top=1, whole_up_to=99) == whole
    page = selectors.completions_over_time(filters, top=1)
    assert page.totals() == full.totals()
    assert [s.version_id for s in page.series] == [most.version_id]
