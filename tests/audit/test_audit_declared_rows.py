"""Rows loaded without records of their own (generated benchmark data, a benchmark's
bare inserts) are declared on the log by one record: verification names them instead
of finding them on no record, and still finds any row that no record covers."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.models import AuditEvent
from coursepack.learning import api as learning
from tests.factories import make_course, make_learner

pytestmark = pytest.mark.django_db


def _bare_insert(learner_id: int, course_id: int, *, pk: int | None = None) -> int:
    """Insert a completion event behind the services (no audit record); return its id."""
    now = timezone.now()
    columns = (
        "learner_id, course_id, kind, occurred_at, recorded_at, source, evidence_note, late_reason"
    )
    values = [learner_id, course_id, "completed", now, now, "import", "", ""]
    if pk is not None:
        columns, values = f"id, {columns}", [pk, *values]
    marks = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO learning_completionevent ({columns}) VALUES ({marks}) RETURNING id",
            values,
        )
        return int(cursor.fetchone()[0])


def _setting(admin: Any) -> tuple[int, int]:
    """A learner with one completion through the service (so the log vouches for
    completion events from then on); return (learner id, course id)."""
    learner, course = make_learner(), make_course()
    learning.record_completion(
        actor=admin,
        learner_id=learner.pk,
        course_id=course.pk,
        occurred_at=timezone.now() - timedelta(days=1),
    )
    return learner.pk, course.pk


def test_declared_rows_are_named_and_the_log_verifies(admin: Any) -> None:
    learner_id, course_id = _setting(admin)
    ids = [_bare_insert(learner_id, course_id) for _ in range(3)]
    assert not audit.verify_chain().intact  # on no record, before the declaration

    declaration = audit.declare_loaded_without_records(
        actor=admin,
        ranges={"learning.completionevent": audit.id_ranges(ids)},
        notes="A benchmark's floor.",
        at=timezone.now(),
    )
    report = audit.verify_chain()

    assert report.intact, report.reason
    assert report.loaded_without_records == (("learning.completionevent", 3),)
    assert report.declared_by == (declaration.pk,)
    assert declaration.after == {
        "rows": {"learning.completionevent": {"ranges": [[ids[0], ids[-1]]], "count": 3}}
    }
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "3 learning.completionevent" in out.getvalue()
    assert f"declared by record(s) {declaration.pk}" in out.getvalue()


def test_a_row_inserted_after_a_declaration_is_still_on_no_record(admin: Any) -> None:
    learner_id, course_id = _setting(admin)
    declared = _bare_insert(learner_id, course_id)
    audit.declare_loaded_without_records(
        actor=admin,
        ranges={"learning.completionevent": [(declared, declared)]},
        notes="A benchmark's floor.",
        at=timezone.now(),
    )
    later = _bare_insert(learner_id, course_id)

    report = audit.verify_chain()

    assert not report.intact
    assert report.reason == f"learning.completionevent {later} is on no audit record"


def test_a_row_slipped_into_a_declared_range_is_named(admin: Any) -> None:
    """A declaration counts its rows: one inserted into a gap of its ranges afterwards
    (with an explicit id) breaks the count, and the declaring record is named."""
    learner_id, course_id = _setting(admin)
    first = _bare_insert(learner_id, course_id)
    last = _bare_insert(learner_id, course_id, pk=first + 2)
    declaration = audit.declare_loaded_without_records(
        actor=admin,
        ranges={"learning.completionevent": [(first, last)]},
        notes="Generated data.",
        at=timezone.now(),
    )
    assert audit.verify_chain().intact
    _bare_insert(learner_id, course_id, pk=first + 1)

    report = audit.verify_chain()

    assert report.first_bad_id == declaration.pk
    assert "declares 2 learning.completionevent rows" in report.reason
    assert "its id ranges hold 3" in report.reason
    assert AuditEvent.objects.filter(action=audit.LOADED_WITHOUT_RECORDS).count() == 1


def test_id_ranges_are_the_fewest_runs() -> None:
    assert audit.id_ranges([7, 3, 4, 5, 9, 4]) == [(3, 5), (7, 7), (9, 9)]
    assert audit.id_ranges([]) == []
