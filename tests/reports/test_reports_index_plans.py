"""The course table over a range reads the events' index by (course, moment) and never
the events' rows (ADR 0036 amended): the index holds every column the query reads of
them, so what it costs is the range's index entries, whatever the courses hold besides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.db import connection, transaction
from reports_dataset import Dataset

from coursepack.reports import paging, selectors

pytestmark = pytest.mark.django_db


def _sent(work: Callable[[], object]) -> list[tuple[str, Any]]:
    """The statements ``work`` sent, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        work()
    return sent


def _plan(sql: str, params: Any, db_engine: str) -> str:
    """The plan of ``sql``; on PostgreSQL with sequential and bitmap scans off, so that a
    test's few rows do not make a table scan cheaper than any index, and the events'
    statistics taken now: statistics of the table before the dataset (autovacuum's,
    whenever it ran) estimate one row, and every index then costs the same."""
    with transaction.atomic(), connection.cursor() as cursor:
        if db_engine == "postgresql":
            cursor.execute("ANALYZE learning_completionevent")
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(" | ".join(str(part) for part in row) for row in cursor.fetchall())


def test_course_counts_over_a_range_read_the_index_alone(dataset: Dataset, db_engine: str) -> None:
    """Everyone's course table over a year (a manager's few people are better read by
    learner, and are: not asserted here)."""
    filters = selectors.make_filters(date_from=date(2024, 1, 1), date_to=date(2025, 1, 1))
    course_ids = sorted(course.pk for course in dataset.courses.values())
    found: dict[int, tuple[int, int, int]] = {}
    sent = _sent(lambda: found.update(paging.course_counts_in_range(filters, course_ids)))
    assert found, "the range holds events: the plan is of a query that finds some"
    [(sql, params)] = [(s, p) for s, p in sent if "learning_completionevent" in s]

    plan = _plan(sql, params, db_engine)

    if db_engine == "postgresql":
        # Every read of the events' side is an index-only scan of that index.
        assert "Index Only Scan using event_course_occurred" in plan, plan
        scans = [line for line in plan.splitlines() if " on learning_completionevent " in line]
        assert all("event_course_occurred" in line or "voids_id" in line for line in scans), plan
    else:
        assert "USING COVERING INDEX event_course_occurred" in plan, plan
        assert "SCAN learning_completionevent" not in plan, plan
