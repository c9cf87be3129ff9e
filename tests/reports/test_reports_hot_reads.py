"""The report pages' reads written once as SQL (ADR 0036 amended, issue 19) equal the
querysets they replace, for every shape the SQL is built in (no bound, a package, a
version, either or both ends of a range), on the hand-built history (reports_dataset):
voids, withdrawals, two packages, three versions, completions over five months."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone
from reports_dataset import Dataset

from coursepack.catalog.models import Course
from coursepack.learning.models import (
    CompletionDayCount,
    CompletionEvent,
    CompletionMonthCount,
    CourseCount,
    EventKind,
    LearnerCount,
    PackageCourseCount,
    VersionCount,
    VersionCourseCount,
)
from coursepack.packaging import selectors as packaging_selectors
from coursepack.packaging.models import Package, PackageVersion, VersionStatus
from coursepack.reports import exact, paging, selectors, summary_reads
from coursepack.reports.rows import PeriodCounts, StatusCounts
from coursepack.reports.scope import ReportFilters, days_between, in_range, summary_scope
from coursepack.reports.summary_reads import SummaryRows

pytestmark = pytest.mark.django_db

_BOUNDS = [
    (None, None),
    (date(2024, 1, 1), None),
    (None, date(2024, 3, 1)),
    (date(2024, 1, 12), date(2024, 3, 11)),
    (date(2025, 1, 1), None),  # nothing in it
]


def _scopes(dataset: Dataset) -> list[ReportFilters]:
    return [
        ReportFilters(),
        ReportFilters(package_id=dataset.safety_id),
        ReportFilters(package_id=dataset.privacy_id),
        ReportFilters(package_id=dataset.safety_id, version_id=dataset.safety_v2.pk),
        ReportFilters(version_id=dataset.safety_v1.pk),
    ]


def _ranged(filters: ReportFilters, first: date | None, stop: date | None) -> ReportFilters:
    """``filters`` over the days ``[first, stop)`` (None: no bound)."""
    return replace(
        filters,
        start=None if first is None else datetime.combine(first, time.min, tzinfo=UTC),
        end=None if stop is None else datetime.combine(stop, time.min, tzinfo=UTC),
    )


def _rows(model: Any, filters: ReportFilters, column: str, first: Any, stop: Any) -> QuerySet[Any]:
    """The queryset ``SummaryRows(model, filters, column, first, stop)`` replaces."""
    return summary_scope(model.objects.all(), filters).filter(
        days_between(column, first, stop), n__gt=0
    )


def test_summary_rows_equal_the_querysets(dataset: Dataset) -> None:
    seen = 0
    for filters in _scopes(dataset):
        for model, column in ((CompletionDayCount, "day"), (CompletionMonthCount, "month")):
            for first, stop in _BOUNDS:
                rows = SummaryRows(model, filters, column, first, stop)
                query = _rows(model, filters, column, first, stop)
                totals = dict(query.values_list("version_id").annotate(total=Sum("n")).order_by())
                assert summary_reads._version_totals([rows]) == totals
                expected = list(query.values_list("version_id", column).annotate(t=Sum("n")))
                assert sorted(summary_reads._completions([rows])) == sorted(expected)
                kept = sorted(totals)[:1]
                assert sorted(summary_reads._completions([rows], kept)) == sorted(
                    query.filter(version_id__in=kept)
                    .values_list("version_id", column)
                    .annotate(t=Sum("n"))
                    .order_by()
                )
                assert sorted(summary_reads._period_totals([rows])) == sorted(
                    query.values_list(column).annotate(t=Sum("n")).order_by()
                )
                days = list(query.order_by(column).values_list(column, flat=True))
                ends = summary_reads._first_and_last(rows)
                assert ends == ((days[0], days[-1]) if days else None)
                seen += len(expected)
    assert seen > 0


def test_counts_equal_the_querysets(dataset: Dataset) -> None:
    assert summary_reads.learner_count() == LearnerCount.objects.filter(n__gt=0).count() > 0
    package_ids = [dataset.safety_id, dataset.privacy_id]
    for filters in _scopes(dataset):
        for ids in (package_ids, package_ids[:1]):
            every = (
                summary_scope(VersionCount.objects.all(), filters)
                .filter(package_id__in=ids, n__gt=0)
                .values_list("version_id", "state", "status", "completed", "n")
            )
            assert paging.package_counts_of(filters, ids, None, None) == paging._fold(every, [])
        grouped = (
            summary_scope(VersionCount.objects.all(), filters)
            .filter(n__gt=0)
            .values_list("state", "status", "completed")
            .annotate(total=Sum("n"))
        )
        expected = paging._fold(((0, *row) for row in grouped), []).get(0)
        assert paging.total_counts(filters, None, None) == (expected or StatusCounts())
    course_ids = sorted(CourseCount.objects.values_list("course_id", flat=True))
    for ids in (course_ids, course_ids[1:2]):
        assert paging.course_counts_of(ids) == {
            c: (learners, failed, voided)
            for c, learners, failed, voided in CourseCount.objects.filter(
                course_id__in=ids
            ).values_list("course_id", "learners", "failed", "voided")
        }


def test_versions_packages_and_courses_equal_the_querysets(dataset: Dataset) -> None:
    for filters in _scopes(dataset):
        for package_ids in (None, [dataset.privacy_id], [dataset.safety_id, dataset.privacy_id]):
            versions = PackageVersion.objects.exclude(status=VersionStatus.DRAFT)
            if filters.package_id is not None:
                versions = versions.filter(package_id=filters.package_id)
            if filters.version_id is not None:
                versions = versions.filter(pk=filters.version_id)
            if package_ids is not None:
                versions = versions.filter(package_id__in=package_ids)
            expected = list(
                versions.order_by("package__name", "package_id", "version_number").values_list(
                    "pk",
                    "package_id",
                    "package__name",
                    "package__category",
                    "version_number",
                    "name",
                    "status",
                    "effective_from",
                    "archived_at",
                )
            )
            assert selectors._version_list(filters, package_ids) == expected
    assert any(v[7] is not None and v[7].tzinfo is not None for v in expected)

    # The versions in effect, at each version's start and end, a moment before each,
    # and now: the rule of ``active_version``, package by package.
    package_ids = [dataset.safety_id, dataset.privacy_id]
    stamps = PackageVersion.objects.values_list("effective_from", "archived_at")
    moments = {m for pair in stamps for m in pair if m is not None}
    moments |= {m - timedelta(microseconds=1) for m in moments} | {timezone.now()}
    for moment in sorted(moments):
        in_effect = {packaging_selectors.active_version(p, moment) for p in package_ids}
        expected = {v.pk for v in in_effect if v is not None}
        assert selectors._active_version_ids(package_ids, moment) == expected
        assert selectors._active_version_ids(package_ids[:1], moment) == expected & {
            v.pk for v in PackageVersion.objects.filter(package_id=package_ids[0])
        }
    assert selectors._active_version_ids([], timezone.now()) == set()
    for package_id in package_ids:
        numbers = list(
            PackageVersion.objects.filter(package_id=package_id)
            .exclude(status=VersionStatus.DRAFT)
            .order_by("version_number")
            .values_list("pk", "version_number")
        )
        assert selectors.version_choices(package_id) == numbers
        assert selectors.version_choices(None, numbers[-1][0]) == numbers

    released = PackageVersion.objects.exclude(status=VersionStatus.DRAFT)
    assert selectors.package_choices() == list(
        Package.objects.filter(Exists(released.filter(package_id=OuterRef("pk"))))
        .order_by("name", "pk")
        .values_list("pk", "name")
    )

    ids = list(PackageVersion.objects.values_list("pk", flat=True))
    found = selectors._series(PeriodCounts({v: [1] for v in ids}, "month", []))
    assert [(s.version_id, s.package_name, s.version_number) for s in found.series] == list(
        PackageVersion.objects.filter(pk__in=ids)
        .order_by("package__name", "package_id", "version_number")
        .values_list("pk", "package__name", "version_number")
    )

    for filters in _scopes(dataset):
        # Every course, or those of the package's (version's) released versions.
        course_ids = selectors._report_course_ids(filters)
        courses = Course.objects.order_by("code")
        if course_ids is not None:
            courses = courses.filter(pk__in=course_ids)
        for offset, limit in ((0, 50), (0, 2), (1, 2), (3, 2), (10, 2)):
            page = selectors.course_page(filters, offset=offset, limit=limit)
            shown = list(courses.values_list("pk", "code", "name")[offset : offset + limit])
            assert [(r.course_id, r.code, r.name) for r in page.rows] == shown
            assert page.course_count == courses.count()
        # Their all-time counts: a row per course of everyone, the package or the version.
        rows: QuerySet[Any] = CourseCount.objects.all()
        if filters.version_id is not None:
            rows = VersionCourseCount.objects.filter(version_id=filters.version_id)
        elif filters.package_id is not None:
            rows = PackageCourseCount.objects.filter(package_id=filters.package_id)
        every = {
            c: tuple(n) for c, *n in rows.values_list("course_id", "learners", "failed", "voided")
        }
        assert every and any(learners for learners, _, _ in every.values())
        assert summary_reads.course_counts(filters) == every
        some = sorted(every)[1:]
        assert summary_reads.course_counts(filters, some) == {c: every[c] for c in some}
        assert summary_reads.course_counts(filters, []) == {}


def test_learners_page_equals_the_queryset(dataset: Dataset) -> None:
    users = summary_reads.listed_learners().order_by("username")
    expected = list(users.values_list("pk", "username", "first_name", "last_name"))
    assert len(expected) > 4
    for offset, size in ((0, 100), (0, 3), (2, 3), (len(expected), 3)):
        assert exact._learners_page(None, None, offset, size) == expected[offset : offset + size]
    after = expected[1][1]
    assert exact._learners_page(None, after, 0, 3) == list(
        users.filter(username__gt=after).values_list("pk", "username", "first_name", "last_name")[
            :3
        ]
    )
    # Streamed in chunks (the exports), every learner once, as with the queryset.
    streamed = list(exact.learner_rows(ReportFilters(), None))
    assert [r.username for r in streamed] == [u for _, u, *_ in expected]
    assert streamed == list(exact.learner_rows(ReportFilters(), summary_reads.listed_learners()))


@pytest.mark.parametrize("few_in_range", [exact.FEW_IN_RANGE, 0])
def test_learners_in_scope_equal_the_queryset(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch, few_in_range: int
) -> None:
    """A package's, a version's or a range's learners, found as SQL written once, are
    the queryset's, page by page and after a username; with the threshold at 0 every
    range is walked by username too (the hand-built history's ranges are all few)."""
    monkeypatch.setattr(exact, "FEW_IN_RANGE", few_in_range)
    probed_shapes = 0
    for scope in _scopes(dataset)[1:]:
        for first, stop in _BOUNDS:
            filters = _ranged(scope, first, stop)
            listed = exact.listed_learners(filters)
            users = exact.listed_learners_queryset(filters).order_by("username")
            expected = list(users.values_list("pk", "username", "first_name", "last_name"))
            if isinstance(listed, exact.ProbedLearners):
                probed_shapes += 1
                for offset, size in ((0, 100), (0, 2), (1, 2), (len(expected), 3)):
                    page = exact._learners_page(listed, None, offset, size)
                    assert page == expected[offset : offset + size]
                if expected:
                    after = expected[0][1]
                    assert exact._learners_page(listed, after, 0, 100) == expected[1:]
            else:
                assert isinstance(listed, QuerySet)
            rows = list(exact.learner_rows(filters, listed))
            assert rows == list(exact.learner_rows(filters, users))
            assert [r.learner_id for r in rows] == [pk for pk, *_ in expected]
    # Without a range always by username; with one, only when the threshold says so.
    assert probed_shapes == (4 if few_in_range else 4 * len(_BOUNDS))


def test_course_counts_in_a_range_equal_the_events_counted(dataset: Dataset) -> None:
    """The page's courses' counts over a range (SQL written once on PostgreSQL, the
    queryset on SQLite) equal the events counted by the generic aggregate, voids too."""
    course_ids = sorted(CourseCount.objects.values_list("course_id", flat=True))
    seen_void = False
    for first, stop in _BOUNDS:
        filters = ReportFilters(
            start=None if first is None else datetime.combine(first, time.min, tzinfo=UTC),
            end=None if stop is None else datetime.combine(stop, time.min, tzinfo=UTC),
        )
        for ids in (course_ids, course_ids[1:2]):
            events = CompletionEvent.objects.exclude(kind=EventKind.VOID).filter(
                in_range("occurred_at", filters), course_id__in=ids
            )
            expected = exact.course_aggregates(events, Q(voided_by__isnull=False))
            assert paging.course_counts_in_range(filters, ids) == expected
            seen_void |= any(voided for _, _, voided in expected.values())
    assert seen_void  # the history's voided event is counted in some range
