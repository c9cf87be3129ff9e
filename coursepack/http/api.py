"""Coursepack's JSON API, v1: ``/api/v1/``, schema at ``/api/v1/openapi.json``, docs at ``/api/v1/docs``.

Thin by design: parse, check the caller's role, call a service or selector,
serialise. Every error leaves as ``application/problem+json`` (RFC 9457).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import Operation

from coursepack.errors import DomainError
from coursepack.http import (
    accounts,
    audiences,
    audit,
    content,
    interchange,
    jobs,
    learning,
    lifecycle,
    notifications,
    organisation,
    reports,
)
from coursepack.http.auth import BrowserSession, CsrfFailed, TokenAuth
from coursepack.http.content import IF_MATCH
from coursepack.http.middleware import server_error_response
from coursepack.http.problems import PROBLEM_CONTENT_TYPE, domain_error_response, problem_response
from coursepack.http.schemas import NOT_BLANK, NUL_FREE


class CoursepackAPI(NinjaAPI):
    """NinjaAPI whose schema says that errors are ``application/problem+json``.

    The schema is built once per URL prefix: building it takes seconds, and the
    routes do not change while the process runs.
    """

    def get_openapi_operation_id(self, operation: Operation) -> str:
        """Name operations ``<module>_<function>``, counting ``http.content``'s modules as one.

        The content routes were one module; splitting it must not rename their
        operations (clients generate code from these ids).
        """
        module = operation.view_func.__module__
        if module.startswith(f"{content.__name__}."):
            module = content.__name__
        return f"{module}_{operation.view_func.__name__}".replace(".", "_")

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        cache: dict[str, Any] = self.__dict__.setdefault("_coursepack_schemas", {})
        if path_prefix not in cache:
            schema = super().get_openapi_schema(path_prefix=path_prefix)
            for operations in schema["paths"].values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content")
                        if int(status) >= 400 and content and "application/json" in content:
                            content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")
            cache[path_prefix] = schema
        return cache[path_prefix]


api = CoursepackAPI(
    title="Coursepack API",
    version="1",
    description=(
        "Versioned compliance-training packages. Authenticate with a personal API token "
        "(`Authorization: Bearer cp_…`, create one at POST /api/v1/tokens) or a browser session. "
        "Errors are RFC 9457 problem details with a stable `code`."
    ),
    auth=[TokenAuth(), BrowserSession()],
    urls_namespace="api-v1",
)
api.add_router("", accounts.router)
api.add_router("", content.router)
api.add_router("", learning.router)
api.add_router("", lifecycle.router)
api.add_router("", reports.router)
api.add_router("", interchange.router)
api.add_router("", jobs.router)
api.add_router("", audiences.router)
api.add_router("", notifications.router)
api.add_router("", organisation.router)
api.add_router("", audit.router)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return domain_error_response(request, exc)


def _location(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(
        parts[1:]
        if parts and parts[0] in ("payload", "page", "filters", "query", "body")
        else parts
    )


_PATTERN_MESSAGES = {
    NOT_BLANK: "must not be blank or contain NUL characters",
    NUL_FREE: "must not contain NUL characters",
    IF_MATCH: 'must be an ETag this API issued, e.g. "7", or *',
}


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "string_pattern_mismatch":
        # Say what the pattern means; a regex is no help to the reader.
        pattern = str((error.get("ctx") or {}).get("pattern", ""))
        if pattern in _PATTERN_MESSAGES:
            return _PATTERN_MESSAGES[pattern]
    # Our own validators' messages, without pydantic's "Value error, " in front.
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {"field": _location(e.get("loc", ())) or "body", "message": _message(e)} for e in exc.errors
    ]
    return problem_response(
        status=422,
        code="invalid_input",
        detail="The request is not valid; see errors for each field.",
        problems=[f"{e['field']}: {e['message']}" for e in errors],
        errors=errors,
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(
        status=401,
        code="unauthenticated",
        detail="Sign in, or send a personal API token as 'Authorization: Bearer <token>'.",
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, CsrfFailed):
        code = "csrf_failed"
    elif exc.status_code == 400:
        # ninja's only 400: a body that is not JSON.
        code = "malformed_body"
    else:
        code = "http_error"
    return problem_response(status=exc.status_code, code=code, detail=str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(status=404, code="not_found", detail="There is no such resource.")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    # A busy database is 503 + Retry-After, a body over the limit 413; anything
    # else a logged 500 — always problem+json, never a traceback (DEBUG or not).
    return server_error_response(request, exc)
