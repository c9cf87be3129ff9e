"""The value types of a requirement tree and of the events evaluated against it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class GroupKind(StrEnum):
    """How a course group is satisfied."""

    # Complete 1 of N items (e.g. the English or the Spanish edition).
    FAMILY = "family"
    # Complete all items, in order: item k+1 is locked until item k is complete.
    SERIES = "series"
    # Complete X of Y items; every item flagged required must be among them.
    CHOICE = "choice"


class EventKind(StrEnum):
    """What a learner's completion event says."""

    # The learner finished the course.
    COMPLETED = "completed"
    # The learner passed the course's assessment; counts as completed.
    PASSED = "passed"
    # The learner failed; the course is attempted but not complete.
    FAILED = "failed"
    # Voids an earlier event (named by ``voids``): from this moment on it no longer counts.
    VOID = "void"


@dataclass(frozen=True, slots=True)
class CourseRef:
    """A course of the catalog, as a leaf of a requirement tree."""

    course_id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Group:
    """One pinned version of a reusable course group."""

    group_id: int
    version_id: int
    version_number: int
    name: str
    kind: GroupKind
    # CHOICE only: how many items must be complete (X of Y); None means all.
    # FAMILY always needs 1 and SERIES always needs all, whatever is stored here.
    min_count: int | None
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Item:
    """An entry of a package version or of a group: a course or a group, and its flag.

    ``required`` means: for a package version, the item blocks completion (optional
    items never do); for a CHOICE group, the item must be among the X completed.
    FAMILY and SERIES groups ignore it.
    """

    node: CourseRef | Group
    required: bool = True


@dataclass(frozen=True, slots=True)
class RequirementTree:
    """The pinned content of one package version: what an enrolled learner must do."""

    package_id: int
    version_id: int
    version_number: int
    name: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class LearnerEvent:
    """One completion event of one learner, as the engine sees it.

    A VOID event names the event it voids in ``voids``; from its ``occurred_at`` on,
    the voided event no longer counts. Events are never edited, so evaluating
    the same events as of the same moment always gives the same answer.
    """

    event_id: int
    course_id: int
    kind: EventKind
    occurred_at: datetime
    voids: int | None = None
