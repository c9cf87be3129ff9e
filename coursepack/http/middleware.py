"""Middleware: size limits, errors as problem+json under /api/, no-store, idle sessions.

- :class:`ProblemMiddleware` refuses a body larger than
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with 413 before anything reads it, answers a
  busy database with 503 and ``Retry-After`` (problem+json under ``/api/``, a
  page elsewhere), and makes every other error under ``/api/`` — Django's own
  404, ninja's 405, a 500 — an ``application/problem+json`` body.
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
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers

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


def server_error_response(request: HttpRequest, exc: BaseException | None) -> HttpResponse:
    """Return the answer to an unexpected exception: 503 if the database was busy,
    413 if the body was too large, else 500 (problem+json under /api/)."""
    if is_busy(exc):
        return busy_response(request)
    if isinstance(exc, RequestDataTooBig):
        return too_large_response(request)
    logger.error("Server error on %s %s", request.method, request.path, exc_info=exc)
    if _is_api(request):
        return problem_response(status=500, code="server_error", detail=_DETAILS[500])
    return HttpResponse(
        render_to_string("web/500.html", request=request)
        if _template_exists("web/500.html")
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

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if is_busy(exc) or isinstance(exc, RequestDataTooBig) or _is_api(request):
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


_LAST_SEEN = "_coursepack_last_seen"
# Stamping the session on every request would write the session row on every
# read; a minute's resolution is enough for a 30-minute timeout.
_STAMP_RESOLUTION_SECONDS = 60


class SessionIdleTimeoutMiddleware:
    """Sign out a session that made no request for ``SESSION_IDLE_TIMEOUT`` seconds."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            last_seen = request.session.get(_LAST_SEEN)
            if last_seen is not None and now - float(last_seen) > settings.SESSION_IDLE_TIMEOUT:
                # The sign-out audit record says why (accounts.signals).
                request.coursepack_signed_out_idle = True  # type: ignore[attr-defined]
                logout(request)
            elif last_seen is None or now - float(last_seen) > _STAMP_RESOLUTION_SECONDS:
                request.session[_LAST_SEEN] = now
        return self.get_response(request)
