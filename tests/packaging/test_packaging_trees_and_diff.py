"""Pinned requirement trees and the diff between two versions of a package."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from coursepack import rules
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors
from coursepack.packaging.errors import VersionNotFound
from tests.factories import make_course, make_draft_package, make_group, make_published_package

pytestmark = pytest.mark.django_db


def _names(items: tuple[Any, ...]) -> list[str]:
    return [entry.item.node.name for entry in items]


@pytest.fixture
def demo(admin: Any) -> dict[str, Any]:
    """The seed's example: v1 with a language family, Password Security and optional GDPR."""
    c = {
        code: make_course(actor=admin, code=code, name=name)
        for code, name in [
            ("SEC-101-EN", "Essentials (English)"),
            ("SEC-101-ES", "Essentials (Spanish)"),
            ("SEC-101-FR", "Essentials (French)"),
            ("SEC-110", "Phishing Awareness"),
            ("SEC-120", "Password Security"),
            ("SEC-130", "Social Engineering Defense"),
            ("PRV-210", "GDPR Overview"),
        ]
    }
    language = make_group(
        actor=admin, kind="family", name="Language", items=[c["SEC-101-EN"], c["SEC-101-ES"]]
    )
    v1 = make_published_package(
        actor=admin,
        name="2024 Cybersecurity Training",
        items=[language, c["SEC-120"], (c["PRV-210"], False)],
    )
    return {"c": c, "language": language, "v1": v1}


def test_requirement_tree_pins_the_published_group_version(
    admin: Any, demo: dict[str, Any]
) -> None:
    """The tree of v1 holds the group version it was published with, items in order."""
    tree = selectors.requirement_tree(demo["v1"].pk)

    assert [item.node.name for item in tree.items] == [
        "Language",
        "Password Security",
        "GDPR Overview",
    ]
    assert [item.required for item in tree.items] == [True, True, False]
    group = tree.items[0].node
    assert isinstance(group, rules.Group)
    assert (group.version_id, group.kind) == (demo["language"].pk, rules.GroupKind.FAMILY)
    assert [i.node.name for i in group.items] == ["Essentials (English)", "Essentials (Spanish)"]


def test_diff_reports_added_items_and_a_required_change(admin: Any, demo: dict[str, Any]) -> None:
    """v1 → v2: Phishing added first, Social Engineering added optional, GDPR made required."""
    c, v1 = demo["c"], demo["v1"]
    v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    packaging.add_item(actor=admin, version_id=v2.pk, course_id=c["SEC-110"].pk, position=1)
    packaging.add_item(actor=admin, version_id=v2.pk, course_id=c["SEC-130"].pk, required=False)
    packaging.set_item_required(
        actor=admin, version_id=v2.pk, item_id=v2.items.get(course=c["PRV-210"]).pk, required=True
    )
    packaging.publish_version(actor=admin, version_id=v2.pk)

    diff = selectors.diff_versions(v1.pk, v2.pk)

    assert (diff.old_version_number, diff.new_version_number, diff.name) == (1, 2, None)
    assert _names(diff.items.added) == ["Phishing Awareness", "Social Engineering Defense"]
    assert [a.position for a in diff.items.added] == [0, 4]
    assert diff.items.removed == ()
    (gdpr,) = diff.items.modified
    assert gdpr.label == "GDPR Overview"
    assert gdpr.required == rules.Change(False, True)
    assert gdpr.moved is False and gdpr.group is None
    assert "~ GDPR Overview: optional → required" in diff.summary()


def test_diff_reports_a_removal_and_a_new_group_version_with_its_inner_change(
    admin: Any, demo: dict[str, Any]
) -> None:
    """v1 → v2: Password Security removed; Language re-pinned from v1 to v2, which adds French."""
    c, v1, language = demo["c"], demo["v1"], demo["language"]
    language_v2 = packaging.new_group_draft(actor=admin, group_id=language.group_id)
    packaging.add_group_item(
        actor=admin, group_version_id=language_v2.pk, course_id=c["SEC-101-FR"].pk
    )
    packaging.publish_group_version(actor=admin, group_version_id=language_v2.pk)
    v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    packaging.remove_item(
        actor=admin, version_id=v2.pk, item_id=v2.items.get(course=c["SEC-120"]).pk
    )
    packaging.use_latest_group_version(
        actor=admin, version_id=v2.pk, item_id=v2.items.get(group__isnull=False).pk
    )

    diff = selectors.diff_versions(v1.pk, v2.pk)

    assert _names(diff.items.removed) == ["Password Security"]
    assert diff.items.added == ()
    (changed,) = diff.items.modified
    assert changed.key == ("group", language.group_id)
    assert changed.group is not None
    assert changed.group.version_number == rules.Change(1, 2)
    assert _names(changed.group.items.added) == ["Essentials (French)"]
    assert changed.group.kind is None and changed.group.items.removed == ()


def test_diff_reports_a_changed_choice_rule_and_a_move(admin: Any) -> None:
    """A choice asking for 2 instead of 1, and two items swapped, are both reported."""
    a, b, x = make_course(actor=admin), make_course(actor=admin), make_course(actor=admin)
    choice = make_group(actor=admin, kind="choice", min_count=1, name="Pick", items=[a, b])
    v1 = make_published_package(actor=admin, items=[choice, x])
    choice_v2 = packaging.new_group_draft(actor=admin, group_id=choice.group_id)
    packaging.update_group_draft(actor=admin, group_version_id=choice_v2.pk, min_count=2)
    packaging.publish_group_version(actor=admin, group_version_id=choice_v2.pk)
    v2 = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    group_item = v2.items.get(group__isnull=False)
    packaging.use_latest_group_version(actor=admin, version_id=v2.pk, item_id=group_item.pk)
    packaging.move_item(actor=admin, version_id=v2.pk, item_id=group_item.pk, position=2)

    diff = selectors.diff_versions(v1.pk, v2.pk)

    moved = [m for m in diff.items.modified if m.moved]
    assert len(moved) == 1
    (group_change,) = [m for m in diff.items.modified if m.group is not None]
    assert group_change.group is not None
    assert group_change.group.min_count == rules.Change(1, 2)


def test_diff_of_a_version_with_itself_or_its_unchanged_copy_is_empty(
    admin: Any, demo: dict[str, Any]
) -> None:
    """Comparing v1 to v1, or to a fresh draft copy of it, finds nothing."""
    v1 = demo["v1"]
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)

    assert selectors.diff_versions(v1.pk, v1.pk).is_empty
    assert selectors.diff_versions(v1.pk, draft.pk).is_empty
    packaging.update_draft(actor=admin, version_id=draft.pk, name="Renamed")
    renamed = selectors.diff_versions(v1.pk, draft.pk)
    assert renamed.name == rules.Change("2024 Cybersecurity Training", "Renamed")


def test_diff_across_packages_is_refused(admin: Any, demo: dict[str, Any]) -> None:
    """Two versions of different packages cannot be compared: VersionNotFound says so."""
    other = make_draft_package(actor=admin)

    with pytest.raises(VersionNotFound) as exc:
        selectors.diff_versions(demo["v1"].pk, other.pk)

    assert "same package" in exc.value.message


# --- the tree cache ---------------------------------------------------------------------------


class _Abort(Exception):
    pass


def test_a_tree_read_in_a_rolled_back_publish_is_not_remembered(admin: Any) -> None:
    """A publish that rolls back leaves a draft: its tree, and its validation, follow later edits."""
    course = make_course(actor=admin)
    draft = make_draft_package(actor=admin, items=[course])

    with pytest.raises(_Abort), transaction.atomic():
        packaging.publish_version(actor=admin, version_id=draft.pk)
        assert selectors.requirement_tree(draft.pk).items[0].required is True
        raise _Abort
    packaging.set_item_required(
        actor=admin, version_id=draft.pk, item_id=draft.items.get().pk, required=False
    )

    assert selectors.requirement_tree(draft.pk).items[0].required is False
    assert packaging.publish_problems(draft.pk) != []
