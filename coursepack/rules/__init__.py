"""The requirement engine: pure Python, no Django.

It evaluates a pinned requirement tree against one learner's completion events at
a point in time, and diffs two trees. Everything here is a frozen value type or a
pure function, so it can be property-tested without a database.
"""

from coursepack.rules.tree import (
    CourseRef,
    EventKind,
    Group,
    GroupKind,
    Item,
    LearnerEvent,
    RequirementTree,
)

__all__ = [
    "CourseRef",
    "EventKind",
    "Group",
    "GroupKind",
    "Item",
    "LearnerEvent",
    "RequirementTree",
]
