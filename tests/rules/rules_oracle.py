"""A deliberately simple oracle for the requirement engine.

Every verdict here comes straight from the definitions in PRODUCT.md, by brute
force: satisfaction over the set of completed courses (a choice by enumerating
subsets), ``satisfied_at`` by trying every event time, locking by walking the
path. Nothing is shared with ``coursepack.rules.evaluate`` except the value types.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import combinations

from coursepack.rules import CourseRef, EventKind, Group, GroupKind, LearnerEvent, RequirementTree

Node = RequirementTree | Group | CourseRef
Path = tuple[int, ...]


def effective_events(events: Iterable[LearnerEvent], as_of: datetime | None) -> list[LearnerEvent]:
    """Return the events that count as of ``as_of``: known by then, not voided by then."""
    known = [e for e in events if as_of is None or e.occurred_at <= as_of]
    voided = {e.voids for e in known if e.kind == EventKind.VOID}
    return [e for e in known if e.kind != EventKind.VOID and e.event_id not in voided]


def walk(tree: RequirementTree) -> Iterator[tuple[Path, Node]]:
    """Yield every node of the tree with its path, the package first."""
    yield (), tree

    def inner(node: Node, path: Path) -> Iterator[tuple[Path, Node]]:
        if isinstance(node, CourseRef):
            return
        for index, item in enumerate(node.items):
            yield (*path, index), item.node
            yield from inner(item.node, (*path, index))

    yield from inner(tree, ())


def node_at(tree: RequirementTree, path: Path) -> Node:
    node: Node = tree
    for index in path:
        assert not isinstance(node, CourseRef)
        node = node.items[index].node
    return node


def courses_under(node: Node) -> set[int]:
    if isinstance(node, CourseRef):
        return {node.course_id}
    found: set[int] = set()
    for item in node.items:
        found |= courses_under(item.node)
    return found


def satisfied(node: Node, done: frozenset[int]) -> bool:
    """Return whether ``node`` is satisfied when exactly the courses ``done`` are complete."""
    if isinstance(node, CourseRef):
        return node.course_id in done
    verdicts = [satisfied(item.node, done) for item in node.items]
    if isinstance(node, RequirementTree):
        musts = [v for item, v in zip(node.items, verdicts, strict=True) if item.required]
        # A package with no required item has nothing whose completion could satisfy it.
        return bool(musts) and all(musts)
    if node.kind == GroupKind.FAMILY:
        return any(verdicts)
    if node.kind == GroupKind.SERIES:
        return bool(verdicts) and all(verdicts)
    wanted = len(node.items) if node.min_count is None else node.min_count
    required = {i for i, item in enumerate(node.items) if item.required}
    if not required and wanted < 1:
        return False  # asks for nothing: no completion could ever be the moment it was met
    indices = range(len(node.items))
    for size in range(max(wanted, 0), len(node.items) + 1):
        for subset in combinations(indices, size):
            chosen = set(subset)
            if required <= chosen and all(verdicts[i] for i in chosen):
                return True
    return False


def done_count(node: Node, done: frozenset[int]) -> int:
    """Return the progress of a group: the most satisfied children that count towards it."""
    assert isinstance(node, Group)
    verdicts = [satisfied(item.node, done) for item in node.items]
    if node.kind == GroupKind.FAMILY:
        return 1 if any(verdicts) else 0
    if node.kind == GroupKind.SERIES:
        return sum(verdicts)
    wanted = len(node.items) if node.min_count is None else node.min_count
    required = {i for i, item in enumerate(node.items) if item.required}
    optional_room = max(0, wanted - len(required))
    best = 0
    for size in range(len(node.items) + 1):
        for subset in combinations(range(len(node.items)), size):
            if all(verdicts[i] for i in subset) and len(set(subset) - required) <= optional_room:
                best = max(best, size)
    return best


def done_courses(effective: list[LearnerEvent], until: datetime | None) -> frozenset[int]:
    return frozenset(
        e.course_id
        for e in effective
        if e.kind in (EventKind.COMPLETED, EventKind.PASSED)
        and (until is None or e.occurred_at <= until)
    )


def satisfied_at(node: Node, effective: list[LearnerEvent]) -> datetime | None:
    """Return the first event time at which ``node`` is satisfied over the effective events."""
    for moment in sorted({e.occurred_at for e in effective}):
        if satisfied(node, done_courses(effective, moment)):
            return moment
    return None


def locked(tree: RequirementTree, path: Path, done: frozenset[int]) -> bool:
    """Return whether the node at ``path`` is locked: unsatisfied, behind an unfinished series item."""
    if not path or satisfied(node_at(tree, path), done):
        return False
    for depth in range(1, len(path) + 1):
        parent = node_at(tree, path[: depth - 1])
        index = path[depth - 1]
        if (
            isinstance(parent, Group)
            and parent.kind == GroupKind.SERIES
            and index > 0
            and not satisfied(parent.items[index - 1].node, done)
        ):
            return True
    return False


def state(tree: RequirementTree, path: Path, effective: list[LearnerEvent]) -> str:
    done = done_courses(effective, None)
    node = node_at(tree, path)
    if satisfied(node, done):
        return "completed"
    if locked(tree, path, done):
        return "locked"
    touched = {e.course_id for e in effective}
    return "in_progress" if courses_under(node) & touched else "not_started"


def status(tree: RequirementTree, effective: list[LearnerEvent]) -> str:
    if satisfied(tree, done_courses(effective, None)):
        return "completed"
    return (
        "in_progress" if courses_under(tree) & {e.course_id for e in effective} else "not_started"
    )
