"""Pieces every write service of learning shares: who acts, chunking, the learner lock,
and the completion path's hot statements written once as SQL (ADR 0035)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

from coursepack import rules, statements, table_statistics
from coursepack.audit.api import Actor
from coursepack.learning.errors import (
    LearnerNotFound,
)
from coursepack.learning.models import CompletionEvent, Enrollment

_CHUNK = 2000


def _user(actor: Actor) -> Any:
    return actor if actor is not None and actor.is_authenticated else None


def _chunks(values: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _lock_learner(learner_id: int) -> Any:
    """Lock the learner's row: every write about one learner is serialised on it."""
    User = get_user_model()
    try:
        return User.objects.select_for_update().get(pk=learner_id)
    except User.DoesNotExist:
        raise LearnerNotFound(f"There is no learner with id {learner_id}.") from None


# --- the completion path's statements, written once (ADR 0035) ---------------------


_ENROLLMENT_ATTNAMES = tuple(f.attname for f in Enrollment._meta.concrete_fields)


def _enrollment_columns() -> statements.Columns:
    return statements.columns(Enrollment, _ENROLLMENT_ATTNAMES)


_sql: dict[tuple[str, str], str] = {}


def _statement(name: str, build: Callable[[Callable[[str], str]], str]) -> str:
    """Return the SQL ``name`` for the current vendor, built once by ``build(quote)``."""
    key = (connection.vendor, name)
    sql = _sql.get(key)
    if sql is None:
        sql = _sql[key] = build(connection.ops.quote_name)
    return sql


def learner_enrollment_rows(learner_id: int) -> list[tuple[Any, ...]]:
    """Return the learner's enrollment rows, every column as fetched, in id order: the
    prepared evaluation compares them whole under the lock (equal rows, equal values)."""
    cols = _enrollment_columns()
    sql = _statement(
        "enrollment rows",
        lambda q: (
            f"SELECT {cols.sql} FROM {q(Enrollment._meta.db_table)} "
            f"WHERE {q('learner_id')} = %s ORDER BY {q('id')}"
        ),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [learner_id])
        return [tuple(row) for row in cursor.fetchall()]


def enrollments_of_rows(rows: Iterable[tuple[Any, ...]]) -> list[Enrollment]:
    """Return the enrollments of rows from ``learner_enrollment_rows``, as a queryset would."""
    cols = _enrollment_columns()
    return [statements.instance(cols, row) for row in rows]


_EVENT_ROW = ("id", "course_id", "kind", "occurred_at", "voids_id")


def learner_event_rows(learner_id: int, course_ids: Iterable[int]) -> list[rules.EventRow]:
    """Return the learner's events on these courses (voids among them included) as the
    status cache's rows: ``selectors.event_rows_by_learner([learner_id], course_ids)``
    for one learner, one statement.

    The course is compared through ``+ 0`` for the same reason as there: the
    (learner, course) index, never the course index, finds them.
    """
    courses = sorted(course_ids)
    if not courses:
        return []
    cols = statements.columns(CompletionEvent, _EVENT_ROW)
    q = connection.ops.quote_name
    sql = (
        f"SELECT {cols.sql} FROM {q(CompletionEvent._meta.db_table)} "
        f"WHERE {q('learner_id')} = %s AND ({q('course_id')} + 0) IN "
        f"({', '.join(['%s'] * len(courses))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [learner_id, *courses])
        fetched = cursor.fetchall()
    return [(*statements.from_row(cols, row), None) for row in fetched]


def insert_event(**values: Any) -> CompletionEvent:
    """Insert one completion event with one statement written once; return it as
    ``CompletionEvent.objects.create(**values)`` would."""
    event: CompletionEvent = statements.insert(CompletionEvent(**values))
    return event


#: The tables a bulk load into learning fills, whose statistics the reads that follow
#: plan with (the events by learner, the course tallies by learner, the enrollments).
LOADED_TABLES = (
    "learning_completionevent",
    "learning_courselearnercount",
    "learning_enrollment",
    "auth_user",
    "accounts_account",
)


def refresh_statistics(tables: Iterable[str] = LOADED_TABLES) -> None:
    """On PostgreSQL, sample ``tables`` (by default those a bulk load into learning
    fills) for the planner now, in the caller's transaction (``table_statistics``)."""
    table_statistics.refresh_statistics(tables)
