"""Limit/offset pagination for list endpoints."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import QuerySet
from ninja import Field, Schema
from pydantic import BaseModel, create_model

T = TypeVar("T")

MAX_LIMIT = 200


class PageParams(Schema):
    """Which slice of a list to return."""

    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="How many items (1-200).")
    offset: int = Field(0, ge=0, le=10_000_000, description="How many items to skip.")


_pages: dict[type, type[Schema]] = {}


def page_of(item: type[BaseModel]) -> type[Schema]:
    """Return the schema of a page of ``item``s: count, limit, offset, items."""
    if item not in _pages:
        _pages[item] = create_model(
            f"{item.__name__}Page",
            __base__=Schema,
            count=(int, ...),
            limit=(int, ...),
            offset=(int, ...),
            items=(list[item], ...),  # type: ignore[valid-type]
        )
    return _pages[item]


def paginate(queryset: QuerySet[Any], params: PageParams) -> dict[str, Any]:
    """Return one page of ``queryset`` (two queries: the count and the slice)."""
    return {
        "count": queryset.count(),
        "limit": params.limit,
        "offset": params.offset,
        "items": list(queryset[params.offset : params.offset + params.limit]),
    }
