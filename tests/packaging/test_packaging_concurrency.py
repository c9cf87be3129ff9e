"""Concurrent publishes on PostgreSQL: the package lock leaves exactly one active version.

Each test commits real transactions from several threads (``transaction=True``),
released together by a Barrier so their publishes overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from coursepack.packaging import api as packaging
from coursepack.packaging.errors import (
    DraftAlreadyExists,
    GroupKeyTaken,
    PackageKeyTaken,
    VersionNotDraft,
)
from coursepack.packaging.models import CourseGroup, Package, PackageVersion, PublishRecord
from tests.concurrency import at_once
from tests.factories import make_admin, make_course, make_draft_package, make_published_package

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgresql_only")]


def _statuses(package_id: int) -> list[tuple[int, str]]:
    return list(
        PackageVersion.objects.filter(package_id=package_id)
        .order_by("version_number")
        .values_list("version_number", "status")
    )


def _publish(admin: Any, version_id: int) -> Callable[[], object]:
    return lambda: packaging.publish_version(
        actor=admin, version_id=version_id, change_notes="race"
    )


def _one_won(results: list[object]) -> None:
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == len(results) - 1, results
    assert all(isinstance(f, VersionNotDraft) for f in failures), failures


def test_two_publishes_of_the_same_draft_leave_exactly_one_active_version() -> None:
    """v1 active, v2 published twice at once: one wins, the other gets VersionNotDraft."""
    admin = make_admin()
    v1 = make_published_package(actor=admin)
    v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)

    results = at_once([_publish(admin, v2.pk), _publish(admin, v2.pk)])

    _one_won(results)
    assert _statuses(v1.package_id) == [(1, "archived"), (2, "published")]
    assert PublishRecord.objects.filter(version=v2, action="published").count() == 1
    assert PublishRecord.objects.filter(version=v1, action="archived").count() == 1


def test_two_first_publishes_of_a_new_package_leave_exactly_one_active_version() -> None:
    """A package's very first publish raced by two admins: one active v1, one VersionNotDraft."""
    admins = [make_admin(), make_admin()]
    draft = make_draft_package(actor=admins[0])

    results = at_once([_publish(admins[0], draft.pk), _publish(admins[1], draft.pk)])

    _one_won(results)
    assert _statuses(draft.package_id) == [(1, "published")]
    assert PublishRecord.objects.filter(package_id=draft.package_id).count() == 1


def test_races_on_two_packages_at_once_each_leave_one_active_version() -> None:
    """Four threads, two per package: each package ends with one active version and one loser."""
    admin = make_admin()
    drafts = []
    for _ in range(2):
        v1 = make_published_package(actor=admin, items=[make_course(actor=admin)])
        drafts.append(packaging.create_draft_from(actor=admin, version_id=v1.pk))

    results = at_once([_publish(admin, d.pk) for d in drafts for _ in range(2)])

    _one_won(results[:2])
    _one_won(results[2:])
    for draft in drafts:
        assert _statuses(draft.package_id) == [(1, "archived"), (2, "published")]


def test_two_new_drafts_at_once_leave_one_draft() -> None:
    """Two admins start a new version at the same moment: one draft v2, one DraftAlreadyExists."""
    admin = make_admin()
    v1 = make_published_package(actor=admin)

    results = at_once(
        [lambda: packaging.create_draft_from(actor=admin, version_id=v1.pk) for _ in range(2)]
    )

    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 1 and isinstance(failures[0], DraftAlreadyExists), results
    assert _statuses(v1.package_id) == [(1, "published"), (2, "draft")]


def test_two_creates_of_one_key_at_once_make_one_package_and_name_it() -> None:
    """Two retries of one create (same key) at the same moment: one package, and the
    other is PackageKeyTaken naming it (the unique constraint decides, not a 500)."""
    admin = make_admin()

    results = at_once(
        [
            lambda: packaging.create_package(actor=admin, name="Fire safety", key="fire-safety")
            for _ in range(2)
        ]
    )

    made = [r for r in results if not isinstance(r, Exception)]
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(made) == 1 and len(failures) == 1, results
    assert isinstance(failures[0], PackageKeyTaken)
    assert failures[0].existing_id == made[0].package_id
    assert list(Package.objects.values_list("key", flat=True)) == ["fire-safety"]


def test_two_creates_of_one_group_key_at_once_make_one_group() -> None:
    admin = make_admin()

    results = at_once(
        [
            lambda: packaging.create_group(actor=admin, name="AML", kind="family", key="aml")
            for _ in range(2)
        ]
    )

    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 1 and isinstance(failures[0], GroupKeyTaken), results
    assert CourseGroup.objects.count() == 1
