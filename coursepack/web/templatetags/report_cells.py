"""Template filters of the reports page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django import template

register = template.Library()


@register.filter
def report_cell(value: object) -> str:
    """Show one report cell: grouped thousands, one decimal, moments to the minute, "—" for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


@register.filter
def index(items: Sequence[object], position: int) -> object:
    """Return ``items[position]`` (templates cannot subscript with a variable)."""
    return items[position]
