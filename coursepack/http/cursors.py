"""Opaque cursors: where a client stopped reading a list or the events feed.

A cursor is the position (the sort key values of the last item read) with the
list's name, base64url-encoded. Clients must treat it as opaque: its contents may
change between releases (ADR 0028). A cursor of another list, or one we did not
issue, is 422 naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from coursepack.errors import InvalidInput

__all__ = ["decode", "encode", "encode_id", "id_encoder", "link_next"]


def encode(kind: str, *position: Any) -> str:
    """Return the cursor for ``position`` in the list called ``kind``."""
    raw = json.dumps([kind, *position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_id(kind: str, pk: int) -> str:
    """``encode(kind, pk)`` for one integer, without the JSON encoder."""
    return id_encoder(kind)(pk)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


@functools.cache
def id_encoder(kind: str) -> Callable[[int], str]:
    """Return a function giving the cursor of one integer position in list ``kind``:
    the events feed gives every event its cursor.

    The JSON's head (``["kind",`` padded with spaces, which JSON allows, to a
    multiple of three bytes) is base64-encoded once; per id only the tail is, and
    the two concatenate into the base64 of the whole.
    """
    head = f'["{kind}",'.encode()
    head += b" " * (-len(head) % 3)
    prefix = base64.urlsafe_b64encode(head).decode()

    def encode(pk: int) -> str:
        tail = binascii.b2a_base64(b"%d]" % pk, newline=False).translate(_URLSAFE)
        return prefix + tail.rstrip(b"=").decode()

    return encode


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
