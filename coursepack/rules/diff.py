"""Diff two requirement trees: what an admin changed between two package versions.

Items are matched at each level by identity, a course by its course id and a
group by its group id, never by position, so a reordering reads as a move and a
new group version reads as a change of that group rather than a removal and an
addition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from coursepack.rules.tree import CourseRef, Group, GroupKind, Item, RequirementTree

T = TypeVar("T")

ItemKey = tuple[Literal["course", "group"], int]


def item_key(item: Item) -> ItemKey:
    """Return the identity of ``item`` within its list: ("course", id) or ("group", id)."""
    node = item.node
    if isinstance(node, CourseRef):
        return ("course", node.course_id)
    return ("group", node.group_id)


@dataclass(frozen=True, slots=True)
class Change(Generic[T]):
    """A value that differs between the old and the new tree."""

    old: T
    new: T


@dataclass(frozen=True, slots=True)
class AddedItem:
    """An item only the new list has, at ``position`` (0-based) of the new list."""

    position: int
    item: Item


@dataclass(frozen=True, slots=True)
class RemovedItem:
    """An item only the old list had, at ``position`` (0-based) of the old list."""

    position: int
    item: Item


@dataclass(frozen=True, slots=True)
class GroupChanges:
    """What changed in a group present in both trees (None: unchanged).

    ``min_count`` compares what the rule asks for: a family always asks for 1 and a
    series for all (None), whatever number is stored on them.
    """

    name: Change[str] | None
    version_number: Change[int] | None
    kind: Change[GroupKind] | None
    min_count: Change[int | None] | None
    items: ItemsDiff

    @property
    def is_empty(self) -> bool:
        """Return whether nothing changed in the group."""
        return (
            self.name is None
            and self.version_number is None
            and self.kind is None
            and self.min_count is None
            and self.items.is_empty
        )


@dataclass(frozen=True, slots=True)
class ModifiedItem:
    """An item present in both lists that changed.

    ``moved`` is true only when the item's order relative to the other items kept
    in both lists changed, not merely because something before it was added or
    removed.
    """

    key: ItemKey
    old: Item
    new: Item
    old_position: int
    new_position: int
    required: Change[bool] | None
    moved: bool
    # Only for groups; None for courses, and for groups that did not change.
    group: GroupChanges | None

    @property
    def label(self) -> str:
        """Return the item's current name."""
        return self.new.node.name


@dataclass(frozen=True, slots=True)
class ItemsDiff:
    """The differences between two lists of items, each part in list order."""

    added: tuple[AddedItem, ...]
    removed: tuple[RemovedItem, ...]
    modified: tuple[ModifiedItem, ...]

    @property
    def is_empty(self) -> bool:
        """Return whether the two lists are the same."""
        return not (self.added or self.removed or self.modified)

    def summary(self) -> list[str]:
        """Return one human line per added, removed and modified item of a package's list."""
        return _summary(self, None, None)


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """What changed between two package versions."""

    old_version_number: int
    new_version_number: int
    name: Change[str] | None
    items: ItemsDiff

    @property
    def is_empty(self) -> bool:
        """Return whether the two versions have the same content."""
        return self.name is None and self.items.is_empty

    def summary(self) -> list[str]:
        """Return the changes as human lines, e.g. "~ GDPR Overview: optional → required"."""
        lines = [] if self.name is None else [f"~ Name: {self.name.old} → {self.name.new}"]
        return lines + self.items.summary()


def diff(old: RequirementTree, new: RequirementTree) -> VersionDiff:
    """Return what changed from ``old`` to ``new``, matching items by identity at each level."""
    return VersionDiff(
        old_version_number=old.version_number,
        new_version_number=new.version_number,
        name=_change(old.name, new.name),
        items=diff_items(old.items, new.items),
    )


def diff_items(old: Sequence[Item], new: Sequence[Item]) -> ItemsDiff:
    """Return what changed from the ``old`` list of items to the ``new`` one."""
    old_keys = _occurrence_keys(old)
    new_keys = _occurrence_keys(new)
    old_at = {key: index for index, key in enumerate(old_keys)}
    new_at = {key: index for index, key in enumerate(new_keys)}
    kept_in_old_order = [key for key in old_keys if key in new_at]
    kept_in_new_order = [key for key in new_keys if key in old_at]
    unmoved = _longest_common_subsequence(kept_in_old_order, kept_in_new_order)
    modified: list[ModifiedItem] = []
    for key in kept_in_new_order:
        before, after = old[old_at[key]], new[new_at[key]]
        group = _group_changes(before.node, after.node)
        change = ModifiedItem(
            key=key[0],
            old=before,
            new=after,
            old_position=old_at[key],
            new_position=new_at[key],
            required=_change(before.required, after.required),
            moved=key not in unmoved,
            group=group,
        )
        if change.required is not None or change.moved or change.group is not None:
            modified.append(change)
    return ItemsDiff(
        added=tuple(
            AddedItem(index, new[index]) for index, key in enumerate(new_keys) if key not in old_at
        ),
        removed=tuple(
            RemovedItem(index, old[index])
            for index, key in enumerate(old_keys)
            if key not in new_at
        ),
        modified=tuple(modified),
    )


# A key plus its occurrence number, so that even a (forbidden) repeated key at one
# level pairs up first-with-first instead of breaking the diff.
_OccurrenceKey = tuple[ItemKey, int]


def _occurrence_keys(items: Sequence[Item]) -> list[_OccurrenceKey]:
    counts: dict[ItemKey, int] = {}
    keys: list[_OccurrenceKey] = []
    for item in items:
        key = item_key(item)
        keys.append((key, counts.get(key, 0)))
        counts[key] = counts.get(key, 0) + 1
    return keys


def _longest_common_subsequence(
    first: list[_OccurrenceKey], second: list[_OccurrenceKey]
) -> set[_OccurrenceKey]:
    """Return the keys of one longest common subsequence of two orderings of the same keys."""
    # Quadratic in the length of one list of items, which is small (tens at most);
    # evaluation, which runs per completion event, never calls this.
    rows, cols = len(first), len(second)
    lengths = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            if first[i] == second[j]:
                lengths[i][j] = lengths[i + 1][j + 1] + 1
            else:
                lengths[i][j] = max(lengths[i + 1][j], lengths[i][j + 1])
    kept: set[_OccurrenceKey] = set()
    i = j = 0
    while i < rows and j < cols:
        if first[i] == second[j]:
            kept.add(first[i])
            i += 1
            j += 1
        elif lengths[i + 1][j] >= lengths[i][j + 1]:
            i += 1
        else:
            j += 1
    return kept


def _group_changes(old: CourseRef | Group, new: CourseRef | Group) -> GroupChanges | None:
    if not isinstance(old, Group) or not isinstance(new, Group):
        return None
    changes = GroupChanges(
        name=_change(old.name, new.name),
        version_number=_change(old.version_number, new.version_number),
        kind=_change(old.kind, new.kind),
        min_count=_change(_asks_for(old), _asks_for(new)),
        items=diff_items(old.items, new.items),
    )
    return None if changes.is_empty else changes


def _asks_for(group: Group) -> int | None:
    if group.kind is GroupKind.FAMILY:
        return 1
    if group.kind is GroupKind.SERIES:
        return None
    return group.min_count


def _change(old: T, new: T) -> Change[T] | None:
    return None if old == new else Change(old, new)


def _summary(items: ItemsDiff, old_kind: GroupKind | None, new_kind: GroupKind | None) -> list[str]:
    """Return the lines of ``items``; the kinds are those of the enclosing group, if any."""
    lines = [f"+ {_describe(a.item, new_kind)}" for a in items.added]
    lines += [f"- {_describe(r.item, old_kind)}" for r in items.removed]
    lines += [f"~ {m.label}: {'; '.join(_modifications(m))}" for m in items.modified]
    return lines


def _describe(item: Item, enclosing: GroupKind | None) -> str:
    node = item.node
    details: list[str] = []
    if isinstance(node, Group):
        details.append(f"{node.kind} group")
    elif enclosing is None:
        # Inside a group, a bare name reads as a course already.
        details.append("course")
    # Inside a family or a series the required flag means nothing: leave it out.
    if enclosing is None or enclosing is GroupKind.CHOICE:
        details.append(_flag(item.required))
    return f"{node.name} ({', '.join(details)})" if details else node.name


def _flag(required: bool) -> str:
    return "required" if required else "optional"


def _count(min_count: int | None) -> str:
    return "all" if min_count is None else str(min_count)


def _modifications(item: ModifiedItem) -> list[str]:
    parts: list[str] = []
    if item.required is not None:
        parts.append(f"{_flag(item.required.old)} → {_flag(item.required.new)}")
    if item.moved:
        # Positions for people count from 1.
        parts.append(f"moved from position {item.old_position + 1} to {item.new_position + 1}")
    group = item.group
    if group is not None:
        if group.name is not None:
            parts.append(f"renamed from {group.name.old}")
        if group.version_number is not None:
            parts.append(f"group v{group.version_number.old} → v{group.version_number.new}")
        if group.kind is not None:
            parts.append(f"{group.kind.old} → {group.kind.new}")
        if group.min_count is not None:
            parts.append(
                f"complete {_count(group.min_count.old)} → {_count(group.min_count.new)} items"
            )
        if not group.items.is_empty:
            kinds = _change_ends(item)
            parts.append("inside: " + ", ".join(_summary(group.items, *kinds)))
    return parts


def _change_ends(item: ModifiedItem) -> tuple[GroupKind, GroupKind]:
    old, new = item.old.node, item.new.node
    assert isinstance(old, Group) and isinstance(new, Group)
    return old.kind, new.kind
