"""Reusable, versioned course groups: rules, nesting, cycles, publishing, new drafts."""

from __future__ import annotations

from typing import Any

import pytest

from coursepack.audit.models import AuditEvent
from coursepack.catalog import api as catalog
from coursepack.errors import InvalidInput
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors
from coursepack.packaging.errors import (
    DraftAlreadyExists,
    DuplicateItem,
    GroupCycle,
    GroupDraftInUse,
    PublishValidationFailed,
    StaleRevision,
    VersionNotDraft,
)
from coursepack.packaging.models import CourseGroup, CourseGroupItem, CourseGroupVersion
from tests.factories import make_course, make_draft_package, make_group

pytestmark = pytest.mark.django_db


def _group_state() -> list[tuple[Any, ...]]:
    versions = list(
        CourseGroupVersion.objects.order_by("pk").values_list(
            "pk", "group_id", "version_number", "name", "kind", "min_count", "status", "revision"
        )
    )
    items = list(
        CourseGroupItem.objects.order_by("pk").values_list(
            "pk", "group_version_id", "position", "course_id", "child_version_id", "required"
        )
    )
    return [*versions, *items]


# --- creating groups of each kind -------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "min_count"), [("family", None), ("series", None), ("choice", 2), ("choice", None)]
)
def test_create_group_makes_draft_version_1_of_each_kind(
    admin: Any, kind: str, min_count: int | None
) -> None:
    """A new group is a draft v1 of the given kind; a choice keeps its X (None means all)."""
    gv = packaging.create_group(actor=admin, name=" Electives ", kind=kind, min_count=min_count)

    gv.refresh_from_db()
    assert (gv.version_number, gv.status, gv.kind, gv.min_count, gv.name) == (
        1,
        "draft",
        kind,
        min_count,
        "Electives",
    )
    assert CourseGroup.objects.filter(pk=gv.group_id).exists()
    assert AuditEvent.objects.filter(action="group.created", target_id=str(gv.pk)).exists()


@pytest.mark.parametrize("kind", ["family", "series"])
def test_min_count_is_refused_for_family_and_series(admin: Any, kind: str) -> None:
    """Only a choice takes an X: a family or series with min_count is InvalidInput."""
    with pytest.raises(InvalidInput) as exc:
        packaging.create_group(actor=admin, name="G", kind=kind, min_count=1)

    assert [p.split(":")[0] for p in exc.value.problems] == ["min_count"]
    assert "only to choice" in exc.value.problems[0]
    assert not CourseGroup.objects.exists()


def test_create_group_lists_every_problem_at_once(admin: Any) -> None:
    """An empty name, an unknown kind and a zero X are reported together."""
    with pytest.raises(InvalidInput) as exc:
        packaging.create_group(actor=admin, name="", kind="bogus", min_count=0)

    assert sorted(p.split(":")[0] for p in exc.value.problems) == ["kind", "min_count", "name"]
    assert not CourseGroup.objects.exists()


def test_switching_a_choice_draft_to_series_drops_its_x(admin: Any) -> None:
    """update_group_draft(kind="series") clears min_count; setting one on a family is refused."""
    gv = packaging.create_group(actor=admin, name="G", kind="choice", min_count=2)

    gv = packaging.update_group_draft(actor=admin, group_version_id=gv.pk, kind="series")
    assert (gv.kind, gv.min_count) == ("series", None)

    with pytest.raises(InvalidInput):
        packaging.update_group_draft(
            actor=admin, group_version_id=gv.pk, kind="family", min_count=2
        )
    gv.refresh_from_db()
    assert (gv.kind, gv.min_count) == ("series", None)


# --- items -------------------------------------------------------------------------


def test_group_items_are_ordered_and_may_be_inserted_moved_and_removed(admin: Any) -> None:
    """Items keep positions 1..n through insertion, moves and removal."""
    a, b, c = (make_course(actor=admin) for _ in range(3))
    gv = make_group(actor=admin, kind="series", items=[a, b], publish=False)

    item_c = packaging.add_group_item(
        actor=admin, group_version_id=gv.pk, course_id=c.pk, position=1
    )
    assert [i.course_id for i in gv.items.order_by("position")] == [c.pk, a.pk, b.pk]
    packaging.move_group_item(actor=admin, group_version_id=gv.pk, item_id=item_c.pk, position=3)
    assert [i.course_id for i in gv.items.order_by("position")] == [a.pk, b.pk, c.pk]
    packaging.remove_group_item(
        actor=admin, group_version_id=gv.pk, item_id=gv.items.get(course=a).pk
    )

    assert list(gv.items.order_by("position").values_list("position", "course_id")) == [
        (1, b.pk),
        (2, c.pk),
    ]


def test_a_course_cannot_be_in_a_group_twice(admin: Any) -> None:
    """Adding the same course again raises DuplicateItem and adds nothing."""
    course = make_course(actor=admin)
    gv = make_group(actor=admin, items=[course], publish=False)
    before = _group_state()

    with pytest.raises(DuplicateItem):
        packaging.add_group_item(actor=admin, group_version_id=gv.pk, course_id=course.pk)

    assert _group_state() == before


def test_a_group_cannot_be_in_a_group_twice(admin: Any) -> None:
    """Adding the same child group again raises DuplicateItem."""
    child = make_group(actor=admin, items=[make_course(actor=admin)])
    parent = make_group(actor=admin, kind="choice", min_count=1, items=[child], publish=False)
    before = _group_state()

    with pytest.raises(DuplicateItem):
        packaging.add_group_item(actor=admin, group_version_id=parent.pk, group_id=child.group_id)

    assert _group_state() == before


def test_a_nested_group_is_pinned_at_its_newest_published_version(admin: Any) -> None:
    """A child group is pinned at its published version even when it has a newer draft."""
    child = make_group(actor=admin, items=[make_course(actor=admin)])
    packaging.new_group_draft(actor=admin, group_id=child.group_id)
    parent = packaging.create_group(actor=admin, name="Parent", kind="choice", min_count=1)

    item = packaging.add_group_item(
        actor=admin, group_version_id=parent.pk, group_id=child.group_id
    )

    assert item.child_version_id == child.pk


def test_set_group_item_required_flags_the_item(admin: Any) -> None:
    """A choice draft's item can be flagged required and back."""
    course = make_course(actor=admin)
    gv = make_group(actor=admin, kind="choice", min_count=1, items=[course], publish=False)
    item = gv.items.get()

    packaging.set_group_item_required(
        actor=admin, group_version_id=gv.pk, item_id=item.pk, required=True
    )
    item.refresh_from_db()
    assert item.required is True


def test_a_stale_revision_is_refused_for_group_drafts(admin: Any) -> None:
    """An edit made against an old revision raises StaleRevision and changes nothing."""
    gv = make_group(actor=admin, items=[make_course(actor=admin)], publish=False)
    old_revision = gv.revision - 1
    before = _group_state()

    with pytest.raises(StaleRevision):
        packaging.add_group_item(
            actor=admin,
            group_version_id=gv.pk,
            course_id=make_course(actor=admin).pk,
            expected_revision=old_revision,
        )
    with pytest.raises(StaleRevision):
        packaging.update_group_draft(
            actor=admin, group_version_id=gv.pk, name="X", expected_revision=old_revision
        )

    assert _group_state() == before


# --- cycles --------------------------------------------------------------------------


def test_a_group_cannot_contain_itself(admin: Any) -> None:
    """Adding a group to its own draft raises GroupCycle."""
    gv = make_group(actor=admin, items=[make_course(actor=admin)], publish=False)
    before = _group_state()

    with pytest.raises(GroupCycle) as exc:
        packaging.add_group_item(actor=admin, group_version_id=gv.pk, group_id=gv.group_id)

    assert "cannot contain itself" in exc.value.message
    assert _group_state() == before


def test_a_group_cannot_contain_a_group_that_contains_it(admin: Any) -> None:
    """A in B, then B into a new draft of A: GroupCycle."""
    a = make_group(actor=admin, items=[make_course(actor=admin)])
    b = make_group(actor=admin, kind="choice", min_count=1, items=[a])
    a_draft = packaging.new_group_draft(actor=admin, group_id=a.group_id)
    before = _group_state()

    with pytest.raises(GroupCycle):
        packaging.add_group_item(actor=admin, group_version_id=a_draft.pk, group_id=b.group_id)

    assert _group_state() == before


def test_a_cycle_through_drafts_is_refused_too(admin: Any) -> None:
    """A draft inside B's draft, then B into A's draft: GroupCycle, nothing published needed."""
    a = make_group(actor=admin, items=[make_course(actor=admin)], publish=False)
    b = make_group(actor=admin, kind="choice", min_count=1, items=[a], publish=False)

    with pytest.raises(GroupCycle):
        packaging.add_group_item(actor=admin, group_version_id=a.pk, group_id=b.group_id)


def test_a_deeper_cycle_is_refused(admin: Any) -> None:
    """A in B in C in D, then D into a new draft of A: GroupCycle."""
    a = make_group(actor=admin, items=[make_course(actor=admin)])
    b = make_group(actor=admin, kind="choice", min_count=1, items=[a])
    c = make_group(actor=admin, kind="choice", min_count=1, items=[b, make_course(actor=admin)])
    d = make_group(actor=admin, kind="series", items=[c])
    a_draft = packaging.new_group_draft(actor=admin, group_id=a.group_id)

    with pytest.raises(GroupCycle):
        packaging.add_group_item(actor=admin, group_version_id=a_draft.pk, group_id=d.group_id)
    # An unrelated group at depth is fine.
    other = make_group(actor=admin, items=[make_course(actor=admin)])
    packaging.add_group_item(actor=admin, group_version_id=a_draft.pk, group_id=other.group_id)
    assert a_draft.items.count() == 2


# --- publishing groups -------------------------------------------------------------


def test_publish_group_version_freezes_it_and_records_the_notes(admin: Any) -> None:
    """A published group version has a status, a timestamp, the publisher and the notes."""
    gv = make_group(actor=admin, items=[make_course(actor=admin)], publish=False)

    published = packaging.publish_group_version(
        actor=admin, group_version_id=gv.pk, change_notes="First rule"
    )

    published.refresh_from_db()
    assert (published.status, published.published_by, published.change_notes) == (
        "published",
        admin,
        "First rule",
    )
    assert published.published_at is not None
    event = AuditEvent.objects.get(action="group.published", target_id=str(gv.pk))
    assert event.notes == "First rule"


@pytest.mark.parametrize(
    ("kind", "min_count", "required", "count", "expected"),
    [
        ("family", None, [], 0, "has no items"),
        ("choice", 1, [True, True], 2, "asks for 1 items but marks 2 as required"),
        ("choice", 3, [False, False], 2, "asks for 3 items but has only 2"),
    ],
)
def test_publish_group_refuses_a_rule_that_cannot_be_satisfied(
    admin: Any, kind: str, min_count: int | None, required: list[bool], count: int, expected: str
) -> None:
    """An empty group, X below the required items and X above the items are each refused."""
    courses = [make_course(actor=admin) for _ in range(count)]
    gv = make_group(
        actor=admin,
        kind=kind,
        min_count=min_count,
        items=list(zip(courses, required, strict=True)),
        publish=False,
    )
    before = _group_state()

    with pytest.raises(PublishValidationFailed) as exc:
        packaging.publish_group_version(actor=admin, group_version_id=gv.pk)

    assert any(expected in p for p in exc.value.problems), exc.value.problems
    assert _group_state() == before


def test_publish_group_refuses_a_retired_course_and_a_draft_child(admin: Any) -> None:
    """A retired course and an unpublished child group are both listed."""
    course = make_course(actor=admin)
    child = make_group(actor=admin, name="Child", items=[make_course(actor=admin)], publish=False)
    gv = make_group(actor=admin, kind="choice", min_count=1, items=[course, child], publish=False)
    catalog.retire_course(actor=admin, course_id=course.pk)

    with pytest.raises(PublishValidationFailed) as exc:
        packaging.publish_group_version(actor=admin, group_version_id=gv.pk)

    assert len(exc.value.problems) == 2
    assert any(course.code in p and "retired" in p for p in exc.value.problems)
    assert any("'Child'" in p and "unpublished draft" in p for p in exc.value.problems)


# --- new drafts and immutability -------------------------------------------------------


def test_new_group_draft_copies_the_published_version(admin: Any) -> None:
    """The new draft is v(n+1) with the same rule and items, pinned children included."""
    child = make_group(actor=admin, items=[make_course(actor=admin)])
    course = make_course(actor=admin)
    v1 = make_group(
        actor=admin, kind="choice", min_count=1, items=[(course, True), child], name="Tracks"
    )

    v2 = packaging.new_group_draft(actor=admin, group_id=v1.group_id)

    assert (v2.version_number, v2.status, v2.kind, v2.min_count, v2.name) == (
        2,
        "draft",
        "choice",
        1,
        "Tracks",
    )
    copy = list(
        v2.items.order_by("position").values_list(
            "position", "course_id", "child_group_id", "child_version_id", "required"
        )
    )
    original = list(
        v1.items.order_by("position").values_list(
            "position", "course_id", "child_group_id", "child_version_id", "required"
        )
    )
    assert copy == original


def test_a_group_has_at_most_one_draft(admin: Any) -> None:
    """A second new_group_draft raises DraftAlreadyExists."""
    v1 = make_group(actor=admin, items=[make_course(actor=admin)])
    packaging.new_group_draft(actor=admin, group_id=v1.group_id)

    with pytest.raises(DraftAlreadyExists):
        packaging.new_group_draft(actor=admin, group_id=v1.group_id)


def test_editing_a_newer_group_draft_never_changes_the_published_version(admin: Any) -> None:
    """Changing v2 leaves v1 (and the trees pinned to it) exactly as published."""
    a, b = make_course(actor=admin), make_course(actor=admin)
    v1 = make_group(actor=admin, items=[a])
    tree_before = selectors.group_tree(v1.pk)
    v2 = packaging.new_group_draft(actor=admin, group_id=v1.group_id)

    packaging.add_group_item(actor=admin, group_version_id=v2.pk, course_id=b.pk)
    packaging.update_group_draft(actor=admin, group_version_id=v2.pk, name="Renamed")

    assert selectors.group_tree(v1.pk) == tree_before


def test_a_published_group_version_cannot_be_changed_through_the_services(admin: Any) -> None:
    """Every edit of a published group version raises VersionNotDraft; nothing changes."""
    course = make_course(actor=admin)
    gv = make_group(actor=admin, kind="choice", min_count=1, items=[course])
    item = gv.items.get()
    other = make_course(actor=admin)
    before = _group_state()

    attempts = [
        lambda: packaging.update_group_draft(actor=admin, group_version_id=gv.pk, name="X"),
        lambda: packaging.add_group_item(actor=admin, group_version_id=gv.pk, course_id=other.pk),
        lambda: packaging.remove_group_item(actor=admin, group_version_id=gv.pk, item_id=item.pk),
        lambda: packaging.move_group_item(
            actor=admin, group_version_id=gv.pk, item_id=item.pk, position=1
        ),
        lambda: packaging.set_group_item_required(
            actor=admin, group_version_id=gv.pk, item_id=item.pk, required=True
        ),
        lambda: packaging.publish_group_version(actor=admin, group_version_id=gv.pk),
        lambda: packaging.discard_group_draft(actor=admin, group_version_id=gv.pk),
    ]
    for attempt in attempts:
        with pytest.raises(VersionNotDraft):
            attempt()

    assert _group_state() == before


def test_the_edit_refusal_says_to_create_a_new_group_draft(admin: Any) -> None:
    """The refusal tells the admin what to do instead."""
    gv = make_group(actor=admin, items=[make_course(actor=admin)])

    with pytest.raises(VersionNotDraft) as exc:
        packaging.update_group_draft(actor=admin, group_version_id=gv.pk, name="X")

    assert "Create a new group draft" in exc.value.message


def test_a_group_draft_used_by_a_package_draft_cannot_be_discarded(admin: Any) -> None:
    """discard_group_draft refuses while a package draft pins the draft; then it works."""
    gv = make_group(actor=admin, items=[make_course(actor=admin)], publish=False)
    draft = make_draft_package(actor=admin, items=[gv])

    with pytest.raises(GroupDraftInUse):
        packaging.discard_group_draft(actor=admin, group_version_id=gv.pk)

    packaging.remove_item(actor=admin, version_id=draft.pk, item_id=draft.items.get().pk)
    packaging.discard_group_draft(actor=admin, group_version_id=gv.pk)
    assert not CourseGroup.objects.filter(pk=gv.group_id).exists()
