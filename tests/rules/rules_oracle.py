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

from coursepack.rules import (
    CourseRef,
    Equivalence,
    EquivalenceChange,
    EventKind,
    Exemption,
    ExemptionRevocation,
    Group,
    GroupKind,
    Item,
    LearnerEvent,
    RequirementTree,
)

Node = RequirementTree | Group | CourseRef
Path = tuple[int, ...]


def recorded(event: LearnerEvent) -> datetime:
    """Return when the event was recorded (when it occurred, if the event does not say)."""
    return event.occurred_at if event.recorded_at is None else event.recorded_at


def effective_events(
    events: Iterable[LearnerEvent], as_of: datetime | None, known_at: datetime | None = None
) -> list[LearnerEvent]:
    """Return the events that count as of ``as_of``, as known at ``known_at`` (PRODUCT.md,
    "Two timelines"): recorded by ``known_at``, not voided by a void recorded by then
    (whenever the void says it occurred), and occurred by ``as_of``."""
    known = [e for e in events if known_at is None or recorded(e) <= known_at]
    voided = {e.voids for e in known if e.kind == EventKind.VOID}
    return [
        e
        for e in known
        if e.kind != EventKind.VOID
        and e.event_id not in voided
        and (as_of is None or e.occurred_at <= as_of)
    ]


def completed_at(
    tree: RequirementTree, effective: list[LearnerEvent], on_version_since: datetime | None
) -> datetime | None:
    """Return when an enrollment on ``tree`` since ``on_version_since`` was complete: not
    before the tree was satisfied, and not before the enrollment was on the version."""
    moment = satisfied_at(tree, effective)
    if moment is None or on_version_since is None:
        return moment
    return max(moment, on_version_since)


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


def next_courses(tree: RequirementTree, effective: list[LearnerEvent]) -> list[int]:
    """Return the courses offered as next steps, in tree order, each once.

    A course is offered when it is neither complete nor locked and it can still
    advance the package: every node above it is unsatisfied and counts for its
    parent (a required package item; in a choice, a required item or an optional
    one while more optional items are wanted).
    """
    done = done_courses(effective, None)
    offered: list[int] = []

    def wanted_children(node: RequirementTree | Group) -> list[int]:
        if isinstance(node, RequirementTree):
            return [i for i, item in enumerate(node.items) if item.required]
        if node.kind != GroupKind.CHOICE:
            return list(range(len(node.items)))
        wanted = len(node.items) if node.min_count is None else node.min_count
        required = [i for i, item in enumerate(node.items) if item.required]
        optional_wanted = max(0, wanted - len(required))
        optional_done = sum(
            1 for item in node.items if not item.required and satisfied(item.node, done)
        )
        if len(required) + optional_wanted == 0 or len(required) + optional_wanted > len(
            node.items
        ):
            return []  # a choice that can never be met offers nothing
        more = optional_wanted > optional_done
        return [i for i, item in enumerate(node.items) if item.required or more]

    def visit(node: Node, path: Path) -> None:
        if satisfied(node, done) or locked(tree, path, done):
            return
        if isinstance(node, CourseRef):
            if node.course_id not in offered:
                offered.append(node.course_id)
            return
        if isinstance(node, Group) and not node.items:
            return
        for index in wanted_children(node):
            visit(node.items[index].node, (*path, index))

    visit(tree, ())
    return offered


# --- the lifecycle facts (PRODUCT.md, "Compliance lifecycle") ----------------------


def exemption_keys_in_force(
    exemptions: Iterable[Exemption],
    revocations: Iterable[ExemptionRevocation],
    as_of: datetime | None,
    known_at: datetime | None,
) -> dict[tuple[str, int], datetime]:
    """Return, per exempted node, the earliest moment an exemption in force covers it:
    known by ``known_at``, effective by ``as_of``, not ended by ``as_of``, not revoked by a
    known revocation effective by ``as_of``."""
    revoked = {
        r.exemption_id
        for r in revocations
        if (known_at is None or r.known_from <= known_at)
        and (as_of is None or r.effective_at <= as_of)
    }
    found: dict[tuple[str, int], datetime] = {}
    for e in exemptions:
        if e.exemption_id in revoked:
            continue
        if known_at is not None and e.known_from > known_at:
            continue
        if as_of is not None and e.effective_at > as_of:
            continue
        # A waiver valid until a date lapses then (as_of None: after every end).
        if e.ends_at is not None and (as_of is None or e.ends_at <= as_of):
            continue
        if e.course_id is not None:
            key: tuple[str, int] = ("course", e.course_id)
        elif e.group_id is not None:
            key = ("group", e.group_id)
        else:
            key = ("package", 0)
        if key not in found or e.effective_at < found[key]:
            found[key] = e.effective_at
    return found


def lifecycle_effective_events(
    events: Iterable[LearnerEvent],
    as_of: datetime | None,
    known_at: datetime | None,
    *,
    counts_from: datetime | None,
    equivalences: Iterable[Equivalence],
    changes: Iterable[EquivalenceChange],
) -> list[LearnerEvent]:
    """Return the effective events, each completion of an equivalence's source inside its
    window doubled by a completion of its target at the same moment."""
    effective = [
        e
        for e in effective_events(events, as_of, known_at)
        if counts_from is None or e.occurred_at >= counts_from
    ]
    known_changes = [c for c in changes if known_at is None or c.known_from <= known_at]
    extra: list[LearnerEvent] = []
    for eq in equivalences:
        if known_at is not None and eq.known_from > known_at:
            continue
        retro = eq.retroactive or any(
            c.equivalence_id == eq.equivalence_id and c.kind == "retroactive" for c in known_changes
        )
        ends = [
            c.occurred_at
            for c in known_changes
            if c.equivalence_id == eq.equivalence_id and c.kind == "end"
        ]
        for e in effective:
            if e.course_id != eq.source_course_id or e.kind not in (
                EventKind.COMPLETED,
                EventKind.PASSED,
            ):
                continue
            if not retro and e.occurred_at < eq.starts_at:
                continue
            if ends and e.occurred_at >= min(ends):
                continue
            extra.append(
                LearnerEvent(-e.event_id, eq.target_course_id, EventKind.COMPLETED, e.occurred_at)
            )
    return effective + extra


def satisfied_exempt(node: Node, done: frozenset[int], exempt: set[tuple[str, int]]) -> bool:
    """Return whether ``node`` is satisfied when the courses ``done`` are complete and the
    nodes named by ``exempt`` are exempt."""
    if isinstance(node, CourseRef):
        return node.course_id in done or ("course", node.course_id) in exempt
    if isinstance(node, Group) and ("group", node.group_id) in exempt:
        return True
    if isinstance(node, RequirementTree) and ("package", 0) in exempt:
        return True
    if not exempt:
        return satisfied(node, done)
    verdicts = [satisfied_exempt(item.node, done, exempt) for item in node.items]
    # Reuse the plain definition over pseudo-courses standing for each child's verdict.
    pseudo = tuple(
        Item(CourseRef(1000 + i, "", ""), item.required) for i, item in enumerate(node.items)
    )
    pseudo_done = frozenset(1000 + i for i, v in enumerate(verdicts) if v)
    if isinstance(node, RequirementTree):
        return satisfied(
            RequirementTree(node.package_id, node.version_id, 1, node.name, pseudo), pseudo_done
        )
    return satisfied(
        Group(node.group_id, node.version_id, 1, node.name, node.kind, node.min_count, pseudo),
        pseudo_done,
    )


def satisfied_at_exempt(
    node: Node, effective: list[LearnerEvent], exempt: dict[tuple[str, int], datetime]
) -> datetime | None:
    """Return the first moment (an event's or an exemption's) at which ``node`` is satisfied."""
    candidates = {e.occurred_at for e in effective} | set(exempt.values())
    for moment in sorted(candidates):
        keys = {k for k, t in exempt.items() if t <= moment}
        if satisfied_exempt(node, done_courses(effective, moment), keys):
            return moment
    return None
