"""URLs of a table's rows built once per page, not once per row (ADR 0036, amended).

``reverse`` (what ``{% url %}`` calls) resolves a route each time: ~85 µs, so a list of
50 rows with three links each spends more on its URLs than on its query. A row's link
differs from the next row's by its ids alone: :func:`link` reverses the route once with
marker ids and returns a function that puts a row's ids in their places.
"""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse
from django.utils.html import escape

__all__ = ["ID", "link"]


class _Id:
    """Where a row's id goes in :func:`link`'s arguments."""

    def __repr__(self) -> str:
        return "ID"


ID = _Id()

# Marker ids: digits no route of this project writes around an id of its own.
_MARK = 9_182_736_450


def link(viewname: str, *args: object) -> Callable[..., str]:
    """Return ``build(*ids)``: ``reverse(viewname, args=...)`` with each :data:`ID` in
    ``args`` replaced by the next of ``ids``, HTML-escaped as ``{% url %}`` writes it.

    ``link("web:draft", "package", ID)(7) == escape(reverse("web:draft", args=["package", 7]))``.
    Call it once per page (one ``reverse``), then the function once per row.
    """
    marks: list[str] = []
    filled: list[object] = []
    for arg in args:
        if arg is ID:
            marks.append(str(_MARK + len(marks)))
            filled.append(int(marks[-1]))
        else:
            filled.append(arg)
    path = str(escape(reverse(viewname, args=filled)))
    parts: list[str] = []
    rest = path
    for mark in marks:
        before, found, rest = rest.partition(mark)
        if not found or mark in rest:
            raise ValueError(f"cannot place the ids of {viewname} in {path}")
        parts.append(before)
    parts.append(rest)
    if len(parts) == 2:
        head, tail = parts
        return lambda pk: f"{head}{int(pk)}{tail}"

    def build(*ids: int) -> str:
        if len(ids) != len(marks):
            raise TypeError(f"{viewname} takes {len(marks)} ids, not {len(ids)}")
        out = [parts[0]]
        for pk, part in zip(ids, parts[1:], strict=True):
            out.append(str(int(pk)))
            out.append(part)
        return "".join(out)

    return build
