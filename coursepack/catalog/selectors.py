"""Reads of the course catalog."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from coursepack.catalog.models import Course

__all__ = ["courses"]


def courses(*, search: str = "", status: str = "") -> QuerySet[Course]:
    """Return the catalog's courses by code, narrowed by a search text and a status."""
    found = Course.objects.order_by("code")
    if status:
        found = found.filter(status=status)
    if search.strip():
        text = search.strip()
        found = found.filter(Q(code__icontains=text) | Q(name__icontains=text))
    return found
