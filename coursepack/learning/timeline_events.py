"""The events a timeline's batches read, kept for a report's course table on the same
timeline (``transcript.timeline_answers``, ADR 0039 amended): the page counts its
courses from them instead of reading the same events again."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from coursepack import rules
from coursepack.learning.models import EventKind

__all__ = ["CourseEvent", "TimelineCourseEvents", "keep_course_events"]


class CourseEvent(NamedTuple):
    """A completion, pass or failure a timeline's batch read, as a course table counts it."""

    learner_id: int
    course_id: int
    kind: str
    occurred_at: datetime
    #: Voided by a void recorded by the timeline's ``known_at``.
    voided: bool


@dataclass
class TimelineCourseEvents:
    """The events ``timeline_answers`` read, kept for a report's course table on the same
    timeline (no second read of the events): every completion, pass and failure known at
    ``known_at`` that occurred by ``as_of``, of the learners with an enrollment in scope
    open at the earlier of the two moments, on ``courses`` (None: every course)."""

    courses: frozenset[int] | None = None
    events: list[CourseEvent] = field(default_factory=list)

    def counts(
        self,
        course_ids: Sequence[int],
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> dict[int, tuple[int, int, int]]:
        """Per course of ``course_ids`` with events in ``[start, end)``: the learners who
        completed or passed it, failed attempts and voided events, each not voided
        counted (as ``reports.exact.course_counts`` counts them from the events)."""
        wanted = set(course_ids)
        completed: dict[int, set[int]] = defaultdict(set)
        failed: dict[int, int] = defaultdict(int)
        voided: dict[int, int] = defaultdict(int)
        seen: set[int] = set()
        for event in self.events:
            if event.course_id not in wanted:
                continue
            if (start is not None and event.occurred_at < start) or (
                end is not None and event.occurred_at >= end
            ):
                continue
            seen.add(event.course_id)
            if event.voided:
                voided[event.course_id] += 1
            elif event.kind == EventKind.FAILED:
                failed[event.course_id] += 1
            elif event.kind in (EventKind.COMPLETED, EventKind.PASSED):
                completed[event.course_id].add(event.learner_id)
        return {course: (len(completed[course]), failed[course], voided[course]) for course in seen}


def keep_course_events(
    kept: TimelineCourseEvents,
    enrollments: Sequence[tuple[Any, ...]],
    rows_of: dict[int, list[rules.EventRow]],
    cutoff: datetime,
) -> None:
    """Add a batch's events to ``kept``: those of learners with an enrollment open at the
    cutoff, voids aside (each read was recorded by ``known_at``, whenever it occurred)."""
    open_learners = {
        learner_id
        for _, learner_id, _, _, withdrawn_at, superseded_at, _ in enrollments
        if (withdrawn_at is None or withdrawn_at > cutoff)
        and (superseded_at is None or superseded_at > cutoff)
    }
    voided = {
        row[4]
        for learner_id in open_learners
        for row in rows_of[learner_id]
        if row[2] == EventKind.VOID
    }
    for learner_id in sorted(open_learners):
        for event_id, course_id, kind, occurred_at, _, _ in rows_of[learner_id]:
            if kind != EventKind.VOID:
                kept.events.append(
                    CourseEvent(learner_id, course_id, kind, occurred_at, event_id in voided)
                )
