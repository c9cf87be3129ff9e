"""diff(): what changed between two package versions, matched by identity at each level."""

from __future__ import annotations

from hypothesis import given, settings

from coursepack.rules import (
    AddedItem,
    Change,
    CourseRef,
    Group,
    GroupKind,
    Item,
    RemovedItem,
    RequirementTree,
    VersionDiff,
    diff,
)
from tests.rules.rules_strategies import trees

PHISHING = CourseRef(1, "SEC-101", "Phishing Awareness")
PASSWORDS = CourseRef(2, "SEC-102", "Password Security")
DATA_PROTECTION = CourseRef(3, "SEC-103", "Data Protection Basics")
GDPR = CourseRef(4, "SEC-104", "GDPR Overview")
ENGLISH = CourseRef(5, "SEC-200-EN", "Cyber English")
SPANISH = CourseRef(6, "SEC-200-ES", "Cyber Spanish")
FRENCH = CourseRef(7, "SEC-200-FR", "Cyber French")


def package(
    version: int, *items: Item, name: str = "2024 Cybersecurity Training"
) -> RequirementTree:
    return RequirementTree(
        package_id=1, version_id=version, version_number=version, name=name, items=items
    )


def language(version: int, *courses: CourseRef, kind: GroupKind = GroupKind.FAMILY) -> Group:
    return Group(
        group_id=10,
        version_id=100 + version,
        version_number=version,
        name="Language Choice",
        kind=kind,
        min_count=None,
        items=tuple(Item(c) for c in courses),
    )


def test_the_seed_comparison_view() -> None:
    """v1 → v2: a course added, a course made required, a group taken at a new version."""
    v1 = package(
        1,
        Item(PASSWORDS),
        Item(GDPR, required=False),
        Item(language(1, ENGLISH, SPANISH)),
    )
    v2 = package(
        2,
        Item(PHISHING),
        Item(PASSWORDS),
        Item(GDPR),
        Item(language(2, ENGLISH, SPANISH, FRENCH)),
    )

    result = diff(v1, v2)

    assert not result.is_empty
    assert result.name is None
    assert result.items.added == (AddedItem(0, Item(PHISHING)),)
    assert result.items.removed == ()
    gdpr, group = result.items.modified
    assert gdpr.required == Change(False, True)
    assert not gdpr.moved
    assert (gdpr.old_position, gdpr.new_position) == (1, 2)
    assert group.group is not None
    assert group.group.version_number == Change(1, 2)
    assert group.group.items.added == (AddedItem(2, Item(FRENCH)),)
    assert result.summary() == [
        "+ Phishing Awareness (course, required)",
        "~ GDPR Overview: optional → required",
        "~ Language Choice: group v1 → v2; inside: + Cyber French",
    ]


def test_only_items_whose_relative_order_changed_are_moved() -> None:
    """Swapping two items moves one of them, not every shifted index."""
    old = package(1, Item(PHISHING), Item(PASSWORDS), Item(DATA_PROTECTION), Item(GDPR))
    new = package(2, Item(PASSWORDS), Item(DATA_PROTECTION), Item(GDPR), Item(PHISHING))

    result = diff(old, new)

    assert [m.label for m in result.items.modified] == ["Phishing Awareness"]
    assert result.summary() == ["~ Phishing Awareness: moved from position 1 to 4"]


def test_an_insertion_does_not_move_what_follows() -> None:
    """Items after an added one keep their relative order: no move is reported."""
    old = package(1, Item(PASSWORDS), Item(GDPR))
    new = package(2, Item(PHISHING), Item(PASSWORDS), Item(GDPR))

    assert diff(old, new).items.modified == ()


def test_removed_items_and_name_changes() -> None:
    """Removal keeps the old position; a renamed package is reported first."""
    old = package(1, Item(PHISHING), Item(GDPR, required=False), name="2023 Cyber")
    new = package(2, Item(PHISHING), name="2024 Cyber")

    result = diff(old, new)

    assert result.name == Change("2023 Cyber", "2024 Cyber")
    assert result.items.removed == (RemovedItem(1, Item(GDPR, required=False)),)
    assert result.summary() == [
        "~ Name: 2023 Cyber → 2024 Cyber",
        "- GDPR Overview (course, optional)",
    ]


def test_group_kind_count_and_name_changes() -> None:
    """A group's rule changes are reported; a family counts as 1 and a series as all."""
    old_group = language(1, ENGLISH, SPANISH)
    new_group = Group(
        group_id=10,
        version_id=102,
        version_number=2,
        name="Languages",
        kind=GroupKind.CHOICE,
        min_count=2,
        items=(Item(SPANISH), Item(ENGLISH)),
    )

    result = diff(package(1, Item(old_group)), package(2, Item(new_group)))

    assert result.summary() == [
        "~ Languages: renamed from Language Choice; group v1 → v2; family → choice; "
        "complete 1 → 2 items; inside: ~ Cyber English: moved from position 1 to 2"
    ]


def test_same_group_version_with_nothing_changed_is_not_modified() -> None:
    """A family that only changes its ignored stored count is not a change."""
    old_group = language(1, ENGLISH, SPANISH)
    new_group = Group(10, 101, 1, "Language Choice", GroupKind.FAMILY, 1, old_group.items)

    assert diff(package(1, Item(old_group)), package(2, Item(new_group))).is_empty


def test_a_course_and_a_group_with_the_same_id_are_different_items() -> None:
    """Identity includes the kind of node."""
    course = CourseRef(10, "X", "Course Ten")
    group = language(1, ENGLISH)

    result = diff(package(1, Item(course)), package(2, Item(group)))

    assert [a.item for a in result.items.added] == [Item(group)]
    assert [r.item for r in result.items.removed] == [Item(course)]


@settings(max_examples=60, deadline=None)
@given(tree=trees(valid=False))
def test_a_tree_has_no_difference_with_itself(tree: RequirementTree) -> None:
    """diff(t, t) is empty."""
    result = diff(tree, tree)
    assert result.is_empty
    assert result.summary() == []


@settings(max_examples=60, deadline=None)
@given(old=trees(valid=False), new=trees(valid=False))
def test_diffing_backwards_swaps_added_and_removed(
    old: RequirementTree, new: RequirementTree
) -> None:
    """What diff(a, b) adds, diff(b, a) removes, at the same positions, and vice versa."""
    forward, backward = diff(old, new), diff(new, old)

    assert [(a.position, a.item) for a in forward.items.added] == [
        (r.position, r.item) for r in backward.items.removed
    ]
    assert [(r.position, r.item) for r in forward.items.removed] == [
        (a.position, a.item) for a in backward.items.added
    ]
    assert _changed_in_place(forward) == _changed_in_place(backward)
    # Which item of a swapped pair counts as moved is arbitrary; how many is not.
    assert sum(m.moved for m in forward.items.modified) == sum(
        m.moved for m in backward.items.modified
    )
    assert forward.is_empty == backward.is_empty


def _changed_in_place(result: VersionDiff) -> set[object]:
    return {m.key for m in result.items.modified if m.required or m.group}


@settings(max_examples=60, deadline=None)
@given(old=trees(valid=False), new=trees(valid=False))
def test_an_empty_diff_means_equal_content(old: RequirementTree, new: RequirementTree) -> None:
    """If nothing is reported, the two trees have the same name and items up to ignored fields."""
    if diff(old, new).is_empty:
        assert old.name == new.name
        assert [_shape(i) for i in old.items] == [_shape(i) for i in new.items]


def _shape(item: Item) -> object:
    node = item.node
    if isinstance(node, CourseRef):
        return ("course", node.course_id, item.required)
    asks = (
        1
        if node.kind == GroupKind.FAMILY
        else None
        if node.kind == GroupKind.SERIES
        else node.min_count
    )
    return (
        "group",
        node.group_id,
        node.version_number,
        node.name,
        node.kind,
        asks,
        item.required,
        [_shape(i) for i in node.items],
    )
