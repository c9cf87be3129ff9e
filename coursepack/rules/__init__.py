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
from coursepack.rules.status import (
    CourseFacts,
    EventRow,
    StatusRule,
    StatusSummary,
    course_facts,
    course_facts_from_rows,
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
    "CourseFacts",
    "CourseRef",
    "EnrollmentStatus",
    "Evaluation",
    "EventKind",
    "EventRow",
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
    "StatusRule",
    "StatusSummary",
    "VersionDiff",
    "course_facts",
    "course_facts_from_rows",
    "course_ids",
    "diff",
    "diff_items",
    "evaluate",
    "item_key",
    "validate_tree",
]
