"""Publish validation: a version that cannot be completed or is ambiguous is refused,
with every problem listed at once, and nothing is changed."""

from __future__ import annotations

from typing import Any

import pytest
from packaging_helpers import versions_state

from coursepack.catalog import api as catalog
from coursepack.packaging import api as packaging
from coursepack.packaging.errors import PublishValidationFailed
from coursepack.packaging.models import PackageVersion
from tests.factories import make_course, make_draft_package, make_group

pytestmark = pytest.mark.django_db


def _refused(admin: Any, draft: PackageVersion) -> list[str]:
    """Try to publish; assert it is refused without any change; return the problems."""
    before = versions_state()
    with pytest.raises(PublishValidationFailed) as exc:
        packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="Try")
    assert versions_state() == before
    assert "cannot be published until these are fixed" in exc.value.message
    assert exc.value.problems == packaging.publish_problems(draft.pk)
    return exc.value.problems


def test_an_empty_package_is_refused(admin: Any) -> None:
    """A draft with no items: "has no items"."""
    draft = make_draft_package(actor=admin, items=[], name="Empty")

    assert _refused(admin, draft) == ["Empty has no items."]


def test_a_package_without_a_required_item_is_refused(admin: Any) -> None:
    """Only optional items: nobody could ever complete it."""
    draft = make_draft_package(
        actor=admin, name="Optional", items=[(make_course(actor=admin), False)]
    )

    assert _refused(admin, draft) == [
        "Optional has no required item, so no one could ever complete it."
    ]


def test_a_choice_asking_for_fewer_than_its_required_items_is_refused(admin: Any) -> None:
    """X = 1 with two required items: unsatisfiable as specified (and the group is a draft)."""
    group = make_group(
        actor=admin,
        kind="choice",
        min_count=1,
        name="Electives",
        publish=False,
        items=[(make_course(actor=admin), True), (make_course(actor=admin), True)],
    )
    draft = make_draft_package(actor=admin, items=[group])

    problems = _refused(admin, draft)

    assert (
        "Electives asks for 1 items but marks 2 as required; it must ask for at least 2."
        in problems
    )
    assert any("'Electives' is an unpublished draft" in p for p in problems)


def test_a_choice_asking_for_more_than_its_items_is_refused(admin: Any) -> None:
    """X = 3 of 2 items can never be met."""
    group = make_group(
        actor=admin,
        kind="choice",
        min_count=3,
        name="Electives",
        publish=False,
        items=[make_course(actor=admin), make_course(actor=admin)],
    )
    draft = make_draft_package(actor=admin, items=[group])

    assert "Electives asks for 3 items but has only 2." in _refused(admin, draft)


def test_an_empty_group_is_refused(admin: Any) -> None:
    """A group with no items cannot be completed."""
    group = make_group(actor=admin, name="Nothing", publish=False)
    draft = make_draft_package(actor=admin, items=[group])

    assert "Nothing has no items." in _refused(admin, draft)


def test_an_unpublished_group_is_refused(admin: Any) -> None:
    """A package may only pin published group versions: publish the group first."""
    group = make_group(actor=admin, name="Drafty", items=[make_course(actor=admin)], publish=False)
    draft = make_draft_package(actor=admin, items=[group])

    assert _refused(admin, draft) == [
        "Group 'Drafty' is an unpublished draft (v1); publish the group first."
    ]


def test_publishing_the_group_lets_the_package_publish(admin: Any) -> None:
    """Once the pinned group draft is published, the same package draft publishes."""
    group = make_group(actor=admin, items=[make_course(actor=admin)], publish=False)
    draft = make_draft_package(actor=admin, items=[group])
    _refused(admin, draft)

    packaging.publish_group_version(actor=admin, group_version_id=group.pk)
    packaging.publish_version(actor=admin, version_id=draft.pk)

    assert PackageVersion.objects.get(pk=draft.pk).status == "published"


def test_a_retired_course_is_refused(admin: Any) -> None:
    """A course retired after it was added blocks the publish: remove or reactivate it."""
    course = make_course(actor=admin, code="OLD-1", name="Old Course")
    draft = make_draft_package(actor=admin, items=[course])
    catalog.retire_course(actor=admin, course_id=course.pk)

    assert _refused(admin, draft) == [
        "Course OLD-1 (Old Course) is retired; remove it or reactivate it."
    ]


def test_a_retired_course_inside_a_pinned_published_group_is_refused(admin: Any) -> None:
    """Retired courses are found at any depth, also inside published group versions."""
    course = make_course(actor=admin, code="OLD-2")
    inner = make_group(actor=admin, items=[course, make_course(actor=admin)])
    outer = make_group(actor=admin, kind="choice", min_count=1, items=[inner])
    draft = make_draft_package(actor=admin, items=[outer])
    catalog.retire_course(actor=admin, course_id=course.pk)

    problems = _refused(admin, draft)

    assert len(problems) == 1 and problems[0].startswith("Course OLD-2 ")


def test_a_new_group_version_without_the_retired_course_fixes_the_draft(admin: Any) -> None:
    """Publish a group v2 without the retired course and re-pin it: the package publishes."""
    course = make_course(actor=admin)
    group = make_group(actor=admin, items=[course, make_course(actor=admin)])
    draft = make_draft_package(actor=admin, items=[group])
    catalog.retire_course(actor=admin, course_id=course.pk)
    _refused(admin, draft)

    group_v2 = packaging.new_group_draft(actor=admin, group_id=group.group_id)
    packaging.remove_group_item(
        actor=admin, group_version_id=group_v2.pk, item_id=group_v2.items.get(course=course).pk
    )
    packaging.publish_group_version(actor=admin, group_version_id=group_v2.pk)
    packaging.use_latest_group_version(
        actor=admin, version_id=draft.pk, item_id=draft.items.get().pk
    )
    packaging.publish_version(actor=admin, version_id=draft.pk)

    assert draft.items.get().group_version_id == group_v2.pk
    assert PackageVersion.objects.get(pk=draft.pk).status == "published"


def test_every_problem_is_listed_at_once(admin: Any) -> None:
    """Four different problems come back together in one PublishValidationFailed."""
    retired = make_course(actor=admin, code="OLD-3")
    group = make_group(
        actor=admin,
        kind="choice",
        min_count=3,
        name="Electives",
        publish=False,
        items=[make_course(actor=admin), make_course(actor=admin)],
    )
    empty = make_group(actor=admin, name="Hollow", publish=False)
    draft = make_draft_package(
        actor=admin, name="Broken", items=[(retired, False), (group, False), (empty, False)]
    )
    catalog.retire_course(actor=admin, course_id=retired.pk)

    problems = _refused(admin, draft)

    assert "Broken has no required item, so no one could ever complete it." in problems
    assert "Electives asks for 3 items but has only 2." in problems
    assert "Hollow has no items." in problems
    assert any(p.startswith("Course OLD-3 ") for p in problems)
    assert sum("unpublished draft" in p for p in problems) == 2
    assert len(problems) == 6
