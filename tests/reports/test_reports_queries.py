"""The number of queries of every report does not grow with the enrollments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from reports_dataset import noon

from coursepack.learning import api as learning
from coursepack.packaging.models import PackageVersion
from coursepack.reports import selectors
from coursepack.reports.selectors import ReportFilters
from coursepack.reports.tables import TABLE_KINDS
from tests.factories import make_course, make_learner, make_published_package

pytestmark = pytest.mark.django_db


def grow(admin: Any, version: PackageVersion, courses: list[Any], count: int, start: int) -> None:
    """Enrol ``count`` more learners: a third complete, a third in progress, a third not
    started; one of them withdrawn and one event voided."""
    learners = [make_learner(username=f"q{start + i:04d}") for i in range(count)]
    learning.bulk_enroll(
        actor=admin, package_id=version.package_id, learner_ids=[u.pk for u in learners]
    )
    for i, learner in enumerate(learners):
        done = courses if i % 3 == 0 else courses[:1] if i % 3 == 1 else []
        for course in done:
            learning.record_completion(
                actor=admin,
                learner_id=learner.pk,
                course_id=course.pk,
                occurred_at=noon(2024, 1, 1) + timedelta(days=start + i),
                late_reason="Imported from the 2024 training records",
            )
    last = learning.record_completion(
        actor=admin, learner_id=learners[-1].pk, course_id=courses[0].pk, kind="failed"
    )
    learning.void_event(actor=admin, event_id=last.event.pk, reason="Wrong learner.")
    enrollment = learners[-2].enrollments.get()
    learning.withdraw(actor=admin, enrollment_id=enrollment.pk)


def count_queries(work: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as captured:
        work()
    return len(captured.captured_queries)


def test_report_queries_do_not_grow_with_rows(admin: Any) -> None:
    """At n and 3n enrollments every selector, page, export and API call runs the same
    number of queries."""
    courses = [make_course(actor=admin) for _ in range(2)]
    version = make_published_package(actor=admin, items=courses)
    everything = ReportFilters()
    one_package = ReportFilters(package_id=version.package_id)
    browser = Client()
    browser.force_login(admin)

    def consume(path: str) -> Callable[[], object]:
        def run() -> object:
            response = browser.get(path)
            assert response.status_code == 200
            return b"".join(response.streaming_content) if response.streaming else response.content

        return run

    work: dict[str, Callable[[], object]] = {
        "package_report": lambda: selectors.package_report(everything),
        "course_report": lambda: selectors.course_report(everything),
        "course_report of a package": lambda: selectors.course_report(one_package),
        "learner_rows": lambda: list(selectors.learner_rows(everything)),
        "learner_count": lambda: selectors.learner_count(everything),
        "completions_over_time": lambda: selectors.completions_over_time(everything),
        "page": consume("/reports/"),
        "page of a package": consume(f"/reports/?package_id={version.package_id}&from=2024-01-01"),
        "xlsx": consume("/reports/report.xlsx"),
        **{f"{kind}.csv": consume(f"/reports/{kind}.csv") for kind in TABLE_KINDS},
        **{
            f"api {kind}": consume(f"/api/v1/reports/{kind}")
            for kind in ("packages", "courses", "learners")
        },
    }

    grow(admin, version, courses, 6, start=0)
    small = {name: count_queries(run) for name, run in work.items()}
    grow(admin, version, courses, 12, start=6)
    large = {name: count_queries(run) for name, run in work.items()}

    assert selectors.learner_count(everything) == 18
    assert large == small
    # The lifecycle standing section (ADR 0027) reads four queries of its own; the
    # paged tables (issue 19) list their page's packages and courses and sum the totals.
    assert small["page"] <= 22, small
