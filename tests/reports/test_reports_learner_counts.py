"""The learners table's counts and its number of learners, written once as SQL (ADR
0036 amended), equal the querysets they replace, for every kind of filter the SQL
answers, on the hand-built history (reports_dataset): voids, withdrawals, several
packages and versions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from reports_dataset import Dataset

from coursepack.reports import exact
from coursepack.reports.scope import ReportFilters

pytestmark = pytest.mark.django_db


def _scopes(dataset: Dataset) -> list[ReportFilters]:
    return [
        ReportFilters(),
        ReportFilters(package_id=dataset.safety_id),
        ReportFilters(package_id=dataset.privacy_id),
        ReportFilters(package_id=dataset.safety_id, version_id=dataset.safety_v2.pk),
        ReportFilters(version_id=dataset.safety_v1.pk),
        ReportFilters(start=datetime(2024, 1, 1, tzinfo=UTC)),
        ReportFilters(end=datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ReportFilters(
            package_id=dataset.safety_id,
            start=datetime(2023, 6, 1, tzinfo=UTC),
            end=datetime(2024, 6, 1, tzinfo=UTC),
        ),
    ]


def test_learner_counts_equal_the_queryset(dataset: Dataset) -> None:
    learner_ids = sorted(get_user_model().objects.values_list("pk", flat=True))
    seen: set[tuple[object, ...]] = set()
    for filters in _scopes(dataset):
        expected = {row[0]: row[1:] for row in exact.learner_counts_queryset(filters, learner_ids)}
        got = exact.learner_counts(filters, learner_ids)
        assert got == expected, filters
        seen |= set(expected.values())
    # The history has every column non-zero somewhere, and completion moments.
    assert all(any(row[i] for row in seen) for i in range(5))
    assert any(row[5] is not None and row[5].tzinfo is not None for row in seen)
    assert exact.learner_counts(ReportFilters(), []) == {}


def test_the_learner_count_equals_the_queryset(dataset: Dataset) -> None:
    counts = []
    for filters in _scopes(dataset):
        expected = exact.learner_count_queryset(filters).count()
        assert exact.learner_count(filters) == expected, filters
        counts.append(expected)
    # Different scopes, different counts: none of them trivially zero.
    assert min(counts) > 0 and len(set(counts)) > 2
