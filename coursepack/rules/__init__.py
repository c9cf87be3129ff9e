"""The requirement engine: pure Python, no Django.

It evaluates a pinned requirement tree against one learner's completion events at
a point in time, and diffs two trees. Everything here is a frozen value type or a
pure function, so it can be property-tested without a database.
"""

from coursepack.rules.diff import (
    AddedItem,
    Change,
    GroupChanges,
    ItemKey,
    ItemsDiff,
    ModifiedItem,
    RemovedItem,
    VersionDiff,
    diff,
    diff_items,
    item_key,
)
from coursepack.rules.evaluate import (
    EnrollmentStatus,
    Evaluation,
    NodeKind,
    NodeResult,
    NodeState,
    course_ids,
    evaluate,
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
from coursepack.rules.validate import Problem, ProblemCode, validate_tree

__all__ = [
    "AddedItem",
    "Change",
    "CourseRef",
    "EnrollmentStatus",
    "Evaluation",
    "EventKind",
    "Group",
    "GroupChanges",
    "GroupKind",
    "Item",
    "ItemKey",
    "ItemsDiff",
    "LearnerEvent",
    "ModifiedItem",
    "NodeKind",
    "NodeResult",
    "NodeState",
    "Problem",
    "ProblemCode",
    "RemovedItem",
    "RequirementTree",
    "VersionDiff",
    "course_ids",
    "diff",
    "diff_items",
    "evaluate",
    "item_key",
    "validate_tree",
]
