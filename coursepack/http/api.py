"""Coursepack's JSON API, v1: ``/api/v1/``, schema at ``/api/v1/openapi.json``, docs at ``/api/v1/docs``.

Thin by design: parse, check the caller's role, call a service or selector,
serialise. Every error leaves as ``application/problem+json`` (RFC 9457).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import Operation
from ninja.parser import Parser

from coursepack.errors import DomainError
from coursepack.http import (
    accounts,
    audiences,
    audit,
    content,
    cursors,
    events,
    exports,
    interchange,
    jobs,
    learning,
    lifecycle,
    notifications,
    openapi,
    organisation,
    reports,
    webhooks,
)
from coursepack.http.auth import BrowserSession, CsrfFailed, TokenAuth
from coursepack.http.content import IF_MATCH
from coursepack.http.middleware import server_error_response
from coursepack.http.pagination import NEXT_ATTRIBUTE
from coursepack.http.problems import (
    LINK_NEXT,
    PROBLEM_CONTENT_TYPE,
    RESPONSE_HEADERS,
    WWW_AUTHENTICATE,
    domain_error_response,
    json_pointer,
    problem_response,
)
from coursepack.http.schemas import NATURAL_KEY, NOT_BLANK, NUL_FREE


class CoursepackAPI(NinjaAPI):
    """NinjaAPI whose schema says that errors are ``application/problem+json``.

    The schema is built once per URL prefix: building it takes seconds, and the
    routes do not change while the process runs.
    """

    def get_openapi_operation_id(self, operation: Operation) -> str:
        """Name each operation after its view function (``create_course``), so a generated
        client reads ``create_course.sync(...)``; two views of one name are refused."""
        name = operation.view_func.__name__
        seen: dict[str, str] = self.__dict__.setdefault("_coursepack_operation_ids", {})
        where = f"{operation.view_func.__module__}.{name}"
        if seen.setdefault(name, where) != where:
            raise ImproperlyConfigured(
                f"Two API views are called {name!r} ({seen[name]} and {where}): "
                "operation ids come from view names and must be unique."
            )
        return name

    def create_response(
        self,
        request: HttpRequest,
        data: Any,
        *,
        status: int | None = None,
        temporal_response: HttpResponse | None = None,
    ) -> HttpResponse:
        response = super().create_response(
            request, data, status=status, temporal_response=temporal_response
        )
        following = getattr(request, NEXT_ATTRIBUTE, None)
        if following is not None and "Link" not in response:
            cursors.link_next(request, response, "after", following)
        if response.status_code == 201 and "Location" not in response:
            match = request.resolver_match
            route = match.route if match is not None else ""
            name = operation_id(route, request.method or "")
            created = openapi.location_for(name or "", data)
            if created is not None:
                response["Location"] = f"/api/v1{created}"
        return response

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
                    for parameter in operation.get("parameters", []):
                        _not_nullable(parameter)
                    _declare_headers(operation)
                for method, operation in operations.items():
                    if method == "post":
                        _idempotent(operation)
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content")
                        if int(status) >= 400 and content and "application/json" in content:
                            content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")
            openapi.finish(schema)
            cache[path_prefix] = schema
        return cache[path_prefix]


def _declare_headers(operation: dict[str, Any]) -> None:
    """Move the headers an operation declared with ``response_headers`` into its responses,
    and declare the Link header of every page of a list."""
    responses = operation["responses"]
    ok = responses.get(200, {})
    ref = ok.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
    if ref.endswith("Page"):
        operation.setdefault(RESPONSE_HEADERS, {}).setdefault("200", {})["Link"] = LINK_NEXT
    for status, headers in operation.pop(RESPONSE_HEADERS, {}).items():
        # ninja keys responses by int; a JSON round trip would make them str.
        key = next((k for k in responses if str(k) == str(status)), int(status))
        response = responses.setdefault(key, {"description": "OK"})
        response.setdefault("headers", {}).update(
            {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in headers.items()
            }
        )


_IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": (
        "Any unique string (e.g. a UUID) naming this request: sending it again with the "
        "same request returns the first answer (with `Idempotent-Replayed: true`) and "
        "changes nothing; with another request it is 409 `idempotency_conflict`."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def _idempotent(operation: dict[str, Any]) -> None:
    """Declare the Idempotency-Key every POST takes (``http.idempotency``) and its 409."""
    parameters = operation.setdefault("parameters", [])
    if not any(p["name"] == "Idempotency-Key" for p in parameters):
        parameters.append(dict(_IDEMPOTENCY_KEY))
    problem = {"$ref": "#/components/schemas/Problem"}
    operation["responses"].setdefault(
        409,
        {"description": "Conflict", "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}}},
    )


def _not_nullable(parameter: dict[str, Any]) -> None:
    """Declare an optional parameter as its type, not "type or null": a parameter is
    left out, never sent as null, and a generated client given None would crash."""
    schema = parameter.get("schema", {})
    variants = schema.get("anyOf")
    if parameter.get("required") or not variants:
        return
    kept = [v for v in variants if v.get("type") != "null"]
    if len(kept) == len(variants):
        return
    del schema["anyOf"]
    if len(kept) == 1:
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept


class UnsupportedMediaType(Exception):
    """A request body that is not JSON, sent to an operation that reads one."""


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class JsonOnlyParser(Parser):
    """ninja's JSON parser, refusing a body of another media type (415, not "unreadable")."""

    def parse_body(self, request: HttpRequest) -> Any:
        if not _is_json(request.content_type):
            raise UnsupportedMediaType(request.content_type or "")
        return super().parse_body(request)


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
    parser=JsonOnlyParser(),
)
api.add_router("", accounts.router)
api.add_router("", content.router)
api.add_router("", learning.router)
api.add_router("", lifecycle.router)
api.add_router("", reports.router)
api.add_router("", interchange.router)
api.add_router("", jobs.router)
api.add_router("", exports.router)
api.add_router("", audiences.router)
api.add_router("", notifications.router)
api.add_router("", organisation.router)
api.add_router("", audit.router)
api.add_router("", events.router)
api.add_router("", webhooks.router)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return domain_error_response(request, exc)


def _location(loc: Any) -> dict[str, str]:
    """Name where an invalid input is: a JSON Pointer into the body, or a parameter."""
    loc = [str(p) for p in loc]
    where = loc[0] if loc and loc[0] in ("body", "query", "path", "header") else "body"
    parts = loc[1:] if loc and loc[0] == where else loc
    if where == "body":
        # ninja names the body argument first ("body", "payload", "document", …).
        return {"pointer": json_pointer(parts[1:])}
    if parts and parts[0] in ("page", "filters", "query") and len(parts) > 1:
        parts = parts[1:]
    return {"parameter": parts[0] if parts else where, "in": where}


_PATTERN_MESSAGES = {
    NOT_BLANK: "must not be blank or contain NUL characters",
    NUL_FREE: "must not contain NUL characters",
    NATURAL_KEY: "must be lower-case letters and digits, words joined by - or _",
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
    errors = [{**_location(e.get("loc", ())), "message": _message(e)} for e in exc.errors]
    return problem_response(
        status=422,
        code="invalid_input",
        detail="The request is not valid; see errors for each field.",
        problems=[f"{e.get('pointer', e.get('parameter'))}: {e['message']}" for e in errors],
        errors=errors,
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = problem_response(
        status=401,
        code="unauthenticated",
        detail="Sign in, or send a personal API token as 'Authorization: Bearer <token>'.",
    )
    response["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, UnsupportedMediaType):
        # ninja wraps whatever the parser raises in a 400.
        response = problem_response(
            status=415,
            code="unsupported_media_type",
            detail=(
                f"The body is {exc.__cause__ or 'of no declared type'}; this API reads "
                "application/json. Send the header Content-Type: application/json."
            ),
        )
        response["Accept-Patch" if request.method == "PATCH" else "Accept-Post"] = (
            "application/json"
        )
        return response
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


_ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


_QUERY_PARAMETERS: dict[tuple[str, str], frozenset[str]] = {}
_OPERATION_IDS: dict[tuple[str, str], str] = {}
_QUERY_PARAMETERS_LOCK = threading.Lock()


def warm_query_parameters() -> None:
    """Build the table of every operation's declared query parameters from the schema.

    Building the OpenAPI schema takes a second or more: the server does it when a
    worker starts (coursepack/wsgi.py), not in its first API request.
    """
    with _QUERY_PARAMETERS_LOCK:
        if _QUERY_PARAMETERS:
            return
        table: dict[tuple[str, str], frozenset[str]] = {}
        schema = api.get_openapi_schema(path_prefix="/api/v1/")
        for path, operations in schema["paths"].items():
            for verb, operation in operations.items():
                table[(path, verb.upper())] = frozenset(
                    p["name"] for p in operation.get("parameters", []) if p["in"] == "query"
                )
                _OPERATION_IDS[(path, verb.upper())] = operation["operationId"]
        _QUERY_PARAMETERS.update(table)


def operation_id(route: str, method: str) -> str | None:
    """Return the operation id of the operation at URL ``route`` (Django's pattern)."""
    if not _QUERY_PARAMETERS:
        warm_query_parameters()
    return _OPERATION_IDS.get(("/" + _ROUTE_PARAMETER.sub(r"{\1}", route), method.upper()))


def declared_query_parameters(route: str, method: str) -> frozenset[str] | None:
    """Return the query parameters the operation at URL ``route`` (Django's pattern,
    e.g. ``api/v1/courses/<int:course_id>``) declares, or None if it is none of ours."""
    if not _QUERY_PARAMETERS:
        warm_query_parameters()
    table = _QUERY_PARAMETERS
    return table.get(("/" + _ROUTE_PARAMETER.sub(r"{\1}", route), method.upper()))
