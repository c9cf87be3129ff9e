"""RFC 9457 problem details: how every error leaves the API."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Schema

from coursepack.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"


class FieldProblem(Schema):
    """One invalid input, named by its field."""

    field: str
    message: str


class Problem(Schema):
    """An ``application/problem+json`` body (RFC 9457) with Coursepack's stable code."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    problems: list[str] = []
    errors: list[FieldProblem] = []


def problem_response(
    *,
    status: int,
    code: str,
    detail: str,
    title: str | None = None,
    problems: list[str] | None = None,
    errors: list[dict[str, str]] | None = None,
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
    return HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)


def _field_of(problem: str) -> tuple[str, str]:
    field, sep, message = problem.partition(": ")
    return (field, message) if sep and " " not in field else ("", problem)


def domain_error_response(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """Map a typed domain error to its problem+json response."""
    errors = []
    if exc.code == "invalid_input":
        errors = [{"field": f, "message": m} for f, m in (_field_of(p) for p in exc.problems) if f]
    return problem_response(
        status=exc.http_status,
        code=exc.code,
        detail=exc.message,
        problems=exc.problems,
        errors=errors,
    )


def responses(ok: dict[int, Any], *codes: int) -> dict[int, Any]:
    """Declare an operation's responses: its successes, the given error codes, and the
    errors every operation can return (400 unreadable body, 401 unauthenticated,
    403 role or CSRF, 422 invalid input)."""
    declared: dict[int, Any] = dict(ok)
    for code in (400, 401, 403, 422, *codes):
        declared[code] = Problem
    return declared
