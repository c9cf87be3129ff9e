"""Hypothesis strategies and small builders for requirement trees and event histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from hypothesis import strategies as st

from coursepack.rules import (
    CourseRef,
    EventKind,
    Group,
    GroupKind,
    Item,
    LearnerEvent,
    RequirementTree,
    item_key,
)

BASE = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
# A small pool, so the same course shows up at several places of one tree.
COURSES = tuple(CourseRef(i, f"C{i}", f"Course {i}") for i in range(1, 7))
# Course 7 is never in a generated tree: its events must be ignored.
EVENT_COURSE_IDS = tuple(range(1, 8))


def at(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


@cache  # Building strategies is costly; each (depth, validity) needs only one.
def _items(depth: int, *, valid: bool, max_size: int) -> st.SearchStrategy[list[Item]]:
    nodes: st.SearchStrategy[CourseRef | Group] = st.sampled_from(COURSES)
    if depth > 0:
        nodes = st.one_of(nodes, groups(depth - 1, valid=valid))
    return st.lists(
        st.builds(Item, nodes, st.booleans()),
        min_size=1 if valid else 0,
        max_size=max_size,
        unique_by=item_key,
    )


@st.composite
def groups(draw: st.DrawFn, depth: int, *, valid: bool = True) -> Group:
    """Draw a group nested up to ``depth`` more levels; ``valid`` keeps validate_tree happy."""
    kind = draw(st.sampled_from(list(GroupKind)))
    items = draw(_items(depth, valid=valid, max_size=4 if depth == 0 else 3))
    required = sum(1 for item in items if item.required)
    if kind == GroupKind.CHOICE and valid:
        min_count = draw(st.none() | st.integers(max(required, 1), len(items)))
    else:
        # Family and series ignore the stored number; an invalid choice may ask for anything.
        min_count = draw(st.none() | st.integers(-1, len(items) + 1))
    group_id = draw(st.integers(1, 5))
    version = draw(st.integers(1, 3))
    return Group(
        group_id=group_id,
        version_id=group_id * 10 + version,
        version_number=version,
        name=f"Group {group_id}",
        kind=kind,
        min_count=min_count,
        items=tuple(items),
    )


@st.composite
def trees(draw: st.DrawFn, *, max_depth: int = 3, valid: bool = True) -> RequirementTree:
    """Draw a package tree with groups nested up to ``max_depth`` levels."""
    items = draw(_items(max_depth, valid=valid, max_size=4))
    if valid and not any(item.required for item in items):
        items[0] = Item(items[0].node, True)
    version = draw(st.integers(1, 4))
    return RequirementTree(
        package_id=1,
        version_id=version,
        version_number=version,
        name=draw(st.sampled_from(["Safety", "Security"])),
        items=tuple(items),
    )


@st.composite
def histories(
    draw: st.DrawFn, *, max_events: int = 10, voids: bool = True, first_id: int = 1
) -> list[LearnerEvent]:
    """Draw events on a 30-minute window; times collide often, voids may point anywhere."""
    count = draw(st.integers(0, max_events))
    kinds = list(EventKind) if voids else [k for k in EventKind if k != EventKind.VOID]
    events: list[LearnerEvent] = []
    for event_id in range(first_id, first_id + count):
        kind = draw(st.sampled_from(kinds))
        target = draw(st.integers(first_id, first_id + count)) if kind == EventKind.VOID else None
        events.append(
            LearnerEvent(
                event_id=event_id,
                course_id=draw(st.sampled_from(EVENT_COURSE_IDS)),
                kind=kind,
                occurred_at=at(draw(st.integers(0, 30))),
                voids=target,
            )
        )
    return events


def moments(events: list[LearnerEvent]) -> list[datetime | None]:
    """Return as_of values worth checking: None, every event time, and just before each."""
    times = sorted({e.occurred_at for e in events})
    return [None, BASE - timedelta(minutes=1), *times, *(t - timedelta(seconds=1) for t in times)]
