"""RFC 9457 problem details: how every error leaves the API."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Schema

from coursepack.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"


WWW_AUTHENTICATE = 'Bearer realm="coursepack", charset="UTF-8"'


class FieldProblem(Schema):
    """One invalid input: where it is (a JSON Pointer into the body, or a parameter) and what is wrong."""

    pointer: str | None = Field(
        None,
        description=(
            "Where in the request body (RFC 6901 JSON Pointer), e.g. `/events/1/course_id` "
            "for the second batch item's course; absent for a parameter."
        ),
        examples=["/events/1/course_id"],
    )
    parameter: str | None = Field(
        None, description="The query, path or header parameter, e.g. `as_of`; absent for the body."
    )
    # "in" is a Python keyword: the attribute is in_ and the JSON name "in".
    in_: Literal["query", "path", "header"] | None = Field(
        None, alias="in", description="Where the parameter is."
    )
    message: str = Field(description="What is wrong, for a person to read.")


class Problem(Schema):
    """An ``application/problem+json`` body (RFC 9457) with Coursepack's stable code."""

    type: str = Field(
        description="A URN naming the kind of problem: `urn:coursepack:problem:<code>`."
    )
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong in this case, for a person to read.")
    code: str = Field(description="A stable, machine-readable code, e.g. `invalid_input`.")
    problems: list[str] = Field([], description="Every problem found, as sentences.")
    errors: list[FieldProblem] = Field([], description="Every invalid input, with where it is.")
    existing_id: int | None = Field(
        None,
        description="On a 409 that a resource already exists: that resource's id.",
    )


def problem_response(
    *,
    status: int,
    code: str,
    detail: str,
    title: str | None = None,
    problems: list[str] | None = None,
    errors: list[dict[str, str]] | None = None,
    existing_id: int | None = None,
) -> HttpResponse:
    """Return a problem+json response."""
    body: dict[str, Any] = {
        "type": f"urn:coursepack:problem:{code}",
        "title": title or code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        "problems": problems or [],
        "errors": errors or [],
    }
    if existing_id is not None:
        body["existing_id"] = existing_id
    return HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)


def json_pointer(parts: Any) -> str:
    """Return the RFC 6901 JSON Pointer to ``parts`` (keys and list indexes), e.g. ``/events/1``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


_SEGMENTS = re.compile(r"[^.\[\]]+")


def _field_of(problem: str) -> tuple[str, str]:
    field, sep, message = problem.partition(": ")
    return (field, message) if sep and " " not in field else ("", problem)


def _where(request: HttpRequest, field: str) -> dict[str, str]:
    """Name a service's field: a parameter when the request has one of that name (or
    no body), else a JSON Pointer into the body (``events[1].kind`` -> ``/events/1/kind``)."""
    if field.startswith("/"):
        return {"pointer": field}
    if field in request.GET or request.method in ("GET", "HEAD", "DELETE"):
        return {"parameter": field, "in": "query"}
    if field.lower() in ("if-match", "idempotency-key"):
        return {"parameter": field, "in": "header"}
    return {"pointer": json_pointer(_SEGMENTS.findall(field))}


def domain_error_response(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """Map a typed domain error to its problem+json response."""
    errors = []
    if exc.code == "invalid_input":
        errors = [
            {**_where(request, f), "message": m}
            for f, m in (_field_of(p) for p in exc.problems)
            if f
        ]
    return problem_response(
        status=exc.http_status,
        code=exc.code,
        detail=exc.message,
        problems=exc.problems,
        errors=errors,
        existing_id=getattr(exc, "existing_id", None),
    )


def responses(ok: dict[int, Any], *codes: int) -> dict[int, Any]:
    """Declare an operation's responses: its successes, the given error codes, and the
    errors every operation can return (400 unreadable body, 401 unauthenticated,
    403 role or CSRF, 422 invalid input)."""
    declared: dict[int, Any] = dict(ok)
    for code in (400, 401, 403, 422, *codes):
        declared[code] = Problem
    return declared


#: The ``x-`` key under which an operation's ``openapi_extra`` names its response
#: headers; ``CoursepackAPI`` moves them into the responses of the schema.
RESPONSE_HEADERS = "x-coursepack-response-headers"
LINK_NEXT = 'The next page of the list: `<…?after=…>; rel="next"` (RFC 8288).'
ETAG = 'The draft\'s version tag, e.g. `"7"`: send it back as If-Match.'
LOCATION = "The URL of what was created."


def response_headers(*statuses: int, **headers: str) -> dict[str, Any]:
    """Declare headers (name: description) that the responses of ``statuses`` carry:
    pass as ``openapi_extra``. Underscores in names become dashes."""
    declared = {name.replace("_", "-"): text for name, text in headers.items()}
    return {RESPONSE_HEADERS: {str(s): declared for s in statuses}}
