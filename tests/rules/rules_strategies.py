"""Hypothesis strategies and small builders for requirement trees and event histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from coursepack.rules import (
    CourseRef,
    EventKind,
    Group,
    GroupKind,
    Item,
    ItemKey,
    LearnerEvent,
    RequirementTree,
    item_key,
)

BASE = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
# A small pool, so the same course shows up at several places of one tree.
COURSES = tuple(CourseRef(i, f"C{i}", f"Course {i}") for i in range(1, 7))
# Course 7 is never in a generated tree: its events must be ignored.
EVENT_COURSE_IDS = tuple(range(1, 8))

# Strategies are built once: drawing from prebuilt ones keeps generation fast
# enough for a few hundred examples per property.
_BOOLEANS = st.booleans()
_COURSE_INDEX = st.integers(0, len(COURSES) - 1)
_GROUP_KINDS = st.sampled_from(list(GroupKind))
_GROUP_IDS = st.integers(1, 5)
_VERSIONS = st.integers(1, 3)
_MINUTES = st.integers(0, 30)
# How long after it occurred an event was recorded: often at once, often late;
# None leaves recorded_at unset (recorded when it occurred).
_DELAYS = st.none() | st.sampled_from([0, 0, 1, 5, 12, 30])
_EVENT_COURSES = st.sampled_from(EVENT_COURSE_IDS)


def at(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


@st.composite
def trees(draw: st.DrawFn, *, max_depth: int = 3, valid: bool = True) -> RequirementTree:
    """Draw a package whose groups nest up to ``max_depth`` levels.

    Courses come from a pool of six, so one course may appear at several places,
    but never twice in one list. ``valid`` trees pass validate_tree; others may
    have empty groups, out-of-range choice counts and no required item.
    """

    def items(depth: int, max_size: int) -> list[Item]:
        found: list[Item] = []
        seen: set[ItemKey] = set()
        for _ in range(draw(st.integers(1 if valid else 0, max_size))):
            node = (
                group(depth - 1) if depth > 0 and draw(_BOOLEANS) else COURSES[draw(_COURSE_INDEX)]
            )
            item = Item(node, draw(_BOOLEANS))
            if item_key(item) not in seen:
                seen.add(item_key(item))
                found.append(item)
        return found

    def group(depth: int) -> Group:
        kind = draw(_GROUP_KINDS)
        content = items(depth, 4 if depth == 0 else 3)
        required = sum(1 for item in content if item.required)
        if kind == GroupKind.CHOICE and valid:
            min_count = draw(st.none() | st.integers(max(required, 1), len(content)))
        else:
            # Family and series ignore the stored number; an invalid choice may ask for anything.
            min_count = draw(st.none() | st.integers(-1, len(content) + 1))
        group_id = draw(_GROUP_IDS)
        version = draw(_VERSIONS)
        return Group(
            group_id=group_id,
            version_id=group_id * 10 + version,
            version_number=version,
            name=f"Group {group_id}",
            kind=kind,
            min_count=min_count,
            items=tuple(content),
        )

    content = items(max_depth, 4)
    if valid and not any(item.required for item in content):
        content[0] = Item(content[0].node, True)
    version = draw(_VERSIONS)
    return RequirementTree(
        package_id=1,
        version_id=version,
        version_number=version,
        name=draw(st.sampled_from(["Safety", "Security"])),
        items=tuple(content),
    )


@st.composite
def histories(
    draw: st.DrawFn, *, max_events: int = 10, voids: bool = True, first_id: int = 1
) -> list[LearnerEvent]:
    """Draw events on a 30-minute window; times collide often, voids may point anywhere."""
    count = draw(st.integers(0, max_events))
    kinds = st.sampled_from(
        list(EventKind) if voids else [k for k in EventKind if k != EventKind.VOID]
    )
    targets = st.integers(first_id, first_id + count)
    events: list[LearnerEvent] = []
    for event_id in range(first_id, first_id + count):
        kind = draw(kinds)
        occurred = draw(_MINUTES)
        delay = draw(_DELAYS)
        events.append(
            LearnerEvent(
                event_id=event_id,
                course_id=draw(_EVENT_COURSES),
                kind=kind,
                occurred_at=at(occurred),
                # A void may name any event: earlier, later, another void, itself, or none.
                voids=draw(targets) if kind == EventKind.VOID else None,
                recorded_at=None if delay is None else at(occurred + delay),
            )
        )
    return events


def moments(events: list[LearnerEvent]) -> list[datetime | None]:
    """Return as_of values worth checking: None, every event time, and just before each."""
    times = sorted({e.occurred_at for e in events})
    return [None, BASE - timedelta(minutes=1), *times, *(t - timedelta(seconds=1) for t in times)]


def known_moments(events: list[LearnerEvent]) -> list[datetime | None]:
    """Return known_at values worth checking: None, every recording time, just before each."""
    times = sorted({e.known_from for e in events})
    return [None, BASE - timedelta(minutes=1), *times, *(t - timedelta(seconds=1) for t in times)]
