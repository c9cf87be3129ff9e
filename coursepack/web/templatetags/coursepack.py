"""Template helpers for showing requirement rules."""

from __future__ import annotations

from django import template

from coursepack import rules

register = template.Library()


@register.filter
def is_group(node: object) -> bool:
    return isinstance(node, rules.Group)


@register.filter
def rule_text(group: rules.Group) -> str:
    """Say a group's rule the way the seed's sketches do."""
    if group.kind == rules.GroupKind.FAMILY:
        return f"Complete 1 of {len(group.items)}"
    if group.kind == rules.GroupKind.SERIES:
        return "Complete all in order"
    wanted = group.min_count if group.min_count is not None else len(group.items)
    return f"Complete {wanted} of {len(group.items)}"
