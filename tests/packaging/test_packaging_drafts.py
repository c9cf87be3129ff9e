"""Packages and their drafts: create, edit, revisions, stale edits, discard and delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from packaging_helpers import versions_state

from coursepack.audit.models import AuditEvent
from coursepack.errors import InvalidInput
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from coursepack.packaging.errors import (
    DuplicateItem,
    GroupNotFound,
    ItemNotFound,
    PackageHasEnrollments,
    PackageHasHistory,
    StaleRevision,
)
from coursepack.packaging.models import Package, PackageVersion, PackageVersionItem
from tests.factories import (
    make_course,
    make_draft_package,
    make_group,
    make_learner,
    make_published_package,
)

pytestmark = pytest.mark.django_db


def _order(version: PackageVersion) -> list[tuple[int, int | None, bool]]:
    return list(version.items.order_by("position").values_list("position", "course_id", "required"))


# --- create and update packages ----------------------------------------------------------


def test_create_package_returns_draft_v1_and_audits_it(admin: Any) -> None:
    """A new package has one version: draft v1, named like the package, revision 1."""
    version = packaging.create_package(
        actor=admin, name=" HR Compliance ", category="HR", description="For all"
    )

    package = Package.objects.get(pk=version.package_id)
    assert (package.name, package.category, package.description, package.status) == (
        "HR Compliance",
        "HR",
        "For all",
        "active",
    )
    assert (version.version_number, version.status, version.name, version.revision) == (
        1,
        "draft",
        "HR Compliance",
        1,
    )
    assert AuditEvent.objects.filter(action="package.created", package_id=package.pk).exists()


def test_create_package_lists_every_problem(admin: Any) -> None:
    """A missing name, a NUL in the description and a too long category are all reported."""
    with pytest.raises(InvalidInput) as exc:
        packaging.create_package(actor=admin, name=" ", description="a\x00", category="c" * 101)

    assert sorted(p.split(":")[0] for p in exc.value.problems) == [
        "category",
        "description",
        "name",
    ]
    assert not Package.objects.exists()


def test_update_package_changes_the_container_not_the_versions(admin: Any) -> None:
    """Renaming the package leaves the published version's name as published."""
    v1 = make_published_package(actor=admin, name="Old name")

    packaging.update_package(actor=admin, package_id=v1.package_id, name="New name", category="X")

    assert Package.objects.get(pk=v1.package_id).name == "New name"
    assert PackageVersion.objects.get(pk=v1.pk).name == "Old name"


# --- editing a draft ------------------------------------------------------------------


def test_add_item_appends_or_inserts_and_bumps_the_revision(admin: Any) -> None:
    """Items go to the end, or to a position with the rest shifted; each add is one revision."""
    a, b, c = (make_course(actor=admin) for _ in range(3))
    draft = packaging.create_package(actor=admin, name="P")

    packaging.add_item(actor=admin, version_id=draft.pk, course_id=a.pk)
    packaging.add_item(actor=admin, version_id=draft.pk, course_id=b.pk, required=False)
    packaging.add_item(actor=admin, version_id=draft.pk, course_id=c.pk, position=1)
    draft.refresh_from_db()

    assert _order(draft) == [(1, c.pk, True), (2, a.pk, True), (3, b.pk, False)]
    assert draft.revision == 4
    assert (
        AuditEvent.objects.filter(action="version.item_added", target_id=str(draft.pk)).count() == 3
    )


def test_add_item_beyond_the_end_appends(admin: Any) -> None:
    """A position past the end means 'at the end'."""
    draft = make_draft_package(actor=admin)
    course = make_course(actor=admin)

    packaging.add_item(actor=admin, version_id=draft.pk, course_id=course.pk, position=50)

    assert _order(draft)[-1] == (2, course.pk, True)


def test_remove_item_closes_the_gap(admin: Any) -> None:
    """After removing the middle item, positions are 1..n again."""
    a, b, c = (make_course(actor=admin) for _ in range(3))
    draft = make_draft_package(actor=admin, items=[a, b, c])

    packaging.remove_item(actor=admin, version_id=draft.pk, item_id=draft.items.get(course=b).pk)

    assert _order(draft) == [(1, a.pk, True), (2, c.pk, True)]


@pytest.mark.parametrize(
    ("course_index", "to", "expected"), [(0, 3, [1, 2, 0]), (2, 1, [2, 0, 1]), (1, 2, [0, 1, 2])]
)
def test_move_item_reorders(admin: Any, course_index: int, to: int, expected: list[int]) -> None:
    """Moving an item to a position shifts the others; positions stay 1..n."""
    courses = [make_course(actor=admin) for _ in range(3)]
    draft = make_draft_package(actor=admin, items=courses)
    item = draft.items.get(course=courses[course_index])

    packaging.move_item(actor=admin, version_id=draft.pk, item_id=item.pk, position=to)

    assert _order(draft) == [(i + 1, courses[e].pk, True) for i, e in enumerate(expected)]


def test_move_item_without_a_position_is_refused_and_changes_nothing(admin: Any) -> None:
    """Moving needs a position; without one the edit is refused with the field named."""
    courses = [make_course(actor=admin) for _ in range(2)]
    draft = make_draft_package(actor=admin, items=courses)
    before = _order(draft)

    with pytest.raises(InvalidInput) as exc:
        packaging.move_item(
            actor=admin,
            version_id=draft.pk,
            item_id=draft.items.get(course=courses[1]).pk,
            position=None,  # type: ignore[arg-type]
        )

    assert exc.value.problems == ["position: is required"]
    assert _order(draft) == before


def test_set_item_required_and_update_draft(admin: Any) -> None:
    """An item can be made optional; the draft's name and description can change."""
    course = make_course(actor=admin)
    draft = make_draft_package(actor=admin, items=[course, make_course(actor=admin)])
    item = draft.items.get(course=course)

    packaging.set_item_required(actor=admin, version_id=draft.pk, item_id=item.pk, required=False)
    packaging.update_draft(actor=admin, version_id=draft.pk, name="Renamed", description="Now")

    item.refresh_from_db()
    draft.refresh_from_db()
    assert item.required is False
    assert (draft.name, draft.description) == ("Renamed", "Now")


def test_use_latest_group_version_repins_the_item(admin: Any) -> None:
    """A draft pinned to group v1 takes v2 once it is published; a draft v3 is not taken."""
    group = make_group(actor=admin, items=[make_course(actor=admin)])
    draft = make_draft_package(actor=admin, items=[group])
    item = draft.items.get()
    group_v2 = packaging.new_group_draft(actor=admin, group_id=group.group_id)
    packaging.add_group_item(
        actor=admin, group_version_id=group_v2.pk, course_id=make_course(actor=admin).pk
    )
    packaging.publish_group_version(actor=admin, group_version_id=group_v2.pk)
    packaging.new_group_draft(actor=admin, group_id=group.group_id)

    packaging.use_latest_group_version(actor=admin, version_id=draft.pk, item_id=item.pk)

    item.refresh_from_db()
    assert item.group_version_id == group_v2.pk


def test_use_latest_group_version_on_a_course_item_is_refused(admin: Any) -> None:
    """Only group items have versions: InvalidInput, nothing changed."""
    draft = make_draft_package(actor=admin)
    before = versions_state()

    with pytest.raises(InvalidInput):
        packaging.use_latest_group_version(
            actor=admin, version_id=draft.pk, item_id=draft.items.get().pk
        )

    assert versions_state() == before


# --- refused edits change nothing -----------------------------------------------------


def test_refused_draft_edits_change_nothing(admin: Any) -> None:
    """Duplicates, unknown items, bad positions and bad targets are refused; the draft is as it was."""
    course = make_course(actor=admin)
    group = make_group(actor=admin, items=[make_course(actor=admin)])
    draft = make_draft_package(actor=admin, items=[course, group])
    other = make_draft_package(actor=admin)
    foreign_item = other.items.get()
    item = draft.items.get(course=course)
    before = versions_state()

    attempts: list[tuple[type[Exception], Callable[[], object]]] = [
        (
            DuplicateItem,
            lambda: packaging.add_item(actor=admin, version_id=draft.pk, course_id=course.pk),
        ),
        (
            DuplicateItem,
            lambda: packaging.add_item(actor=admin, version_id=draft.pk, group_id=group.group_id),
        ),
        (
            GroupNotFound,
            lambda: packaging.add_item(actor=admin, version_id=draft.pk, group_id=999_999),
        ),
        (InvalidInput, lambda: packaging.add_item(actor=admin, version_id=draft.pk)),
        (
            InvalidInput,
            lambda: packaging.add_item(
                actor=admin, version_id=draft.pk, course_id=course.pk, group_id=group.group_id
            ),
        ),
        (
            InvalidInput,
            lambda: packaging.add_item(
                actor=admin, version_id=draft.pk, course_id=make_course(actor=admin).pk, position=0
            ),
        ),
        (
            InvalidInput,
            lambda: packaging.move_item(
                actor=admin, version_id=draft.pk, item_id=item.pk, position=3
            ),
        ),
        (
            InvalidInput,
            lambda: packaging.move_item(
                actor=admin, version_id=draft.pk, item_id=item.pk, position=0
            ),
        ),
        (
            ItemNotFound,
            lambda: packaging.remove_item(
                actor=admin, version_id=draft.pk, item_id=foreign_item.pk
            ),
        ),
        (
            ItemNotFound,
            lambda: packaging.set_item_required(
                actor=admin, version_id=draft.pk, item_id=foreign_item.pk, required=False
            ),
        ),
        (InvalidInput, lambda: packaging.update_draft(actor=admin, version_id=draft.pk, name="")),
    ]
    for error, attempt in attempts:
        with pytest.raises(error):
            attempt()

    # The courses made for the attempts are not part of the comparison.
    assert versions_state() == before


EDITS_WITH_REVISION: dict[str, Callable[[Any, PackageVersion, PackageVersionItem, int], object]] = {
    "update_draft": lambda admin, v, i, r: packaging.update_draft(
        actor=admin, version_id=v.pk, name="X", expected_revision=r
    ),
    "add_item": lambda admin, v, i, r: packaging.add_item(
        actor=admin, version_id=v.pk, course_id=make_course(actor=admin).pk, expected_revision=r
    ),
    "remove_item": lambda admin, v, i, r: packaging.remove_item(
        actor=admin, version_id=v.pk, item_id=i.pk, expected_revision=r
    ),
    "move_item": lambda admin, v, i, r: packaging.move_item(
        actor=admin, version_id=v.pk, item_id=i.pk, position=2, expected_revision=r
    ),
    "set_item_required": lambda admin, v, i, r: packaging.set_item_required(
        actor=admin, version_id=v.pk, item_id=i.pk, required=False, expected_revision=r
    ),
    "publish_version": lambda admin, v, i, r: packaging.publish_version(
        actor=admin, version_id=v.pk, expected_revision=r
    ),
}


def test_every_draft_edit_refuses_a_stale_revision(admin: Any) -> None:
    """An edit made against an old revision raises StaleRevision saying to reload; nothing changes."""
    draft = make_draft_package(
        actor=admin, items=[make_course(actor=admin), make_course(actor=admin)]
    )
    item = draft.items.order_by("position").first()
    assert item is not None
    draft.refresh_from_db()
    stale = draft.revision - 1
    before = versions_state()

    for name, edit in EDITS_WITH_REVISION.items():
        with pytest.raises(StaleRevision) as exc:
            edit(admin, draft, item, stale)
        assert "Reload it" in exc.value.message, name

    assert versions_state() == before


def test_an_edit_with_the_current_revision_succeeds_and_returns_the_next(admin: Any) -> None:
    """Passing the revision just read works, and the draft's revision goes up by one."""
    draft = make_draft_package(actor=admin)
    draft.refresh_from_db()

    updated = packaging.update_draft(
        actor=admin, version_id=draft.pk, name="Y", expected_revision=draft.revision
    )

    assert updated.revision == draft.revision + 1
    with pytest.raises(StaleRevision):
        packaging.update_draft(
            actor=admin, version_id=draft.pk, name="Z", expected_revision=draft.revision
        )


# --- discard and delete ------------------------------------------------------------------


def test_discard_draft_removes_it_and_its_items(admin: Any) -> None:
    """The draft and its items are gone; the audit log keeps its last snapshot."""
    draft = make_draft_package(actor=admin)

    packaging.discard_draft(actor=admin, version_id=draft.pk, notes="Scrapped")

    assert not PackageVersion.objects.filter(pk=draft.pk).exists()
    assert not PackageVersionItem.objects.filter(version_id=draft.pk).exists()
    event = AuditEvent.objects.get(action="version.draft_discarded")
    assert event.before is not None and len(event.before["items"]) == 1


def test_a_never_published_package_can_be_deleted(admin: Any) -> None:
    """A package with only a draft is deleted with its draft and items."""
    draft = make_draft_package(actor=admin)

    packaging.delete_package(actor=admin, package_id=draft.package_id, notes="Test package")

    assert not Package.objects.filter(pk=draft.package_id).exists()
    assert not PackageVersion.objects.filter(pk=draft.pk).exists()
    assert AuditEvent.objects.filter(action="package.deleted", package_id=draft.package_id).exists()


def test_a_package_with_published_history_cannot_be_deleted(admin: Any) -> None:
    """PackageHasHistory says to retire it instead; nothing is deleted."""
    v1 = make_published_package(actor=admin)
    before = versions_state()

    with pytest.raises(PackageHasHistory) as exc:
        packaging.delete_package(actor=admin, package_id=v1.package_id)

    assert "retire it instead" in exc.value.message
    assert versions_state() == before


def test_a_package_with_enrollments_cannot_be_deleted(admin: Any) -> None:
    """PackageHasEnrollments says to retire it instead; nothing is deleted."""
    v1 = make_published_package(actor=admin)
    learning.enroll(actor=admin, learner_id=make_learner().pk, package_id=v1.package_id)
    before = versions_state()

    with pytest.raises(PackageHasEnrollments) as exc:
        packaging.delete_package(actor=admin, package_id=v1.package_id)

    assert "retire it instead" in exc.value.message
    assert versions_state() == before


def test_retire_and_reinstate_package_are_audited_and_idempotent(admin: Any) -> None:
    """Retiring twice writes one event; reinstating clears retired_at."""
    v1 = make_published_package(actor=admin)

    packaging.retire_package(actor=admin, package_id=v1.package_id, notes="Replaced")
    packaging.retire_package(actor=admin, package_id=v1.package_id)
    package = packaging.reinstate_package(actor=admin, package_id=v1.package_id)

    assert (package.status, package.retired_at) == ("active", None)
    assert list(
        AuditEvent.objects.filter(
            package_id=v1.package_id, action__startswith="package."
        ).values_list("action", flat=True)
    ) == ["package.created", "package.retired", "package.reinstated"]
