"""Middleware: size limits, errors as problem+json under /api/, no-store, idle sessions.

- :class:`ProblemMiddleware` refuses a body larger than
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with 413 before anything reads it, answers a
  busy database with 503 and ``Retry-After`` (problem+json under ``/api/``, a
  page elsewhere), and makes every other error under ``/api/`` — Django's own
  404, ninja's 405, a 500 — an ``application/problem+json`` body.
  Integers beyond 64 bits in a path or query are refused (422, or 404 for a
  page's id) before the view runs; a date or number that overflows anywhere
  else is 422 (400 on a page), never a 500.
- :class:`NoStoreMiddleware` marks every response that is not a static file
  ``Cache-Control: no-store``: pages, exports and API answers hold personal data.
- :class:`SessionIdleTimeoutMiddleware` signs a session out after
  ``SESSION_IDLE_TIMEOUT`` seconds without a request.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers

from coursepack.accounts.signals import SIGNED_IN_AT
from coursepack.db_busy import is_busy
from coursepack.http.problems import PROBLEM_CONTENT_TYPE, problem_response

logger = logging.getLogger("coursepack.http")

API_PREFIX = "/api/"
_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
    500: "server_error",
    503: "busy",
}
_DETAILS = {
    404: "There is no such resource.",
    405: "This resource does not support that method; see the Allow header.",
    500: "Something went wrong on the server; nothing was changed. The error was logged.",
}


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def too_large_response(request: HttpRequest) -> HttpResponse:
    """Return the 413 answer to a body above the limit."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    detail = f"The request body is larger than the limit of {limit} bytes; send less at a time."
    if _is_api(request):
        return problem_response(status=413, code="body_too_large", detail=detail)
    return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")


def busy_response(request: HttpRequest) -> HttpResponse:
    """Return the 503 answer to a write that waited too long for the database."""
    retry_after = str(settings.COURSEPACK_RETRY_AFTER_SECONDS)
    response: HttpResponse
    if _is_api(request):
        response = problem_response(
            status=503,
            code="busy",
            detail=(
                "The database is busy with another change and this request could not wait "
                f"longer. Nothing was changed; retry after {retry_after} seconds."
            ),
        )
    else:
        response = HttpResponse(render_to_string("web/503.html", request=request), status=503)
    response["Retry-After"] = retry_after
    return response


_MAX_INT64 = 2**63 - 1
_OUT_OF_RANGE_DETAIL = (
    "A number or a date in the request is out of range: numbers must fit in 64 bits "
    "(at most 9223372036854775807) and dates must lie between the years 1 and 9999 "
    "in UTC too."
)
# Query parameters that are text even when they look like numbers.
_TEXT_PARAMETERS = ("q", "search", "external_id", "as_of", "from", "to", "notes")


def _out_of_range_fields(request: HttpRequest, path_kwargs: dict[str, object]) -> list[str]:
    """Return the path and query parameters holding integers beyond 64 bits."""
    fields = []
    values: list[tuple[str, object]] = list(path_kwargs.items())
    values += [(k, v) for k, v in request.GET.items() if k not in _TEXT_PARAMETERS]
    for name, value in values:
        text = str(value).strip()
        digits = text.removeprefix("-").removeprefix("+")
        if (
            digits.isdigit()
            and digits.isascii()
            and len(digits) >= 19
            and abs(int(text)) > _MAX_INT64
        ):
            fields.append(name)
    return fields


def out_of_range_response(request: HttpRequest, fields: list[str] | None = None) -> HttpResponse:
    """Return 422 (problem+json) under /api/, 404 for a page's path, 400 for a page's query."""
    if _is_api(request):
        errors = [
            {
                "parameter": f,
                "in": "query" if f in request.GET else "path",
                "message": f"must be at most {_MAX_INT64}",
            }
            for f in fields or []
        ]
        return problem_response(
            status=422,
            code="invalid_input",
            detail=_OUT_OF_RANGE_DETAIL,
            problems=[f"{e['parameter']}: {e['message']}" for e in errors]
            or [_OUT_OF_RANGE_DETAIL],
            errors=errors,
        )
    return HttpResponse(_OUT_OF_RANGE_DETAIL, status=400, content_type="text/plain; charset=utf-8")


def _unknown_query_parameters(request: HttpRequest) -> list[str]:
    """Return the query parameters the API operation asked for does not declare."""
    from coursepack.http.api import declared_query_parameters  # the API imports this module

    match = request.resolver_match
    declared = declared_query_parameters(match.route, request.method or "") if match else None
    if declared is None:
        return []
    return sorted(set(request.GET) - declared)


def _unknown_parameters_response(names: list[str]) -> HttpResponse:
    errors = [
        {"parameter": name, "in": "query", "message": "is not a parameter of this operation"}
        for name in names
    ]
    return problem_response(
        status=422,
        code="invalid_input",
        detail=(
            "The request has query parameters this operation does not take: "
            f"{', '.join(names)}. Check their spelling against the API's schema."
        ),
        problems=[f"{e['parameter']}: {e['message']}" for e in errors],
        errors=errors,
    )


def _is_out_of_range(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a number or date that did not fit (Python, SQLite or PostgreSQL)."""
    while exc is not None:
        if isinstance(exc, OverflowError):
            return True
        # PostgreSQL: numeric_value_out_of_range, datetime_field_overflow.
        if getattr(exc, "sqlstate", None) in ("22003", "22008"):
            return True
        if isinstance(exc, ValueError) and "out of range" in str(exc):
            return True
        exc = exc.__cause__
    return False


def server_error_response(request: HttpRequest, exc: BaseException | None) -> HttpResponse:
    """Return the answer to an unexpected exception: 503 if the database was busy,
    413 if the body was too large, 422/400 for a number or date out of range, else
    500 (problem+json under /api/)."""
    if is_busy(exc):
        return busy_response(request)
    if isinstance(exc, RequestDataTooBig):
        return too_large_response(request)
    if _is_out_of_range(exc):
        return out_of_range_response(request)
    logger.error("Server error on %s %s", request.method, request.path, exc_info=exc)
    if _is_api(request):
        return problem_response(status=500, code="server_error", detail=_DETAILS[500])
    # The styled page, rendered without the request: the database may be the cause.
    return HttpResponse(
        render_to_string("web/errors/500.html")
        if _template_exists("web/errors/500.html")
        else "Server error: nothing was changed; the error was logged.",
        status=500,
    )


def _template_exists(name: str) -> bool:
    from django.template import TemplateDoesNotExist
    from django.template.loader import get_template

    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


def _as_problem(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """Rewrite a non-problem error response under /api/ as problem+json."""
    if response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE):
        return response
    status = response.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    problem = problem_response(
        status=status,
        code=_CODES.get(status, "http_error"),
        title=phrase,
        detail=_DETAILS.get(status, f"{phrase}."),
    )
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in response:
            problem[header] = response[header]
    return problem


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an exception no view or middleware answered (sys.exc_info)."""
    return server_error_response(request, sys.exc_info()[1])


class ProblemMiddleware:
    """Body-size limit, busy database → 503, and problem+json for every API error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return too_large_response(request)
        response = self.get_response(request)
        if _is_api(request) and response.status_code >= 400:
            return _as_problem(request, response)
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[object, ...],
        view_kwargs: dict[str, object],
    ) -> HttpResponse | None:
        if _is_api(request):
            unknown = _unknown_query_parameters(request)
            if unknown:
                return _unknown_parameters_response(unknown)
        fields = _out_of_range_fields(request, view_kwargs)
        if not fields:
            return None
        if not _is_api(request) and any(f in view_kwargs for f in fields):
            # A page for an id that cannot exist.
            raise Http404("There is no such page.")
        return out_of_range_response(request, fields)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if (
            is_busy(exc)
            or isinstance(exc, RequestDataTooBig)
            or _is_out_of_range(exc)
            or _is_api(request)
        ):
            return server_error_response(request, exc)
        return None


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on everything but static files (served above this)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            add_never_cache_headers(response)
        return response


#: The signed cookie holding when the browser last made a request.
SEEN_COOKIE = "coursepack_seen"
_SEEN_SALT = "coursepack.session-idle"
# Renew the cookie at most once a minute; a minute's resolution is plenty for a
# 30-minute timeout.
_STAMP_RESOLUTION_SECONDS = 60


class SessionIdleTimeoutMiddleware:
    """Sign out a session that made no request for ``SESSION_IDLE_TIMEOUT`` seconds.

    The last request's time travels in a signed cookie, not in the session row:
    stamping the session would turn every read into a database write (which
    would wait behind other writes). Without the cookie, the sign-in time
    stored in the session counts as the last request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return self.get_response(request)
        now = time.time()
        seen = self._last_seen(request)
        if now - seen > settings.SESSION_IDLE_TIMEOUT:
            # The sign-out audit record says why (accounts.signals).
            request.coursepack_signed_out_idle = True  # type: ignore[attr-defined]
            logout(request)
            response = self.get_response(request)
            response.delete_cookie(SEEN_COOKIE)
            return response
        response = self.get_response(request)
        if now - seen > _STAMP_RESOLUTION_SECONDS or SEEN_COOKIE not in request.COOKIES:
            response.set_signed_cookie(
                SEEN_COOKIE,
                str(int(now)),
                salt=_SEEN_SALT,
                max_age=settings.SESSION_COOKIE_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    @staticmethod
    def _last_seen(request: HttpRequest) -> float:
        cookie = request.get_signed_cookie(SEEN_COOKIE, default=None, salt=_SEEN_SALT)
        signed_in = request.session.get(SIGNED_IN_AT)
        candidates = [float(v) for v in (cookie, signed_in) if v is not None]
        # The later of the two: a new sign-in restarts the clock even if an old cookie lingers.
        return max(candidates) if candidates else time.time()
