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
    # Voids an event (named by ``voids``): a correction of the record. As known from
    # the void's recording on, the voided event never happened, at every moment.
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

    Every fact has two times: ``occurred_at``, when it is true from (the valid
    time), and ``recorded_at``, when the system learnt it (None: recorded when it
    occurred). A VOID event names the event it voids in ``voids``; as known from
    the void's ``recorded_at`` on, the voided event is treated as never having
    happened, whatever the moment asked about. Events are never edited, so
    evaluating the same events on the same two timelines always gives the same answer.
    """

    event_id: int
    course_id: int
    kind: EventKind
    occurred_at: datetime
    voids: int | None = None
    recorded_at: datetime | None = None

    @property
    def known_from(self) -> datetime:
        """Return when the system learnt of the event: its recording time."""
        return self.occurred_at if self.recorded_at is None else self.recorded_at
