"""Template helpers of the records pages: words for statuses, sources and policies."""

from __future__ import annotations

from django import template

from coursepack.learning.models import EventKind, EventSource

register = template.Library()

_STATUS = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "completed": "Completed",
    "withdrawn": "Withdrawn",
}
_POLICY = {
    "keep": "Everyone kept their version",
    "move_not_started": "Moved those not started",
    "move_in_progress": "Moved everyone not complete, keeping their credit",
}
_NODE_STATE = {
    "completed": "done",
    "in_progress": "in progress",
    "not_started": "not started",
    "locked": "locked",
}


@register.filter
def status_label(value: object) -> str:
    """Say an enrollment status in words."""
    return _STATUS.get(str(value), str(value))


@register.filter
def node_state_label(value: object) -> str:
    """Say a requirement item's state in words."""
    return _NODE_STATE.get(str(value), str(value))


@register.filter
def source_label(value: object) -> str:
    """Say where an event came from: Manual, API, Import, xAPI."""
    return str(dict(EventSource.choices).get(str(value), value))


@register.filter
def kind_label(value: object) -> str:
    """Say what an event records: Completed, Passed, Failed, Void."""
    return str(dict(EventKind.choices).get(str(value), value))


@register.filter
def policy_label(value: object) -> str:
    """Say what an in-flight policy did to learners already enrolled."""
    return _POLICY.get(str(value), str(value) or "—")
