"""Released versions, their items and due rules, group versions and the publish log are
bound to their audit records: someone with write access to the database (triggers
dropped, raw SQL) who changes one is named by verification."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.models import AuditEvent
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from coursepack.packaging.models import PackageVersion, PublishRecord
from tests.factories import (
    make_admin,
    make_course,
    make_group,
    make_learner,
    make_published_package,
)

pytestmark = pytest.mark.django_db


def _drop_guards(*tables: str) -> None:
    """Drop every trigger guarding ``tables`` (the test's transaction restores them)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname, relname FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid "
                "WHERE NOT tgisinternal AND relname = ANY(%s)",
                [list(tables)],
            )
            for name, table in cursor.fetchall():
                cursor.execute(f"DROP TRIGGER {name} ON {table}")
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                f"({', '.join('%s' for _ in tables)})",
                list(tables),
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"DROP TRIGGER {name}")


@pytest.fixture
def released() -> tuple[Any, PackageVersion, PackageVersion]:
    """v1 (two courses) replaced by v2 (the same plus a group): both released."""
    admin = make_admin()
    group = make_group(actor=admin, items=[make_course(), make_course()])
    v1 = make_published_package(actor=admin, items=[make_course(), make_course()])
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    packaging.add_item(actor=admin, version_id=draft.pk, group_id=group.group_id)
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Adds a choice.")
    draft.refresh_from_db()
    return admin, v1, draft


def test_the_untouched_history_of_versions_verifies(
    released: tuple[Any, PackageVersion, PackageVersion],
) -> None:
    _, _v1, v2 = released

    report = audit.verify_chain()

    assert report.intact, report.reason
    published = AuditEvent.objects.get(action="version.published", target_id=str(v2.pk))
    assert published.row_hash
    bound = set(published.bound_rows or {})
    assert {f"packaging.packageversionitem {i.pk}" for i in v2.items.all()} <= bound
    record = PublishRecord.objects.get(version=v2, action="published")
    assert f"packaging.publishrecord {record.pk}" in bound


def test_a_published_versions_item_changed_by_raw_sql_is_named(
    released: tuple[Any, PackageVersion, PackageVersion],
) -> None:
    _, v1, _ = released
    item = v1.items.order_by("position").first()
    assert item is not None
    _drop_guards("packaging_packageversionitem")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE packaging_packageversionitem SET required = %s WHERE id = %s",
            [not item.required, item.pk],
        )

    report = audit.verify_chain()

    assert not report.intact
    assert f"packaging.packageversionitem {item.pk}" in report.reason
    vouching = AuditEvent.objects.get(pk=report.first_bad_id)
    assert vouching.target_type == "packaging.packageversion"
    assert vouching.target_id == str(v1.pk)


def test_a_back_dated_publish_log_row_is_named(
    released: tuple[Any, PackageVersion, PackageVersion],
) -> None:
    _, _, v2 = released
    record = PublishRecord.objects.get(version=v2, action="published")
    _drop_guards("packaging_publishrecord")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE packaging_publishrecord SET occurred_at = %s WHERE id = %s",
            [timezone.now() - timedelta(days=400), record.pk],
        )

    report = audit.verify_chain()

    assert f"packaging.publishrecord {record.pk}" in report.reason
    assert AuditEvent.objects.get(pk=report.first_bad_id).action == "version.published"


def test_a_publish_log_row_inserted_behind_the_logs_back_is_named(
    released: tuple[Any, PackageVersion, PackageVersion],
) -> None:
    _, _, v2 = released
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO packaging_publishrecord (package_id, version_id, action, "
            "previous_version_id, occurred_at, actor_id, effective_from, change_notes, "
            "inflight_policy, moved_enrollments) SELECT package_id, version_id, action, "
            "previous_version_id, %s, actor_id, effective_from, 'forged', inflight_policy, "
            "moved_enrollments FROM packaging_publishrecord WHERE version_id = %s "
            "AND action = 'published'",
            [timezone.now() - timedelta(days=30), v2.pk],
        )
    forged = PublishRecord.objects.get(change_notes="forged")

    report = audit.verify_chain()

    assert report.reason == f"packaging.publishrecord {forged.pk} is on no audit record"


def test_a_back_dated_archive_of_a_version_is_named(
    released: tuple[Any, PackageVersion, PackageVersion],
) -> None:
    _, v1, _ = released
    _drop_guards("packaging_packageversion")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE packaging_packageversion SET archived_at = %s WHERE id = %s",
            [timezone.now() - timedelta(days=400), v1.pk],
        )

    report = audit.verify_chain()

    assert f"packaging.packageversion {v1.pk}" in report.reason
    assert AuditEvent.objects.get(pk=report.first_bad_id).action == "version.archived"


def test_a_published_group_versions_item_changed_by_raw_sql_is_named() -> None:
    admin = make_admin()
    group = make_group(actor=admin, items=[make_course(), make_course()])
    item = group.items.order_by("position").first()
    assert item is not None and audit.verify_chain().intact
    _drop_guards("packaging_coursegroupitem")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE packaging_coursegroupitem SET course_id = %s WHERE id = %s",
            [make_course().pk, item.pk],
        )

    report = audit.verify_chain()

    assert f"packaging.coursegroupitem {item.pk}" in report.reason
    assert AuditEvent.objects.get(pk=report.first_bad_id).action == "group.published"


def test_drafts_are_not_bound_and_edit_freely() -> None:
    admin = make_admin()
    v1 = make_published_package(actor=admin)
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    packaging.add_item(actor=admin, version_id=draft.pk, course_id=make_course().pk)
    packaging.update_draft(actor=admin, version_id=draft.pk, name="Renamed draft")

    assert audit.verify_chain().intact
    assert (
        not AuditEvent.objects.filter(target_id=str(draft.pk), row_hash__gt="")
        .exclude(target_type="packaging.package")
        .exists()
    )


def test_a_void_event_is_on_the_record_and_a_changed_void_is_named() -> None:
    admin = make_admin()
    v1 = make_published_package(actor=admin)
    course_id = v1.items.get().course_id
    learner = make_learner()
    recorded = learning.record_completion(
        actor=admin, learner_id=learner.pk, course_id=course_id, occurred_at=timezone.now()
    )
    void = learning.void_event(actor=admin, event_id=recorded.event.pk, reason="Wrong learner.")
    assert audit.verify_chain().intact

    _drop_guards("learning_completionevent")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE learning_completionevent SET evidence_note = 'nothing' WHERE id = %s",
            [void.event.pk],
        )

    report = audit.verify_chain()

    assert f"learning.completionevent {void.event.pk}" in report.reason
    assert AuditEvent.objects.get(pk=report.first_bad_id).action == "completion.voided"
