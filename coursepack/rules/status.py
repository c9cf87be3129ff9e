"""The four numbers the status cache stores, computed without the full evaluation.

``evaluate`` builds every node's state, next steps and explanation: what a learner's
progress page shows. Writes that only refresh the stored status (recording a
completion, enrolling, the rebuild) need four values: the status, done and needed
of the package's required items, and when it was completed. ``StatusRule`` computes
exactly those, from per-course facts that are gathered once per learner and shared by
all of the learner's enrollments. It must always agree with ``evaluate``; a property
test holds it to that.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from coursepack.rules.evaluate import (
    EnrollmentStatus,
    _course_facts,
    _equivalences_in_force,
    course_ids,
)
from coursepack.rules.facts import Equivalence, EquivalenceChange, Exemption, ExemptionKey
from coursepack.rules.tree import (
    CourseRef,
    EventKind,
    Group,
    GroupKind,
    LearnerEvent,
    RequirementTree,
)

__all__ = [
    "CourseFacts",
    "EventRow",
    "StatusRule",
    "StatusSummary",
    "course_facts",
    "course_facts_from_rows",
]

#: One stored event as plain values:
#: (event id, course id, kind, occurred at, voided event id, recorded at). The
#: recording time may be None where only answers as known now are asked for.
EventRow = tuple[int, int, str, datetime, int | None, datetime | None]

_COUNTING = frozenset({EventKind.COMPLETED.value, EventKind.PASSED.value})
_VOID = EventKind.VOID.value


@dataclass(frozen=True, slots=True)
class CourseFacts:
    """What one learner's effective events say about each course, as of one moment and
    as known at another.

    ``done_at`` holds when each course was first completed or passed; ``touched``
    every course with any effective event (a failed attempt included).
    """

    done_at: Mapping[int, datetime]
    touched: frozenset[int]


@dataclass(frozen=True, slots=True)
class StatusSummary:
    """The cached part of an evaluation: equal to ``evaluate``'s status, root progress
    and completion moment for the same tree, events and moment."""

    status: EnrollmentStatus
    done: int
    needed: int
    completed_at: datetime | None


def course_facts_from_rows(
    rows: Iterable[EventRow],
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    *,
    counts_from: datetime | None = None,
    equivalences: Sequence[Equivalence] = (),
    equivalence_changes: Sequence[EquivalenceChange] = (),
) -> CourseFacts:
    """Return the course facts of one learner's events given as plain rows.

    Only rows recorded at or before ``known_at`` are known (all when None); a known
    void removes its target at every moment. Effective events are the known,
    unvoided ones that occurred at or before ``as_of`` (all when None) and not
    before ``counts_from``, exactly as in ``evaluate``. Rows without a recording time
    answer only as known now. A completion counts for the target of a known
    equivalence inside its window, as in ``evaluate``.
    """
    if counts_from is not None or equivalences:
        return _facts_via_engine(
            rows, as_of, known_at, counts_from, equivalences, equivalence_changes
        )
    voided: set[int] = set()
    kept: list[EventRow] = []
    for row in rows:
        if known_at is not None:
            recorded = row[5]
            if recorded is None:
                raise ValueError("an event row without recorded_at cannot answer as known at")
            if recorded > known_at:
                continue
        if row[2] == _VOID:
            if row[4] is not None:
                voided.add(row[4])
        elif as_of is None or row[3] <= as_of:
            kept.append(row)
    done_at: dict[int, datetime] = {}
    touched: set[int] = set()
    for event_id, course_id, kind, occurred_at, _, _ in kept:
        if event_id in voided:
            continue
        touched.add(course_id)
        if kind in _COUNTING:
            previous = done_at.get(course_id)
            if previous is None or occurred_at < previous:
                done_at[course_id] = occurred_at
    return CourseFacts(done_at, frozenset(touched))


def _facts_via_engine(
    rows: Iterable[EventRow],
    as_of: datetime | None,
    known_at: datetime | None,
    counts_from: datetime | None,
    equivalences: Sequence[Equivalence],
    changes: Sequence[EquivalenceChange],
) -> CourseFacts:
    """Return the course facts with a counting window or equivalences: the engine's own
    per-course pass, over every course the rows name (rare, so not specialised)."""
    events = [LearnerEvent(r[0], r[1], EventKind(r[2]), r[3], r[4], r[5]) for r in rows]
    courses = frozenset(e.course_id for e in events) | {eq.target_course_id for eq in equivalences}
    active = _equivalences_in_force(courses, equivalences, changes, known_at)
    done_at, touched, _ = _course_facts(
        courses, events, as_of, known_at, counts_from=counts_from, equivalences=active
    )
    return CourseFacts(done_at, touched)


def course_facts(
    events: Iterable[LearnerEvent],
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    *,
    counts_from: datetime | None = None,
    equivalences: Sequence[Equivalence] = (),
    equivalence_changes: Sequence[EquivalenceChange] = (),
) -> CourseFacts:
    """Return the course facts of one learner's events."""
    return course_facts_from_rows(
        (
            (e.event_id, e.course_id, e.kind.value, e.occurred_at, e.voids, e.known_from)
            for e in events
        ),
        as_of,
        known_at,
        counts_from=counts_from,
        equivalences=equivalences,
        equivalence_changes=equivalence_changes,
    )


# A compiled node: a course id, or (kind, min_count, children, required flags, group id).
_Node = int | tuple[GroupKind, int | None, tuple["_Node", ...], tuple[bool, ...], int]


def _compile(node: CourseRef | Group) -> _Node:
    if isinstance(node, CourseRef):
        return node.course_id
    return (
        node.kind,
        node.min_count,
        tuple(_compile(i.node) for i in node.items),
        tuple(i.required for i in node.items),
        node.group_id,
    )


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _satisfied_at(
    node: _Node, done_at: Mapping[int, datetime], exempt: Mapping[ExemptionKey, Exemption]
) -> datetime | None:
    if isinstance(node, int):
        moment = done_at.get(node)
        if exempt:
            exemption = exempt.get(("course", node))
            if exemption is not None:
                return _earlier(moment, exemption.effective_at)
        return moment
    if exempt:
        exemption = exempt.get(("group", node[4]))
        if exemption is not None:
            return _earlier(_group_satisfied_at(node, done_at, exempt), exemption.effective_at)
    return _group_satisfied_at(node, done_at, exempt)


def _group_satisfied_at(
    node: _Node, done_at: Mapping[int, datetime], exempt: Mapping[ExemptionKey, Exemption]
) -> datetime | None:
    assert not isinstance(node, int)
    kind, min_count, children, flags, _ = node
    times = [_satisfied_at(child, done_at, exempt) for child in children]
    if kind is GroupKind.FAMILY:
        return min((t for t in times if t is not None), default=None)
    if kind is GroupKind.SERIES:
        if not times or None in times:
            return None
        return max(times)  # type: ignore[type-var]
    required = [t for t, flag in zip(times, flags, strict=True) if flag]
    optional = [t for t, flag in zip(times, flags, strict=True) if not flag and t is not None]
    wanted = len(children) if min_count is None else min_count
    optional_wanted = max(0, wanted - len(required))
    if len(required) + optional_wanted == 0 or None in required:
        return None
    if len(optional) < optional_wanted:
        return None
    moments: list[datetime] = required  # type: ignore[assignment]
    if optional_wanted:
        moments = [*moments, heapq.nsmallest(optional_wanted, optional)[-1]]
    return max(moments)


class StatusRule:
    """One package version's tree, compiled for computing cached statuses quickly."""

    __slots__ = ("_courses", "_items")

    def __init__(self, tree: RequirementTree) -> None:
        self._items = tuple((_compile(i.node), i.required) for i in tree.items)
        self._courses = course_ids(tree)

    @property
    def course_ids(self) -> frozenset[int]:
        """Every course id anywhere in the tree."""
        return self._courses

    def summarize(
        self,
        facts: CourseFacts,
        on_version_since: datetime | None = None,
        exempt: Mapping[ExemptionKey, Exemption] | None = None,
    ) -> StatusSummary:
        """Return the status, required done/needed and completion moment under ``facts``.

        ``on_version_since`` is when the enrollment got onto this version: the
        completion moment is never earlier, as in ``evaluate``. ``exempt`` holds the
        exemptions in force (``exemptions_in_force``).
        """
        done_at = facts.done_at
        exempt = exempt or {}
        needed = done = 0
        latest: datetime | None = None
        for node, required in self._items:
            if not required:
                continue
            needed += 1
            moment = _satisfied_at(node, done_at, exempt)
            if moment is not None:
                done += 1
                if latest is None or moment > latest:
                    latest = moment
        whole = exempt.get(("package", 0))
        if whole is not None and (
            not needed or done < needed or latest is None or whole.effective_at < latest
        ):
            latest = whole.effective_at
            if on_version_since is not None and latest < on_version_since:
                latest = on_version_since
            return StatusSummary(EnrollmentStatus.COMPLETED, done, needed, latest)
        if needed and done == needed:
            if on_version_since is not None and latest is not None and latest < on_version_since:
                latest = on_version_since
            return StatusSummary(EnrollmentStatus.COMPLETED, done, needed, latest)
        if self._courses.isdisjoint(facts.touched):
            return StatusSummary(EnrollmentStatus.NOT_STARTED, done, needed, None)
        return StatusSummary(EnrollmentStatus.IN_PROGRESS, done, needed, None)
