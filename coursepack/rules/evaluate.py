"""Evaluate a requirement tree against one learner's completion events on two timelines.

``evaluate`` is the single source of truth for completion: stored enrollment
statuses are a cache of it. It is a pure function of (tree, events, as_of,
known_at): the state of the world *as of* one moment, *as known at* another
(only the facts recorded by then). It runs in time linear in the size of the
tree plus the number of events, and explains every verdict in plain language.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal

from coursepack.rules.facts import (
    Equivalence,
    EquivalenceChange,
    Exemption,
    ExemptionKey,
    ExemptionRevocation,
    exemptions_in_force,
)
from coursepack.rules.tree import (
    CourseRef,
    EventKind,
    Group,
    GroupKind,
    Item,
    LearnerEvent,
    RequirementTree,
)

NodeKind = Literal["package", "course", "family", "series", "choice"]

_COUNTING_KINDS = frozenset({EventKind.COMPLETED, EventKind.PASSED})
_GROUP_SEPARATOR = " > "
_GROUP_NODE_KINDS: dict[GroupKind, NodeKind] = {
    GroupKind.FAMILY: "family",
    GroupKind.SERIES: "series",
    GroupKind.CHOICE: "choice",
}


class NodeState(StrEnum):
    """Where a learner stands on one node of the tree."""

    # The node is satisfied; always wins, even inside a locked part of a series.
    COMPLETED = "completed"
    # Some effective event (completed, passed or failed) touches a course beneath
    # the node, but the node is not satisfied yet.
    IN_PROGRESS = "in_progress"
    # Nothing effective beneath the node yet, and the learner may start it.
    NOT_STARTED = "not_started"
    # Not satisfied, and an earlier item of an enclosing series is not complete yet.
    LOCKED = "locked"


class EnrollmentStatus(StrEnum):
    """The status of one enrollment, as stored in the status cache."""

    # No effective event on any course of the tree.
    NOT_STARTED = "not_started"
    # Some effective event (a failed attempt counts), but the package is not satisfied.
    IN_PROGRESS = "in_progress"
    # Every required item of the package is satisfied.
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class NodeResult:
    """The verdict on one node of the tree: the package, an item, or an item of a group.

    ``path`` is the position from the package root: ``()`` for the package, ``(2,)``
    for its third item, ``(2, 0)`` for that group's first item. ``required`` says
    whether the node must be satisfied for its parent to count it: the item's flag
    for package and choice items, always true for series items, always false for
    family items (each is only one alternative). ``done``/``needed`` is the real
    progress towards satisfying the node.
    """

    path: tuple[int, ...]
    label: str
    kind: NodeKind
    required: bool
    state: NodeState
    done: int
    needed: int
    satisfied_at: datetime | None
    next_courses: tuple[CourseRef, ...]
    explanation: str
    children: tuple[NodeResult, ...]
    course_id: int | None
    group_id: int | None
    # The exemption that satisfied the node (earlier than any real completion).
    exemption: Exemption | None = None
    # The equivalence through which a course was satisfied (a completion of another course).
    equivalence: Equivalence | None = None

    @property
    def satisfied(self) -> bool:
        """Return whether the node is satisfied."""
        return self.satisfied_at is not None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The verdict on one enrollment: the whole tree evaluated as of one moment."""

    root: NodeResult
    status: EnrollmentStatus
    # The later of the moment the package first became satisfied given the effective
    # events (``root.satisfied_at``) and ``on_version_since``: an enrollment cannot be
    # complete before it existed on its version.
    completed_at: datetime | None
    optional_done: int
    optional_total: int
    # Courses that would advance optional package items; never repeats a course
    # already in ``root.next_courses``.
    optional_next: tuple[CourseRef, ...]
    # When the enrollment got onto the evaluated version (enrolment or move); None
    # when the evaluation is of the tree alone.
    on_version_since: datetime | None = None
    # The whole-enrollment exemption in force, if any.
    exemption: Exemption | None = None
    # Only events that occurred at or after this moment counted (a certification period).
    counts_from: datetime | None = None

    @property
    def exemptions_used(self) -> tuple[Exemption, ...]:
        """Return every exemption that satisfied a node, the whole-enrollment one first."""
        found = [self.exemption] if self.exemption is not None else []
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.exemption is not None and node.exemption not in found:
                found.append(node.exemption)
            stack.extend(reversed(node.children))
        return tuple(found)

    @property
    def equivalences_used(self) -> tuple[Equivalence, ...]:
        """Return every equivalence through which a course of the tree was satisfied."""
        found: list[Equivalence] = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.equivalence is not None and node.equivalence not in found:
                found.append(node.equivalence)
            stack.extend(reversed(node.children))
        return tuple(found)

    @property
    def satisfied_by_earlier_training(self) -> bool:
        """Return whether the tree was satisfied before the enrollment was on its version."""
        satisfied_at = self.root.satisfied_at
        since = self.on_version_since
        return satisfied_at is not None and since is not None and satisfied_at < since

    def node(self, path: Sequence[int]) -> NodeResult:
        """Return the node at ``path``; raise KeyError if there is none."""
        current = self.root
        for index in path:
            if not 0 <= index < len(current.children):
                raise KeyError(tuple(path))
            current = current.children[index]
        return current

    def why_not_complete(self) -> list[str]:
        """Return the exact reasons the package is not complete, one line each.

        Each unsatisfied required item gives a line; a group's line is followed by
        lines for the unsatisfied groups inside it that still matter. The list is
        empty exactly when the package is complete.
        """
        root = self.root
        if root.satisfied:
            return []
        if root.needed == 0:
            return [root.explanation]
        lines: list[str] = []
        for child in root.children:
            if child.required and not child.satisfied:
                _why_lines(child, "", lines)
        return lines


def course_ids(tree: RequirementTree) -> frozenset[int]:
    """Return the id of every course anywhere in ``tree``."""
    found: set[int] = set()
    stack: list[Item] = list(tree.items)
    while stack:
        node = stack.pop().node
        if isinstance(node, CourseRef):
            found.add(node.course_id)
        else:
            stack.extend(node.items)
    return frozenset(found)


def evaluate(
    tree: RequirementTree,
    events: Iterable[LearnerEvent],
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    *,
    on_version_since: datetime | None = None,
    exemptions: Iterable[Exemption] = (),
    revocations: Iterable[ExemptionRevocation] = (),
    equivalences: Iterable[Equivalence] = (),
    equivalence_changes: Iterable[EquivalenceChange] = (),
    counts_from: datetime | None = None,
) -> Evaluation:
    """Return the evaluation of ``tree`` against ``events`` as of ``as_of``, as known at
    ``known_at``.

    Known events are those recorded at or before ``known_at`` (all of them when it
    is None: as known now). A known VOID removes the event it names at every
    moment. Effective events are the known, unvoided events that occurred at or
    before ``as_of`` (all of them when it is None) and, with ``counts_from`` (a
    certification period), not before it. Events on courses outside the tree are
    ignored, except a completion that counts for a course of the tree through a
    known equivalence. An exemption in force (see ``exemptions_in_force``)
    satisfies its node from its effective moment, or the whole package. Every
    ``satisfied_at`` is the moment the node first became satisfied given the
    effective facts; ``completed_at`` is the later of the root's and
    ``on_version_since`` (when the enrollment got onto this version).
    """
    courses = course_ids(tree)
    active = _equivalences_in_force(courses, equivalences, equivalence_changes, known_at)
    done_at, touched, via = _course_facts(
        courses, events, as_of, known_at, counts_from=counts_from, equivalences=active
    )
    exempt = exemptions_in_force(exemptions, revocations, as_of, known_at)
    evaluation = _Evaluator(done_at, touched, exempt, via).package(tree, on_version_since)
    if counts_from is not None:
        evaluation = replace(evaluation, counts_from=counts_from)
    return evaluation


#: An equivalence as it counts: (equivalence, counts completions from, until).
_ActiveEquivalence = tuple[Equivalence, datetime | None, datetime | None]


def _equivalences_in_force(
    tree_courses: frozenset[int],
    equivalences: Iterable[Equivalence],
    changes: Iterable[EquivalenceChange],
    known_at: datetime | None,
) -> list[_ActiveEquivalence]:
    """Return the known equivalences into the tree, each with the window of completion
    moments that count through it (None: unbounded)."""
    ends: dict[int, datetime] = {}
    retroactive: set[int] = set()
    for change in changes:
        if known_at is not None and change.known_from > known_at:
            continue
        if change.kind == "retroactive":
            retroactive.add(change.equivalence_id)
        else:
            previous = ends.get(change.equivalence_id)
            if previous is None or change.occurred_at < previous:
                ends[change.equivalence_id] = change.occurred_at
    found: list[_ActiveEquivalence] = []
    for eq in equivalences:
        if eq.target_course_id not in tree_courses:
            continue
        if known_at is not None and eq.known_from > known_at:
            continue
        retro = eq.retroactive or eq.equivalence_id in retroactive
        found.append((eq, None if retro else eq.starts_at, ends.get(eq.equivalence_id)))
    return found


def _course_facts(
    tree_courses: frozenset[int],
    events: Iterable[LearnerEvent],
    as_of: datetime | None,
    known_at: datetime | None,
    *,
    counts_from: datetime | None = None,
    equivalences: Sequence[_ActiveEquivalence] = (),
) -> tuple[dict[int, datetime], frozenset[int], dict[int, Equivalence]]:
    """Return when each course was first done, which courses have any effective event,
    and the courses first done through an equivalence."""
    wanted = tree_courses | {eq.source_course_id for eq, _, _ in equivalences}
    voided: set[int] = set()
    candidates: list[LearnerEvent] = []
    for event in events:
        if known_at is not None and event.known_from > known_at:
            continue
        if event.kind is EventKind.VOID:
            # A void corrects the record: it removes its target at every moment, so
            # its own occurred_at does not matter. It is matched by event id alone,
            # whatever course it names; voids are not themselves voidable, so
            # voiding a void changes nothing.
            if event.voids is not None:
                voided.add(event.voids)
        elif (
            event.course_id in wanted
            and (as_of is None or event.occurred_at <= as_of)
            and (counts_from is None or event.occurred_at >= counts_from)
        ):
            candidates.append(event)
    own_done: dict[int, datetime] = {}
    touched: set[int] = set()
    for event in candidates:
        if event.event_id in voided:
            continue
        touched.add(event.course_id)
        if event.kind in _COUNTING_KINDS:
            previous = own_done.get(event.course_id)
            if previous is None or event.occurred_at < previous:
                own_done[event.course_id] = event.occurred_at
    done_at = {c: t for c, t in own_done.items() if c in tree_courses}
    via: dict[int, Equivalence] = {}
    if equivalences:
        # First counting moment of each source course inside each equivalence's window:
        # recomputed per equivalence, since windows differ.
        for eq, start, end in sorted(equivalences, key=lambda a: a[0].equivalence_id):
            first: datetime | None = None
            for event in candidates:
                if (
                    event.course_id != eq.source_course_id
                    or event.event_id in voided
                    or event.kind not in _COUNTING_KINDS
                    or (start is not None and event.occurred_at < start)
                    or (end is not None and event.occurred_at >= end)
                ):
                    continue
                if first is None or event.occurred_at < first:
                    first = event.occurred_at
            if first is None:
                continue
            target = eq.target_course_id
            touched.add(target)
            previous = done_at.get(target)
            if previous is None or first < previous:
                done_at[target] = first
                via[target] = eq
    touched &= tree_courses
    return done_at, frozenset(touched), via


class _Evaluator:
    """One evaluation pass over a tree, given the per-course facts."""

    __slots__ = ("_done_at", "_exempt", "_touched", "_via")

    def __init__(
        self,
        done_at: dict[int, datetime],
        touched: frozenset[int],
        exempt: dict[ExemptionKey, Exemption] | None = None,
        via: dict[int, Equivalence] | None = None,
    ) -> None:
        self._done_at = done_at
        self._touched = touched
        self._exempt = exempt or {}
        self._via = via or {}

    def package(self, tree: RequirementTree, on_version_since: datetime | None) -> Evaluation:
        children: list[NodeResult] = []
        any_touched = False
        for index, item in enumerate(tree.items):
            result, touched = self._node(item.node, item.required, (index,), None)
            children.append(result)
            any_touched = any_touched or touched
        required = [c for c in children if c.required]
        optional = [c for c in children if not c.required]
        done = sum(1 for c in required if c.satisfied)
        satisfied_at: datetime | None = None
        # With no required item nothing can ever make the package complete: there
        # is no moment at which it became satisfied (validate_tree reports this).
        if required and done == len(required):
            satisfied_at = max(_times(required))
        next_courses = _merge(c.next_courses for c in required if not c.satisfied)
        in_next = {c.course_id for c in next_courses}
        optional_next = tuple(
            c
            for c in _merge(o.next_courses for o in optional if not o.satisfied)
            if c.course_id not in in_next
        )
        whole = self._exempt.get(("package", 0))
        exempted = False
        if whole is not None and (satisfied_at is None or whole.effective_at < satisfied_at):
            satisfied_at = whole.effective_at
            exempted = True
        completed_at = satisfied_at
        if satisfied_at is not None:
            explanation = _completed_on(satisfied_at)
            if on_version_since is not None and satisfied_at < on_version_since:
                completed_at = on_version_since
                explanation = (
                    f"Completed on {completed_at.date().isoformat()}, when enrolled on this "
                    f"version: satisfied by earlier training (done by "
                    f"{satisfied_at.date().isoformat()})."
                )
            if exempted and whole is not None:
                explanation = f"{whole.describe()} {explanation}"
            state = NodeState.COMPLETED
            status = EnrollmentStatus.COMPLETED
        else:
            explanation = _package_text(tree.name, required)
            state = NodeState.IN_PROGRESS if any_touched else NodeState.NOT_STARTED
            status = EnrollmentStatus.IN_PROGRESS if any_touched else EnrollmentStatus.NOT_STARTED
        root = NodeResult(
            path=(),
            label=tree.name,
            kind="package",
            required=True,
            state=state,
            done=done,
            needed=len(required),
            satisfied_at=satisfied_at,
            next_courses=next_courses,
            explanation=explanation,
            children=tuple(children),
            course_id=None,
            group_id=None,
            exemption=whole if exempted else None,
        )
        return Evaluation(
            root=root,
            status=status,
            completed_at=completed_at,
            optional_done=sum(1 for c in optional if c.satisfied),
            optional_total=len(optional),
            optional_next=optional_next,
            on_version_since=on_version_since,
            exemption=whole,
        )

    def _node(
        self,
        node: CourseRef | Group,
        required: bool,
        path: tuple[int, ...],
        locked_by: str | None,
    ) -> tuple[NodeResult, bool]:
        """Return the result for ``node`` and whether any effective event touches it.

        ``locked_by`` names the unfinished series item that locks this node, if any.
        """
        if isinstance(node, CourseRef):
            return self._course(node, required, path, locked_by)
        return self._group(node, required, path, locked_by)

    def _course(
        self,
        course: CourseRef,
        required: bool,
        path: tuple[int, ...],
        locked_by: str | None,
    ) -> tuple[NodeResult, bool]:
        satisfied_at = self._done_at.get(course.course_id)
        touched = course.course_id in self._touched
        equivalence = self._via.get(course.course_id)
        exemption = self._exempt.get(("course", course.course_id))
        if exemption is not None and (
            satisfied_at is None or exemption.effective_at < satisfied_at
        ):
            satisfied_at = exemption.effective_at
            equivalence = None
        else:
            exemption = None
        if exemption is not None:
            explanation = exemption.describe()
        elif satisfied_at is not None and equivalence is not None:
            source = equivalence.source_label or f"course {equivalence.source_course_id}"
            explanation = (
                f"Completed on {satisfied_at.date().isoformat()} through {source} (equivalence)."
            )
        elif satisfied_at is not None:
            explanation = _completed_on(satisfied_at)
        elif locked_by is not None:
            explanation = _unlocks_after(course.name, locked_by)
        else:
            explanation = f"Complete {course.name}."
        result = NodeResult(
            path=path,
            label=course.name,
            kind="course",
            required=required,
            state=_state(satisfied_at, locked_by, touched),
            done=0 if satisfied_at is None else 1,
            needed=1,
            satisfied_at=satisfied_at,
            next_courses=(course,) if satisfied_at is None and locked_by is None else (),
            explanation=explanation,
            children=(),
            course_id=course.course_id,
            group_id=None,
            exemption=exemption,
            equivalence=equivalence,
        )
        return result, touched

    def _group(
        self,
        group: Group,
        required: bool,
        path: tuple[int, ...],
        locked_by: str | None,
    ) -> tuple[NodeResult, bool]:
        children: list[NodeResult] = []
        touched = False
        series = group.kind is GroupKind.SERIES
        for index, item in enumerate(group.items):
            child_lock = locked_by
            if child_lock is None and series and children and not children[-1].satisfied:
                # Locking is guidance only: a completion of a locked course still counts.
                child_lock = children[-1].label
            child, child_touched = self._node(
                item.node, _child_required(group.kind, item), (*path, index), child_lock
            )
            children.append(child)
            touched = touched or child_touched
        if group.kind is GroupKind.FAMILY:
            rule = _family(group, children)
        elif series:
            rule = _series(group, children)
        else:
            rule = _choice(group, children)
        exemption = self._exempt.get(("group", group.group_id))
        if exemption is not None and (
            rule.satisfied_at is None or exemption.effective_at < rule.satisfied_at
        ):
            rule = _Rule(exemption.effective_at, rule.needed, rule.needed, (), "")
        else:
            exemption = None
        if exemption is not None:
            explanation = exemption.describe()
        elif rule.satisfied_at is not None:
            explanation = _completed_on(rule.satisfied_at)
        elif locked_by is not None:
            explanation = f"{_unlocks_after(group.name, locked_by)} {rule.text}"
        else:
            explanation = rule.text
        result = NodeResult(
            path=path,
            label=group.name,
            kind=_GROUP_NODE_KINDS[group.kind],
            required=required,
            state=_state(rule.satisfied_at, locked_by, touched),
            done=rule.done,
            needed=rule.needed,
            satisfied_at=rule.satisfied_at,
            next_courses=rule.next_courses,
            explanation=explanation,
            children=tuple(children),
            course_id=None,
            group_id=group.group_id,
            exemption=exemption,
        )
        return result, touched


@dataclass(frozen=True, slots=True)
class _Rule:
    """What a group's rule says about its evaluated children."""

    satisfied_at: datetime | None
    done: int
    needed: int
    next_courses: tuple[CourseRef, ...]
    # What is left to do, used as the explanation when the group is not satisfied.
    text: str


def _family(group: Group, children: list[NodeResult]) -> _Rule:
    times = list(_times(children))
    if times:
        return _Rule(min(times), 1, 1, (), "")
    if not children:
        return _Rule(None, 0, 1, (), _cannot(group.name, "has no items"))
    return _Rule(
        None,
        0,
        1,
        _merge(c.next_courses for c in children),
        f"Complete 1 of: {_names(children)}.",
    )


def _series(group: Group, children: list[NodeResult]) -> _Rule:
    done = sum(1 for c in children if c.satisfied)
    needed = len(children)
    if not children:
        return _Rule(None, 0, 0, (), _cannot(group.name, "has no items"))
    if done == needed:
        return _Rule(max(_times(children)), done, needed, (), "")
    # The series' own locks, whether or not an enclosing series locks it too: an
    # unsatisfied item is locked exactly while its immediate predecessor is.
    open_now = [children[0]] if not children[0].satisfied else []
    locked: list[NodeResult] = []
    notes: list[str] = []
    for before, child in itertools.pairwise(children):
        if child.satisfied:
            continue
        if before.satisfied:
            open_now.append(child)
        else:
            locked.append(child)
            notes.append(_unlocks_after(child.label, before.label))
    if not locked:
        text = f"Complete {_and(open_now)}."
    elif len(open_now) == 1:
        text = "Complete in order: " + ", then ".join(c.label for c in [*open_now, *locked]) + "."
    else:
        text = f"Complete {_and(open_now)}, then " + ", then ".join(c.label for c in locked) + "."
    if notes:
        text = " ".join([text, *notes])
    # Every item that is neither complete nor locked is offered, in the series' order
    # (items completed out of order unlock the ones after them).
    remaining = [c for c in children if not c.satisfied]
    return _Rule(None, done, needed, _merge(c.next_courses for c in remaining), text)


def _choice(group: Group, children: list[NodeResult]) -> _Rule:
    required = [c for c in children if c.required]
    optional = [c for c in children if not c.required]
    wanted = len(children) if group.min_count is None else group.min_count
    # Optional items needed on top of the required ones; a min_count below the
    # number of required items (an invalid rule) still needs every required item.
    optional_wanted = max(0, wanted - len(required))
    needed = len(required) + optional_wanted
    required_done = sum(1 for c in required if c.satisfied)
    optional_times = list(_times(optional))
    done = required_done + min(len(optional_times), optional_wanted)
    if needed == 0:
        reason = "asks for no item" if children else "has no items"
        return _Rule(None, 0, 0, (), _cannot(group.name, reason))
    if required_done == len(required) and len(optional_times) >= optional_wanted:
        moments = list(_times(required))
        if optional_wanted:
            moments.append(heapq.nsmallest(optional_wanted, optional_times)[-1])
        return _Rule(max(moments), done, needed, (), "")
    if needed > len(children):
        text = _cannot(group.name, f"needs {needed} items but has only {len(children)}")
        return _Rule(None, done, needed, (), text)
    more_optional = optional_wanted - min(len(optional_times), optional_wanted)
    listed = [c for c in children if not c.satisfied and (c.required or more_optional > 0)]
    missing_required = [c for c in listed if c.required]
    remaining = len(missing_required) + more_optional
    if remaining == len(listed):
        text = _all_of(listed)
    else:
        text = f"Complete {remaining} more of: {_names(listed)}"
        if missing_required:
            verb = "is" if len(missing_required) == 1 else "are"
            text += f" ({_and(missing_required)} {verb} required)"
        text += "."
    return _Rule(None, done, needed, _merge(c.next_courses for c in listed), text)


def _child_required(kind: GroupKind, item: Item) -> bool:
    if kind is GroupKind.SERIES:
        return True
    if kind is GroupKind.FAMILY:
        return False
    return item.required


def _state(satisfied_at: datetime | None, locked_by: str | None, touched: bool) -> NodeState:
    if satisfied_at is not None:
        return NodeState.COMPLETED
    # Locked wins over in progress: it tells the learner what they may start next.
    if locked_by is not None:
        return NodeState.LOCKED
    return NodeState.IN_PROGRESS if touched else NodeState.NOT_STARTED


def _times(nodes: Iterable[NodeResult]) -> Iterator[datetime]:
    return (n.satisfied_at for n in nodes if n.satisfied_at is not None)


def _merge(parts: Iterable[tuple[CourseRef, ...]]) -> tuple[CourseRef, ...]:
    """Return the courses of ``parts`` in order, each course once."""
    seen: dict[int, CourseRef] = {}
    for part in parts:
        for course in part:
            seen.setdefault(course.course_id, course)
    return tuple(seen.values())


def _package_text(name: str, required: list[NodeResult]) -> str:
    if not required:
        return _cannot(name, "has no required items")
    remaining = [c for c in required if not c.satisfied]
    if len(remaining) == 1:
        return f"Complete {remaining[0].label}."
    return f"Complete {len(remaining)} more required items: {_names(remaining)}."


def _all_of(nodes: list[NodeResult]) -> str:
    if len(nodes) == 1:
        return f"Complete {nodes[0].label}."
    return f"Complete all of: {_names(nodes)}."


def _names(nodes: Iterable[NodeResult]) -> str:
    return ", ".join(n.label for n in nodes)


def _and(nodes: list[NodeResult]) -> str:
    labels = [n.label for n in nodes]
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def _completed_on(moment: datetime) -> str:
    return f"Completed on {moment.date().isoformat()}."


def _unlocks_after(label: str, before: str) -> str:
    return f"{label} unlocks after {before}."


def _cannot(name: str, reason: str) -> str:
    return f"{name} {reason}, so it cannot be completed; an administrator must fix it."


def _why_lines(node: NodeResult, prefix: str, lines: list[str]) -> None:
    """Append the reasons ``node`` (unsatisfied) holds its parent back."""
    if node.kind == "course":
        lines.append(prefix + node.explanation)
        return
    lines.append(f"{prefix}{node.label}: {node.explanation}")
    inner_prefix = f"{prefix}{node.label}{_GROUP_SEPARATOR}"
    for child in _still_needed(node):
        if child.kind != "course":
            _why_lines(child, inner_prefix, lines)


def _still_needed(group: NodeResult) -> Iterator[NodeResult]:
    """Yield the unsatisfied children of ``group`` that can still advance it."""
    unsatisfied = [c for c in group.children if not c.satisfied]
    if group.kind != "choice":
        yield from unsatisfied
        return
    missing_required = sum(1 for c in unsatisfied if c.required)
    more_optional = group.needed - group.done - missing_required
    for child in unsatisfied:
        if child.required or more_optional > 0:
            yield child
