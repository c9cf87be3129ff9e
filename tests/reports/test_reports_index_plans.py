"""The course table over a range reads the events' index by (course, moment) and never
the events' rows (ADR 0036 amended): the index holds every column the query reads of
them, so what it costs is the range's index entries, whatever the courses hold besides."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
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


def _plan(sql: str, params: Any) -> str:
    """SQLite's plan of ``sql``."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(" | ".join(str(part) for part in row) for row in cursor.fetchall())


def _columns_read(sql: str, params: Any) -> dict[str, set[str]]:
    """PostgreSQL's columns read of each alias of the events in ``sql``: the outputs and
    conditions of its scan nodes (``EXPLAIN VERBOSE``)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) {sql}", params)
        (row,) = cursor.fetchall()
    document = row[0] if isinstance(row[0], list) else json.loads(row[0])
    read: dict[str, set[str]] = {}

    def walk(node: dict[str, Any]) -> None:
        if node.get("Relation Name") == "learning_completionevent":
            alias = node["Alias"]
            texts = [*node.get("Output", [])]
            texts += [node.get(key, "") for key in ("Filter", "Index Cond")]
            read.setdefault(alias, set()).update(re.findall(rf"\b{alias}\.(\w+)", " ".join(texts)))
        for child in node.get("Plans", []):
            walk(child)

    walk(document[0]["Plan"])
    return read


def _index_columns(name: str) -> set[str]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "learning_completionevent")
    return set(found[name]["columns"])


def test_course_counts_over_a_range_read_the_index_alone(dataset: Dataset, db_engine: str) -> None:
    """Everyone's course table over a year from noon to noon (a manager's few people are
    better read by learner, and are: not asserted here). Over whole days the summary
    rows answer it, with no read of the events (ADR 0040)."""
    whole = selectors.make_filters(date_from=date(2024, 1, 1), date_to=date(2025, 1, 1))
    course_ids = sorted(course.pk for course in dataset.courses.values())
    sent = _sent(lambda: paging.course_counts_in_range(whole, course_ids))
    assert sent and not any("learning_completionevent" in s for s, _ in sent), sent
    assert whole.start is not None and whole.end is not None
    noon = timedelta(hours=12)
    filters = replace(whole, start=whole.start + noon, end=whole.end + noon)
    found: dict[int, tuple[int, int, int]] = {}
    sent = _sent(lambda: found.update(paging.course_counts_in_range(filters, course_ids)))
    assert found, "the range holds events: the plan is of a query that finds some"
    [(sql, params)] = [(s, p) for s, p in sent if "learning_completionevent" in s]

    if db_engine == "postgresql":
        # What the statement reads of the events is in the index: at the full scale the
        # planner reads it alone (docs/benchmarks.md). A test's few dozen rows cannot
        # show that choice: after a suite's rolled-back writes, each index's bloat
        # decides it (a narrower index by learner, filtered, costs about the same).
        read = _columns_read(sql, params)
        assert read["e"] and read["e"] <= _index_columns("event_course_occurred"), read
        assert read["v"] == {"voids_id"}, read
        return
    plan = _plan(sql, params)
    assert "USING COVERING INDEX event_course_occurred" in plan, plan
    assert "SCAN learning_completionevent" not in plan, plan
