"""validate_tree(): every structural problem of a tree, at once."""

from __future__ import annotations

from hypothesis import given, settings

from coursepack.rules import (
    CourseRef,
    Group,
    GroupKind,
    Item,
    Problem,
    ProblemCode,
    RequirementTree,
    validate_tree,
)
from tests.rules.rules_strategies import trees

A = CourseRef(1, "A", "Course A")
B = CourseRef(2, "B", "Course B")
C = CourseRef(3, "C", "Course C")


def package(*items: Item) -> RequirementTree:
    return RequirementTree(package_id=1, version_id=1, version_number=1, name="Safety", items=items)


def group(group_id: int, kind: GroupKind, *items: Item, min_count: int | None = None) -> Group:
    return Group(group_id, group_id, 1, f"Group {group_id}", kind, min_count, items)


def codes(tree: RequirementTree) -> list[tuple[ProblemCode, tuple[int, ...]]]:
    return [(p.code, p.path) for p in validate_tree(tree)]


def test_a_sound_tree_has_no_problem() -> None:
    """Courses, a family, a series and a valid choice pass."""
    tree = package(
        Item(A),
        Item(group(1, GroupKind.FAMILY, Item(B), Item(C)), required=False),
        Item(group(2, GroupKind.SERIES, Item(A), Item(B))),
        Item(group(3, GroupKind.CHOICE, Item(A), Item(B, required=False), Item(C), min_count=2)),
    )

    assert validate_tree(tree) == []


def test_an_empty_package() -> None:
    """No items at all."""
    assert validate_tree(package()) == [
        Problem(ProblemCode.EMPTY_PACKAGE, "Safety has no items.", ())
    ]


def test_a_package_with_only_optional_items() -> None:
    """Nothing required means nobody could ever complete it."""
    assert codes(package(Item(A, required=False))) == [(ProblemCode.NO_REQUIRED_ITEM, ())]


def test_every_problem_is_listed_at_once() -> None:
    """Empty groups, bad choice counts and duplicates, each with its path."""
    tree = package(
        Item(A),
        Item(group(1, GroupKind.FAMILY)),
        Item(
            group(
                2,
                GroupKind.SERIES,
                Item(group(3, GroupKind.CHOICE, Item(A), Item(B), min_count=1)),
                Item(group(4, GroupKind.CHOICE, Item(A, required=False), min_count=3)),
                Item(group(5, GroupKind.CHOICE, Item(A, required=False), min_count=0)),
                Item(B),
                Item(B),
            )
        ),
        Item(A),
        Item(group(6, GroupKind.CHOICE)),
    )

    assert codes(tree) == [
        (ProblemCode.EMPTY_GROUP, (1,)),
        (ProblemCode.CHOICE_BELOW_REQUIRED, (2, 0)),
        (ProblemCode.CHOICE_ABOVE_ITEMS, (2, 1)),
        (ProblemCode.CHOICE_BELOW_ONE, (2, 2)),
        (ProblemCode.DUPLICATE_ITEM, (2, 4)),
        (ProblemCode.DUPLICATE_ITEM, (3,)),
        (ProblemCode.EMPTY_GROUP, (4,)),
    ]


def test_a_choice_can_break_several_rules_at_once() -> None:
    """min_count 0 with a required item is both below one and below the required count."""
    tree = package(Item(group(1, GroupKind.CHOICE, Item(A), Item(B, required=False), min_count=0)))

    assert codes(tree) == [
        (ProblemCode.CHOICE_BELOW_ONE, (0,)),
        (ProblemCode.CHOICE_BELOW_REQUIRED, (0,)),
    ]
    assert validate_tree(tree)[1].message == (
        "Group 1 asks for 0 items but marks 1 as required; it must ask for at least 1."
    )


def test_family_and_series_ignore_their_stored_count() -> None:
    """Only a choice's count is checked."""
    tree = package(
        Item(group(1, GroupKind.FAMILY, Item(A), min_count=7)),
        Item(group(2, GroupKind.SERIES, Item(B), min_count=0)),
    )

    assert validate_tree(tree) == []


def test_a_course_and_a_group_sharing_an_id_are_not_duplicates() -> None:
    """Identity includes the kind of node."""
    tree = package(Item(A), Item(group(1, GroupKind.FAMILY, Item(B))))

    assert validate_tree(tree) == []


@settings(max_examples=60, deadline=None)
@given(tree=trees())
def test_generated_valid_trees_pass(tree: RequirementTree) -> None:
    """The strategy used for the engine's properties only builds trees that pass."""
    assert validate_tree(tree) == []
