"""Opaque cursors: where a client stopped reading a list or the events feed.

A cursor is the position (the sort key values of the last item read) with the
list's name, base64url-encoded. Clients must treat it as opaque: its contents may
change between releases (ADR 0028). A cursor of another list, or one we did not
issue, is 422 naming the parameter.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from django.http import HttpRequest, HttpResponse

from coursepack.errors import InvalidInput

__all__ = ["decode", "encode", "encode_id", "link_next"]


def encode(kind: str, *position: Any) -> str:
    """Return the cursor for ``position`` in the list called ``kind``."""
    raw = json.dumps([kind, *position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_id(kind: str, pk: int) -> str:
    """``encode(kind, pk)`` for one integer, without the JSON encoder: the events feed
    gives every event its cursor."""
    raw = f'["{kind}",{int(pk)}]'.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(kind: str, cursor: str, *, parameter: str = "after", arity: int = 1) -> list[Any]:
    """Return the position a cursor of list ``kind`` holds (``arity`` values)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except ValueError:
        value = None
    if (
        not isinstance(value, list)
        or len(value) != arity + 1
        or value[0] != kind
        or not all(isinstance(v, int | str) and not isinstance(v, bool) for v in value[1:])
    ):
        raise InvalidInput(
            f"The {parameter} cursor is not one this list issued.",
            problems=[
                f"{parameter}: is not a cursor of this list; pass the `next` value of a "
                "page of the same list"
            ],
        )
    return value[1:]


def link_next(request: HttpRequest, response: HttpResponse, parameter: str, cursor: str) -> None:
    """Add ``Link: <…>; rel="next"``: this request with ``parameter`` set to ``cursor``."""
    query = request.GET.copy()
    query[parameter] = cursor
    url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    response["Link"] = f'<{url}>; rel="next"'
