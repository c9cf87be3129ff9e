"""A learner's revision: a cheap, comparable stamp of what their stored statuses are
computed from (ADR 0030).

A completion is evaluated before its transaction takes the write lock; inside the
lock the service reads the revision again and keeps the evaluation only if nothing
it read has changed. Every table the evaluation reads besides the enrollment rows
is append-only (``coursepack.db_guards`` enforces it with triggers): its rows
never change or go away, so a count of them changes whenever one is added. The
enrollment rows themselves are updated in place and are compared whole by the
caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection

from coursepack.catalog.models import Course
from coursepack.learning.lifecycle_models import (
    DueExtension,
    Equivalence,
    EquivalenceChange,
    Exemption,
    ExemptionRevocation,
)
from coursepack.learning.models import CompletionEvent, Enrollment, EnrollmentMove

__all__ = ["Revision", "learner_revision"]


@dataclass(frozen=True)
class Revision:
    """Whether the learner and the course exist, and how many rows each append-only
    input of the learner's evaluation has."""

    learner: int
    course: int
    events: int
    extensions: int
    exemptions: int
    revocations: int
    moves: int
    equivalences: int
    equivalence_changes: int


_SQL: dict[str, str] = {}


def _sql() -> str:
    """Return the revision's statement for the current vendor (built once)."""
    sql = _SQL.get(connection.vendor)
    if sql is None:
        sql = _SQL[connection.vendor] = _build_sql()
    return sql


def _build_sql() -> str:
    q = connection.ops.quote_name

    def table(model: type) -> str:
        return q(model._meta.db_table)  # type: ignore[attr-defined]

    mine = f"SELECT {q('id')} FROM {table(Enrollment)} WHERE {q('learner_id')} = %(learner)s"
    return (
        "SELECT "
        f"(SELECT COUNT(*) FROM {table(get_user_model())} WHERE {q('id')} = %(learner)s), "
        f"(SELECT COUNT(*) FROM {table(Course)} WHERE {q('id')} = %(course)s), "
        f"(SELECT COUNT(*) FROM {table(CompletionEvent)} WHERE {q('learner_id')} = %(learner)s), "
        f"(SELECT COUNT(*) FROM {table(DueExtension)} WHERE {q('enrollment_id')} IN ({mine})), "
        f"(SELECT COUNT(*) FROM {table(Exemption)} WHERE {q('enrollment_id')} IN ({mine})), "
        f"(SELECT COUNT(*) FROM {table(ExemptionRevocation)} WHERE {q('exemption_id')} IN "
        f"(SELECT {q('id')} FROM {table(Exemption)} WHERE {q('enrollment_id')} IN ({mine}))), "
        f"(SELECT COUNT(*) FROM {table(EnrollmentMove)} WHERE {q('enrollment_id')} IN ({mine})), "
        f"(SELECT COUNT(*) FROM {table(Equivalence)}), "
        f"(SELECT COUNT(*) FROM {table(EquivalenceChange)})"
    )


def learner_revision(learner_id: int, course_id: int) -> Revision:
    """Return the learner's revision (one query), with whether the learner and the
    course exist.

    Read it before reading the inputs of an evaluation and again under the lock: each
    statement sees what had committed when it started, so equal revisions mean no
    append to those tables committed in between, and the inputs read in between are
    the ones in force under the lock.
    """
    with connection.cursor() as cursor:
        cursor.execute(_sql(), {"learner": learner_id, "course": course_id})
        row = cursor.fetchone()
    return Revision(*(int(value) for value in row))
