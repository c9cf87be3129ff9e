"""Structural checks of a requirement tree, before it is published.

Only what the tree itself shows is checked here; whether its courses are retired
or its groups published is for the Django side, which knows the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from coursepack.rules.diff import ItemKey, item_key
from coursepack.rules.tree import Group, GroupKind, Item, RequirementTree


class ProblemCode(StrEnum):
    """What is wrong with a tree; stable, so callers can map codes to fields or HTTP errors."""

    # The package has no items at all.
    EMPTY_PACKAGE = "empty_package"
    # The package has items but none is required, so it could never be completed.
    NO_REQUIRED_ITEM = "no_required_item"
    # A group has no items.
    EMPTY_GROUP = "empty_group"
    # A choice asks for fewer items than it marks required.
    CHOICE_BELOW_REQUIRED = "choice_min_count_below_required"
    # A choice asks for more items than it has.
    CHOICE_ABOVE_ITEMS = "choice_min_count_above_items"
    # A choice asks for fewer than one item.
    CHOICE_BELOW_ONE = "choice_min_count_below_one"
    # The same course or group appears twice in one list of items.
    DUPLICATE_ITEM = "duplicate_item"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a tree, at ``path`` (``()`` is the package itself).

    ``code`` is stable and machine-readable; ``message`` tells an admin what to fix.
    """

    code: ProblemCode
    message: str
    path: tuple[int, ...]


def validate_tree(tree: RequirementTree) -> list[Problem]:
    """Return every structural problem of ``tree`` at once, in tree order; empty if none."""
    problems: list[Problem] = []
    if not tree.items:
        problems.append(Problem(ProblemCode.EMPTY_PACKAGE, f"{tree.name} has no items.", ()))
    elif not any(item.required for item in tree.items):
        problems.append(
            Problem(
                ProblemCode.NO_REQUIRED_ITEM,
                f"{tree.name} has no required item, so no one could ever complete it.",
                (),
            )
        )
    _check_items(tree.name, tree.items, (), problems)
    return problems


def _check_items(
    owner: str, items: tuple[Item, ...], path: tuple[int, ...], problems: list[Problem]
) -> None:
    seen: set[ItemKey] = set()
    for index, item in enumerate(items):
        node = item.node
        here = (*path, index)
        key = item_key(item)
        if key in seen:
            problems.append(
                Problem(
                    ProblemCode.DUPLICATE_ITEM,
                    f"{node.name} appears more than once in {owner}.",
                    here,
                )
            )
        seen.add(key)
        if isinstance(node, Group):
            _check_group(node, here, problems)


def _check_group(group: Group, path: tuple[int, ...], problems: list[Problem]) -> None:
    count = len(group.items)
    if count == 0:
        problems.append(Problem(ProblemCode.EMPTY_GROUP, f"{group.name} has no items.", path))
    elif group.kind is GroupKind.CHOICE and group.min_count is not None:
        # An empty choice is already reported above; its count has nothing to be checked against.
        wanted = group.min_count
        required = sum(1 for item in group.items if item.required)
        if wanted < 1:
            problems.append(
                Problem(
                    ProblemCode.CHOICE_BELOW_ONE,
                    f"{group.name} asks for {wanted} items; it must ask for at least 1.",
                    path,
                )
            )
        if wanted < required:
            problems.append(
                Problem(
                    ProblemCode.CHOICE_BELOW_REQUIRED,
                    f"{group.name} asks for {wanted} items but marks {required} as required; "
                    f"it must ask for at least {required}.",
                    path,
                )
            )
        if wanted > count:
            problems.append(
                Problem(
                    ProblemCode.CHOICE_ABOVE_ITEMS,
                    f"{group.name} asks for {wanted} items but has only {count}.",
                    path,
                )
            )
    _check_items(group.name, group.items, path, problems)
