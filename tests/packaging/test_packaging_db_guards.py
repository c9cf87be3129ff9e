"""The database itself refuses to rewrite history: raw SQL, on SQLite and on PostgreSQL.

Each refused statement runs in its own ``transaction.atomic()`` so the test can
go on after the IntegrityError, and each test checks that the row is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from packaging_helpers import History, make_history, versions_state

from coursepack.audit.models import AuditEvent
from coursepack.db_guards import IDENTITY_MESSAGE, IMMUTABLE_MESSAGE
from coursepack.packaging import api as packaging
from coursepack.packaging.models import (
    CourseGroupItem,
    CourseGroupVersion,
    PackageVersion,
    PackageVersionItem,
    PublishRecord,
)
from tests.factories import make_course, make_draft_package, make_group, make_published_package

pytestmark = pytest.mark.django_db

NEXT_NUMBER_MESSAGE = "versions are created as drafts with the next version number"


@pytest.fixture
def history(admin: Any) -> History:
    return make_history(admin)


def _execute(sql: str, params: Sequence[Any] = ()) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _refused(
    sql: str, params: Sequence[Any] = (), *, message: str | None = IMMUTABLE_MESSAGE
) -> None:
    """Assert the database refuses ``sql`` with an IntegrityError (mentioning ``message``)."""
    with pytest.raises(IntegrityError) as exc:
        _execute(sql, params)
    if message is not None:
        assert message in str(exc.value)


def _insert_version(
    package_id: int, number: int, *, status: str = "draft", released: bool = False
) -> None:
    now = timezone.now()
    _execute(
        "INSERT INTO packaging_packageversion (package_id, version_number, name, description, "
        "status, revision, created_at, published_at, effective_from, change_notes) "
        "VALUES (%s, %s, 'raw', '', %s, 1, %s, %s, %s, '')",
        [package_id, number, status, now, now if released else None, now if released else None],
    )


def _insert_group_version(group_id: int, number: int, *, status: str = "draft") -> None:
    _execute(
        "INSERT INTO packaging_coursegroupversion (group_id, version_number, name, description, "
        "kind, status, revision, created_at, change_notes) "
        "VALUES (%s, %s, 'raw', '', 'family', %s, 1, %s, '')",
        [group_id, number, status, timezone.now()],
    )


# --- package versions ---------------------------------------------------------------------


@pytest.mark.parametrize("state", ["published", "archived"])
def test_raw_update_of_a_released_versions_content_is_refused(history: History, state: str) -> None:
    """UPDATE of name, description, change notes or effective date of a released version fails."""
    version = history.by_state(state)
    before = versions_state()

    for column, value in [
        ("name", "Rewritten"),
        ("description", "Rewritten"),
        ("change_notes", "Rewritten"),
        ("effective_from", timezone.now() - timedelta(days=365)),
        ("published_at", timezone.now()),
        ("revision", 99),
    ]:
        _refused(
            f"UPDATE packaging_packageversion SET {column} = %s WHERE id = %s", [value, version.pk]
        )

    assert versions_state() == before


def test_the_orm_cannot_update_a_published_version_either(history: History) -> None:
    """QuerySet.update goes through the same wall."""
    with pytest.raises(IntegrityError), transaction.atomic():
        PackageVersion.objects.filter(pk=history.published.pk).update(name="Rewritten")

    assert PackageVersion.objects.get(pk=history.published.pk).name == history.published.name


def test_raw_status_moves_outside_the_workflow_are_refused(history: History) -> None:
    """History never runs backwards: no un-archiving, no un-publishing."""
    for state, new_status in [
        ("archived", "published"),
        ("archived", "draft"),
        ("published", "draft"),
        ("published", "scheduled"),
    ]:
        version = history.by_state(state)

        _refused(
            "UPDATE packaging_packageversion SET status = %s, archived_at = NULL WHERE id = %s",
            [new_status, version.pk],
        )

        assert PackageVersion.objects.get(pk=version.pk).status == state


def test_raw_rewrite_of_an_archive_stamp_is_refused(history: History) -> None:
    """An archived version's archived_at (when it stopped being active) cannot be moved."""
    _refused(
        "UPDATE packaging_packageversion SET archived_at = %s WHERE id = %s",
        [timezone.now() + timedelta(days=1), history.archived.pk],
    )


@pytest.mark.parametrize("state", ["published", "archived"])
def test_raw_delete_of_a_released_version_is_refused(history: History, state: str) -> None:
    """DELETE of a published or archived version fails (its items and it stay)."""
    version = history.by_state(state)
    before = versions_state()

    _refused("DELETE FROM packaging_packageversionitem WHERE version_id = %s", [version.pk])
    _refused("DELETE FROM packaging_packageversion WHERE id = %s", [version.pk])

    assert versions_state() == before


def test_the_workflows_own_moves_pass_the_triggers(admin: Any, history: History) -> None:
    """published → archived (with its stamp) and scheduled → published are allowed, raw too."""
    # Through the services: publishing v3 archives v2.
    packaging.publish_version(actor=admin, version_id=history.draft.pk)
    assert PackageVersion.objects.get(pk=history.published.pk).status == "archived"

    # Raw: a scheduled version may become published, and a published one archived.
    v4 = packaging.create_draft_from(actor=admin, version_id=history.draft.pk)
    packaging.publish_version(
        actor=admin, version_id=v4.pk, effective_at=timezone.now() + timedelta(days=1)
    )
    now = timezone.now()
    assert (
        _execute(
            "UPDATE packaging_packageversion SET status = 'archived', archived_at = %s WHERE id = %s",
            [now, history.draft.pk],
        )
        == 1
    )
    assert (
        _execute("UPDATE packaging_packageversion SET status = 'published' WHERE id = %s", [v4.pk])
        == 1
    )


def test_raw_edits_of_a_draft_are_allowed(history: History) -> None:
    """The triggers do not get in the way of drafts: content and items may change."""
    draft = history.draft
    item = draft.items.order_by("position").first()
    assert item is not None

    _execute("UPDATE packaging_packageversion SET name = 'Edited' WHERE id = %s", [draft.pk])
    _execute(
        "UPDATE packaging_packageversionitem SET required = %s WHERE id = %s", [False, item.pk]
    )
    _execute("DELETE FROM packaging_packageversionitem WHERE id = %s", [item.pk])

    assert PackageVersion.objects.get(pk=draft.pk).name == "Edited"
    assert not PackageVersionItem.objects.filter(pk=item.pk).exists()


# --- items of released package versions ----------------------------------------------------


@pytest.mark.parametrize("state", ["published", "archived"])
def test_raw_writes_to_items_of_a_released_version_are_refused(
    history: History, state: str
) -> None:
    """INSERT, UPDATE and DELETE of a released version's items all fail."""
    version = history.by_state(state)
    item = version.items.filter(course__isnull=False).order_by("position").first()
    assert item is not None
    course = make_course()
    before = versions_state()

    _refused(
        "INSERT INTO packaging_packageversionitem (version_id, position, course_id, required) "
        "VALUES (%s, 99, %s, %s)",
        [version.pk, course.pk, True],
    )
    _refused(
        "UPDATE packaging_packageversionitem SET required = NOT required WHERE id = %s", [item.pk]
    )
    _refused("UPDATE packaging_packageversionitem SET position = 42 WHERE id = %s", [item.pk])
    _refused("DELETE FROM packaging_packageversionitem WHERE id = %s", [item.pk])

    assert versions_state() == before


def test_a_draft_item_cannot_be_moved_into_a_released_version(history: History) -> None:
    """UPDATE of a draft item's version_id to a published version fails too."""
    item = history.draft.items.order_by("position").first()
    assert item is not None
    before = versions_state()

    _refused(
        "UPDATE packaging_packageversionitem SET version_id = %s, position = 99 WHERE id = %s",
        [history.published.pk, item.pk],
    )

    assert versions_state() == before


def test_a_released_versions_item_cannot_be_moved_into_a_draft(history: History) -> None:
    """UPDATE of a published item's version_id to the draft fails (it would vanish from v2)."""
    item = history.published.items.order_by("position").first()
    assert item is not None

    _refused(
        "UPDATE packaging_packageversionitem SET version_id = %s, position = 99 WHERE id = %s",
        [history.draft.pk, item.pk],
    )


# --- group versions -----------------------------------------------------------------------


def test_raw_writes_to_a_published_group_version_are_refused(admin: Any) -> None:
    """UPDATE/DELETE of a published group version and INSERT/UPDATE/DELETE of its items fail."""
    gv = make_group(actor=admin, kind="choice", min_count=1, items=[make_course(), make_course()])
    item = gv.items.order_by("position").first()
    assert item is not None
    course = make_course()

    def state() -> list[Any]:
        return [
            *CourseGroupVersion.objects.filter(pk=gv.pk).values_list(
                "name", "kind", "min_count", "status", "revision"
            ),
            *CourseGroupItem.objects.filter(group_version=gv)
            .order_by("pk")
            .values_list("pk", "position", "course_id", "required"),
        ]

    before = state()

    _refused("UPDATE packaging_coursegroupversion SET name = 'X' WHERE id = %s", [gv.pk])
    _refused("UPDATE packaging_coursegroupversion SET min_count = 2 WHERE id = %s", [gv.pk])
    _refused("UPDATE packaging_coursegroupversion SET status = 'draft' WHERE id = %s", [gv.pk])
    _refused("DELETE FROM packaging_coursegroupversion WHERE id = %s", [gv.pk])
    _refused(
        "INSERT INTO packaging_coursegroupitem (group_version_id, position, course_id, required) "
        "VALUES (%s, 9, %s, %s)",
        [gv.pk, course.pk, False],
    )
    _refused("UPDATE packaging_coursegroupitem SET required = %s WHERE id = %s", [True, item.pk])
    _refused("DELETE FROM packaging_coursegroupitem WHERE id = %s", [item.pk])

    assert state() == before


def test_raw_edits_of_a_group_draft_are_allowed(admin: Any) -> None:
    """A group draft may change, raw too."""
    gv = make_group(actor=admin, items=[make_course()], publish=False)

    assert (
        _execute("UPDATE packaging_coursegroupversion SET name = 'Y' WHERE id = %s", [gv.pk]) == 1
    )
    assert (
        _execute("DELETE FROM packaging_coursegroupitem WHERE group_version_id = %s", [gv.pk]) == 1
    )


# --- gapless version numbers, born as drafts -------------------------------------------------


def test_a_raw_version_with_a_skipped_number_is_refused(admin: Any) -> None:
    """After v1, inserting v3 fails: numbers are gapless."""
    v1 = make_published_package(actor=admin)

    with pytest.raises(IntegrityError) as exc:
        _insert_version(v1.package_id, 3)

    assert NEXT_NUMBER_MESSAGE in str(exc.value)
    assert PackageVersion.objects.filter(package_id=v1.package_id).count() == 1


def test_a_raw_version_born_published_is_refused(admin: Any) -> None:
    """Inserting a version directly as published (or archived, or scheduled) fails."""
    v1 = make_published_package(actor=admin)
    packaging.create_draft_from(actor=admin, version_id=v1.pk)
    other = make_draft_package(actor=admin)

    for package_id, number in [(v1.package_id, 3), (other.package_id, 2)]:
        for status in ("published", "archived", "scheduled"):
            with pytest.raises(IntegrityError) as exc:
                _insert_version(package_id, number, status=status, released=True)
            assert NEXT_NUMBER_MESSAGE in str(exc.value)


def test_a_raw_version_with_the_next_number_as_a_draft_is_allowed(admin: Any) -> None:
    """The one insert the guard lets through is what create_draft_from does."""
    v1 = make_published_package(actor=admin)

    _insert_version(v1.package_id, 2)

    assert list(
        PackageVersion.objects.filter(package_id=v1.package_id)
        .order_by("version_number")
        .values_list("version_number", "status")
    ) == [(1, "published"), (2, "draft")]


def test_a_raw_group_version_with_a_skipped_number_or_born_published_is_refused(admin: Any) -> None:
    """Group versions are gapless and born as drafts too."""
    gv = make_group(actor=admin, items=[make_course()])

    for number, status in [(3, "draft"), (2, "published"), (1, "draft")]:
        with pytest.raises(IntegrityError):
            _insert_group_version(gv.group_id, number, status=status)

    _insert_group_version(gv.group_id, 2)
    assert CourseGroupVersion.objects.filter(group_id=gv.group_id).count() == 2


def test_a_drafts_version_number_cannot_be_changed_to_leave_a_gap(history: History) -> None:
    """UPDATE of a draft's version_number (or moving it to another package) fails: no gaps."""
    other = make_draft_package()
    before = versions_state()

    _refused(
        "UPDATE packaging_packageversion SET version_number = 7 WHERE id = %s",
        [history.draft.pk],
        message=IDENTITY_MESSAGE,
    )
    _refused(
        "UPDATE packaging_packageversion SET package_id = %s, version_number = 2 WHERE id = %s",
        [other.package_id, history.draft.pk],
        message=IDENTITY_MESSAGE,
    )

    assert versions_state() == before


def test_a_group_drafts_version_number_cannot_be_changed(admin: Any) -> None:
    """UPDATE of a group draft's version_number fails too."""
    gv = make_group(actor=admin, items=[make_course()])
    draft = packaging.new_group_draft(actor=admin, group_id=gv.group_id)

    _refused(
        "UPDATE packaging_coursegroupversion SET version_number = 5 WHERE id = %s",
        [draft.pk],
        message=IDENTITY_MESSAGE,
    )

    assert CourseGroupVersion.objects.get(pk=draft.pk).version_number == 2


# --- one draft, one active, unique numbers ---------------------------------------------------


def _unique_constraints(table: str) -> list[tuple[str, ...]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return sorted(
        tuple(c["columns"]) for c in constraints.values() if c["unique"] and not c["primary_key"]
    )


def test_the_uniqueness_rules_are_database_constraints() -> None:
    """(package, version_number) is unique; drafts, actives and schedules are unique per package."""
    uniques = _unique_constraints("packaging_packageversion")

    assert uniques.count(("package_id", "version_number")) == 1
    # Three partial unique indexes over package_id: one draft, one published, one scheduled.
    assert uniques.count(("package_id",)) == 3
    assert (
        _unique_constraints("packaging_coursegroupversion").count(("group_id", "version_number"))
        == 1
    )


def test_a_second_draft_is_refused_by_the_database(history: History) -> None:
    """With v3 a draft, a raw draft v4 (the next number) violates the one-draft index."""
    before = versions_state()

    with pytest.raises(IntegrityError):
        _insert_version(history.package_id, 4)

    assert versions_state() == before


def test_a_second_active_version_is_refused_by_the_database(admin: Any, history: History) -> None:
    """Raw scheduled → published while v2 is published violates the one-active index."""
    packaging.publish_version(
        actor=admin, version_id=history.draft.pk, effective_at=timezone.now() + timedelta(days=2)
    )

    _refused(
        "UPDATE packaging_packageversion SET status = 'published' WHERE id = %s",
        [history.draft.pk],
        message=None,
    )

    assert list(
        PackageVersion.objects.filter(
            package_id=history.package_id, status="published"
        ).values_list("pk", flat=True)
    ) == [history.published.pk]


def test_a_duplicate_version_number_is_refused_by_the_database(history: History) -> None:
    """Re-inserting an existing number fails (the guard and the unique constraint agree)."""
    packaging.discard_draft(actor=None, version_id=history.draft.pk)

    for number in (1, 2):
        with pytest.raises(IntegrityError):
            _insert_version(history.package_id, number)

    assert PackageVersion.objects.filter(package_id=history.package_id).count() == 2


# --- append-only logs -------------------------------------------------------------------------


def test_raw_update_or_delete_of_audit_events_is_refused(admin: Any) -> None:
    """The audit log is append-only: UPDATE and DELETE fail, through the ORM too."""
    make_published_package(actor=admin)
    event = AuditEvent.objects.order_by("id").first()
    assert event is not None
    count = AuditEvent.objects.count()

    _refused("UPDATE audit_auditevent SET notes = 'forged' WHERE id = %s", [event.pk])
    _refused("UPDATE audit_auditevent SET actor_label = 'someone' WHERE id = %s", [event.pk])
    _refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(notes="forged")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()

    assert AuditEvent.objects.count() == count
    assert AuditEvent.objects.get(pk=event.pk).notes == event.notes


def test_raw_update_or_delete_of_publish_records_is_refused(history: History) -> None:
    """The publish log is append-only: UPDATE and DELETE fail."""
    record = PublishRecord.objects.filter(package_id=history.package_id).order_by("id").first()
    assert record is not None
    before = list(PublishRecord.objects.order_by("id").values_list("id", "action", "change_notes"))

    _refused(
        "UPDATE packaging_publishrecord SET change_notes = 'forged' WHERE id = %s", [record.pk]
    )
    _refused("UPDATE packaging_publishrecord SET action = 'archived' WHERE id = %s", [record.pk])
    _refused("DELETE FROM packaging_publishrecord WHERE id = %s", [record.pk])

    assert (
        list(PublishRecord.objects.order_by("id").values_list("id", "action", "change_notes"))
        == before
    )
