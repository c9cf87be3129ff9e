"""The completion path's statements written once as SQL (ADR 0035) return and write
exactly what the querysets they replace do, on SQLite and PostgreSQL alike.

Each statement is compared with its queryset on the same rows: every column, values
converted as the ORM converts them (aware datetimes, booleans, JSON), null and
not-null alike. A cheap file: one small package, a few rows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coursepack import statements
from coursepack.accounts import api as accounts
from coursepack.accounts.models import Account, Role
from coursepack.audit import api as audit
from coursepack.audit.models import AuditChainHead, AuditEvent
from coursepack.learning import api as learning
from coursepack.learning import selectors
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.learning.status_cache import _CACHE_FIELDS, _FEW, _store
from coursepack.learning.write_support import (
    enrollments_of_rows,
    insert_event,
    learner_enrollment_rows,
    learner_event_rows,
)
from tests.factories import make_course, make_learner, make_published_package

pytestmark = pytest.mark.django_db

_COLUMNS = [f.attname for f in Enrollment._meta.concrete_fields]


def _values(row: Any) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in _COLUMNS)


@pytest.fixture
def world(admin: Any, learner: Any) -> dict[str, Any]:
    """A learner enrolled in two packages sharing course a (one with a due date and a
    withdrawal, so nullable dates are both null and set), with events on a, b and c
    and a void among them."""
    a, b, c = make_course(), make_course(), make_course()
    first = make_published_package(actor=admin, items=[a, b])
    second = make_published_package(actor=admin, items=[a])
    one = learning.enroll(actor=admin, learner_id=learner.pk, package_id=first.package_id)
    two = learning.enroll(actor=admin, learner_id=learner.pk, package_id=second.package_id)
    learning.extend_due_date(
        actor=admin,
        enrollment_ids=[two.pk],
        due_at=timezone.now() + timedelta(days=9),
        reason="leave",
    )
    at = timezone.now() - timedelta(days=2)
    done = learning.record_completion(
        actor=admin, learner_id=learner.pk, course_id=a.pk, occurred_at=at
    ).event
    learning.record_completion(actor=admin, learner_id=learner.pk, course_id=b.pk, kind="passed")
    learning.record_completion(actor=admin, learner_id=learner.pk, course_id=c.pk)
    learning.void_event(actor=admin, event_id=done.pk, reason="wrong learner")
    learning.withdraw(actor=admin, enrollment_id=one.pk, notes="left the team")
    return {"a": a, "b": b, "c": c, "learner": learner, "admin": admin}


def test_enrollment_rows_are_the_querysets_enrollments(world: dict[str, Any]) -> None:
    learner = world["learner"]
    expected = list(Enrollment.objects.filter(learner_id=learner.pk).order_by("pk"))
    rows = learner_enrollment_rows(learner.pk)
    found = enrollments_of_rows(rows)
    assert [_values(e) for e in found] == [_values(e) for e in expected]
    assert any(e.withdrawn_at is not None for e in found)
    assert all(timezone.is_aware(e.enrolled_at) for e in found)
    assert all(not e._state.adding and e._state.db == "default" for e in found)
    # Read again, the same rows compare equal (what the lock's check relies on).
    assert learner_enrollment_rows(learner.pk) == rows
    assert learner_enrollment_rows(learner.pk + 1000) == []


def test_event_rows_are_the_selectors_rows(world: dict[str, Any]) -> None:
    learner = world["learner"]
    courses = {world["a"].pk, world["b"].pk}
    expected = selectors.event_rows_by_learner([learner.pk], courses)[learner.pk]
    found = learner_event_rows(learner.pk, courses)
    assert sorted(found) == sorted(expected)
    assert any(row[4] is not None for row in found)  # the void, and what it voids
    assert learner_event_rows(learner.pk, []) == []


def test_an_inserted_event_is_the_row_create_writes(world: dict[str, Any]) -> None:
    learner, admin, b = world["learner"], world["admin"], world["b"]
    now = timezone.now()
    fields: dict[str, Any] = {
        "learner_id": learner.pk,
        "course_id": b.pk,
        "kind": "failed",
        "occurred_at": now - timedelta(hours=1),
        "recorded_at": now,
        "recorded_by": admin,
        "source": "api",
        "external_id": "lms-7",
        "evidence_note": "proctored",
        "late_reason": "",
    }
    created = CompletionEvent.objects.create(**fields)
    inserted = insert_event(**{**fields, "external_id": "lms-8"})
    assert inserted.pk > created.pk
    assert not inserted._state.adding
    columns = [f.attname for f in CompletionEvent._meta.concrete_fields if f.attname != "id"]
    a, b_row = (
        CompletionEvent.objects.filter(pk=pk).values_list(*columns).get()
        for pk in (created.pk, inserted.pk)
    )
    assert [*a[:7], *a[8:]] == [*b_row[:7], *b_row[8:]]  # all but the external id
    # The instance returned is the row stored (what the audit record hashes).
    stored = CompletionEvent.objects.get(pk=inserted.pk)
    assert audit.row_hash("learning.completionevent", inserted) == audit.row_hash(
        "learning.completionevent", stored
    )


@pytest.mark.parametrize("how_many", [1, 3, _FEW + 1])
def test_storing_statuses_writes_what_bulk_update_writes(admin: Any, how_many: int) -> None:
    course = make_course()
    version = make_published_package(actor=admin, items=[course])
    ids = [
        learning.enroll(actor=admin, learner_id=make_learner().pk, package_id=version.package_id).pk
        for _ in range(how_many)
    ]
    changed = list(Enrollment.objects.filter(pk__in=ids).order_by("pk"))
    now = timezone.now()
    for i, e in enumerate(changed):
        e.status, e.progress_done, e.progress_needed = "completed", 1, 1
        e.completed_at = now - timedelta(minutes=i)
        e.expires_at = now + timedelta(days=365 - i)
        e.completed_late = i % 2 == 0
    _store(changed)
    stored = list(Enrollment.objects.filter(pk__in=ids).order_by("pk"))
    for before, after in zip(changed, stored, strict=True):
        assert [getattr(after, n) for n in _CACHE_FIELDS] == [
            getattr(before, n) for n in _CACHE_FIELDS
        ]


def test_the_token_check_is_one_statement_with_the_role(admin: Any, learner: Any) -> None:
    secret = accounts.issue_token(actor=admin, name="ci").secret
    accounts.authenticate_token(secret)  # stamps last_used_at (once a minute)
    with CaptureQueriesContext(connection) as queries:
        user = accounts.authenticate_token(secret)
        assert user is not None and user.pk == admin.pk
        assert accounts.role_of(user) == Role.ADMIN
        # As select_related("account") left it: found, or known to be missing.
        assert getattr(user, "account", None) == Account.objects.filter(user=admin).first()
    assert len(queries) == 2  # the check, and the test's own read of the account
    # A user without an account: a learner, and no query to find that out.
    own = accounts.issue_token(actor=learner, name="mine").secret
    someone = accounts.authenticate_token(own)
    assert someone is not None and someone.pk == learner.pk
    with CaptureQueriesContext(connection) as queries:
        assert accounts.role_of(someone) == Role.LEARNER
    assert len(queries) == 0
    assert accounts.authenticate_token(own[:-1] + ("0" if own[-1] != "0" else "1")) is None


def test_the_chain_head_is_read_locked_and_written_as_the_orm_would(admin: Any) -> None:
    AuditChainHead.objects.all().delete()
    first = audit.record(
        actor=admin, action="test.first", target=audit.Named("t", "1", "one"), at=timezone.now()
    )
    head = AuditChainHead.objects.get(pk=1)
    assert (head.last_event_id, head.last_hash) == (first.pk, first.hash)
    assert head.mac == audit.head_mac(first.pk, first.hash)
    locked = audit.lock_chain()
    assert [getattr(locked, f.attname) for f in AuditChainHead._meta.concrete_fields] == [
        getattr(head, f.attname) for f in AuditChainHead._meta.concrete_fields
    ]
    (second,) = audit.record_all(
        [
            audit.Entry(
                admin,
                "test.second",
                audit.Named("t", "2", "two"),
                timezone.now(),
                after={"nested": {"n": [1, 2]}},
            )
        ],
        head=locked,
    )
    assert AuditEvent.objects.get(pk=second.pk).after == {"nested": {"n": [1, 2]}}
    assert audit.verify_chain().intact


def test_columns_are_built_once_per_vendor() -> None:
    names = ["id", "occurred_at"]
    assert statements.columns(CompletionEvent, names) is statements.columns(CompletionEvent, names)


def test_ids_in_reads_what_in_reads_with_the_same_sql(world: dict[str, Any]) -> None:
    """``ids_in`` (ids taken as int(), sorted, without duplicates) compiles to the SQL
    and parameters of ``__in`` of the same ids sorted, through a foreign key and a
    primary key alike, and reads the same rows; none matches nothing."""
    ids = sorted(Enrollment.objects.values_list("pk", flat=True))
    assert len(ids) == 2
    given = [ids[1], ids[0], ids[1], ids[0] + 100_000]  # unsorted, twice, one missing
    for field in ("pk", "learner_id"):
        values = [ids[0]] if field == "pk" else [world["learner"].pk]
        fast = Enrollment.objects.filter(statements.ids_in(field, [*given, *values]))
        known = sorted({*given, *values})
        slow = Enrollment.objects.filter(**{f"{field}__in": known})
        assert str(fast.query) == str(slow.query)
        fast_sql, fast_params = fast.query.sql_with_params()
        slow_sql, slow_params = slow.query.sql_with_params()
        assert (fast_sql, list(fast_params)) == (slow_sql, list(slow_params))
        assert sorted(fast.values_list("pk", flat=True)) == sorted(
            slow.values_list("pk", flat=True)
        )
    assert (
        sorted(
            Enrollment.objects.filter(statements.ids_in("pk", given)).values_list("pk", flat=True)
        )
        == ids
    )
    assert list(Enrollment.objects.filter(statements.ids_in("pk", []))) == []
    assert Enrollment.objects.exclude(statements.ids_in("pk", [])).count() == 2
