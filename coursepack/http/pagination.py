"""Keyset pagination for list endpoints: ``limit`` and an opaque ``after`` cursor.

Every list is in id order, oldest first: ids never change and new rows get
higher ones, so reading a list page by page with ``after=<next>`` returns each
row once, however the list changes meanwhile, and a client that keeps the last
``next`` reads only what was added since (ADR 0028). The next page is in the
body (``next``) and in a ``Link: <…>; rel="next"`` header.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import BigIntegerField, Q, QuerySet
from django.db.models.functions import Cast
from django.http import HttpRequest
from ninja import Field, Schema
from pydantic import BaseModel, create_model

from coursepack.audit.models import AuditEvent
from coursepack.http import cursors
from coursepack.http.schemas import MomentIn
from coursepack.packaging.models import CourseGroupVersion

MAX_LIMIT = 200

#: The attribute of a request where ``paginate`` leaves the next page's cursor,
#: for ``CoursepackAPI.create_response`` to send as a Link header.
NEXT_ATTRIBUTE = "_coursepack_next_cursor"


class PageParams(Schema):
    """Which slice of a list to return."""

    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="How many items (1-200).")
    after: str | None = Field(
        None,
        max_length=200,
        description=(
            "The `next` of the previous page: the items after it. Absent: from the first "
            "(oldest) item. Opaque; a cursor of another list is 422."
        ),
    )
    updated_since: MomentIn | None = Field(
        None,
        description=(
            "Only items created or changed at or after this moment (RFC 3339, or a date: "
            "the end of that day), by the audit log, which records every write. A package "
            "counts as changed when anything of it is (its versions, enrollments, …), a "
            "group when one of its versions is. Same order and paging as without it."
        ),
    )


class OffsetPageParams(Schema):
    """Which slice of a report to return (reports are ranked, not synced)."""

    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="How many items (1-200).")
    offset: int = Field(0, ge=0, le=10_000_000, description="How many items to skip.")


_pages: dict[type, type[Schema]] = {}


def page_of(item: type[BaseModel]) -> type[Schema]:
    """Return the schema of a page of ``item``s: count, limit, next, items."""
    if item not in _pages:
        _pages[item] = create_model(
            f"{item.__name__}Page",
            __base__=Schema,
            count=(int, Field(description="How many items the whole list holds.")),
            limit=(int, Field(description="The most items a page holds.")),
            next=(
                str | None,
                Field(
                    description=(
                        "Pass as `after` for the next page; null on the last page. Also "
                        'sent as `Link: <…>; rel="next"`.'
                    )
                ),
            ),
            items=(list[item], Field(description="The items, in id order.")),  # type: ignore[valid-type]
        )
    return _pages[item]


_offset_pages: dict[type, type[Schema]] = {}


def offset_page_of(item: type[BaseModel]) -> type[Schema]:
    """Return the schema of a page of a ranked list (``OffsetPageParams``): count, limit,
    offset, items."""
    if item not in _offset_pages:
        _offset_pages[item] = create_model(
            f"{item.__name__}OffsetPage",
            __base__=Schema,
            count=(int, Field(description="How many items the whole list holds.")),
            limit=(int, Field(description="The most items a page holds.")),
            offset=(int, Field(description="How many items were skipped.")),
            items=(list[item], Field(description="The items, in the list's order.")),  # type: ignore[valid-type]
        )
    return _offset_pages[item]


def paginate(
    queryset: QuerySet[Any],
    params: PageParams,
    request: HttpRequest,
    *,
    changed: Callable[[datetime], Q] | None = None,
) -> dict[str, Any]:
    """Return one page of ``queryset`` in id order after ``params.after`` (two queries:
    the count and the slice), and remember the next page's cursor for the Link header.

    ``updated_since`` keeps the rows the audit log says were written since, or, for
    rows that carry their own times (append-only records, jobs), the rows ``changed``
    selects.
    """
    kind = queryset.model._meta.label_lower
    if params.updated_since is not None:
        since = params.updated_since
        queryset = queryset.filter(
            changed(since) if changed is not None else _changed_since(kind, since)
        )
    rows = queryset.order_by("pk")
    if params.after:
        (last,) = cursors.decode(kind, params.after)
        rows = rows.filter(pk__gt=last)
    items = list(rows[: params.limit + 1])
    more = len(items) > params.limit
    items = items[: params.limit]
    following = cursors.encode_id(kind, items[-1].pk) if more else None
    if following is not None:
        setattr(request, NEXT_ATTRIBUTE, following)
    return {
        "count": queryset.count(),
        "limit": params.limit,
        "next": following,
        "items": items,
    }


def _written(changes: QuerySet[AuditEvent], target_type: str) -> QuerySet[Any]:
    """The ids of the ``target_type`` rows that ``changes`` wrote."""
    return (
        changes.filter(target_type=target_type)
        .annotate(row=Cast("target_id", BigIntegerField()))
        .values("row")
    )


def _changed_since(kind: str, since: datetime) -> Q:
    """The rows of model ``kind`` that the audit log says were written at or after ``since``."""
    changes = AuditEvent.objects.filter(occurred_at__gte=since)
    condition = Q(pk__in=_written(changes, kind))
    if kind == "packaging.package":
        condition |= Q(pk__in=changes.filter(package_id__isnull=False).values("package_id"))
    elif kind == "packaging.coursegroup":
        versions = CourseGroupVersion.objects.filter(
            pk__in=_written(changes, "packaging.coursegroupversion")
        )
        condition |= Q(pk__in=versions.values("group_id"))
    return condition
