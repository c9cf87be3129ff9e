"""Packages as files over the API: export a package, import a file as a draft.

A package file travels as JSON or YAML, the same document either way (validated
by the same schema): the request's ``Content-Type`` says which one it sends, its
``Accept`` which one it wants back (JSON unless YAML is preferred).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from coursepack.http.auth import ADMIN, READERS, require
from coursepack.http.problems import problem_response, responses
from coursepack.interchange import package_files
from coursepack.packaging import selectors

router = Router()

# Query strings are text: a strict integer would refuse every one.
QueryId = Annotated[int, Field(ge=1, le=2**53)]


class ExportQuery(Schema):
    # The version number; default: the active version (else the newest).
    version: QueryId | None = None
    # Every version, oldest first (``version`` is then ignored).
    history: bool = False


_FILE = package_files.inlined_schema()
JSON = "application/json"
YAML = "application/yaml"
# The media types a YAML body may be sent as (application/yaml is RFC 9512's).
_YAML_TYPES = frozenset({YAML, "application/x-yaml", "text/yaml", "text/x-yaml"})
_BOTH = {JSON: {"schema": _FILE}, YAML: {"schema": _FILE}}


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _wants_yaml(accept: str) -> bool:
    """Return whether an Accept header prefers YAML to JSON (ties and */* go to JSON)."""
    best: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        kind = "yaml" if media.lower() in _YAML_TYPES else "json"
        if media.lower() in _YAML_TYPES or media.lower() in (JSON, "*/*", "application/*"):
            best[kind] = max(best.get(kind, 0.0), quality)
    return best.get("yaml", 0.0) > best.get("json", 0.0)


@router.get(
    "/packages/{package_id}/export",
    response=responses({200: dict[str, Any]}, 404),
    tags=["package files"],
    openapi_extra={"responses": {"200": {"content": _BOTH}}},
)
def export_package(request: HttpRequest, package_id: int, query: Query[ExportQuery]) -> Any:
    """Return the package as a package file (see docs/schema/package.schema.json): one
    version, or with ``history=true`` every version, oldest first. JSON, or YAML when
    the ``Accept`` header prefers ``application/yaml``."""
    require(request, *READERS)
    selectors.get_package(package_id)
    document = package_files.export_package(
        package_id=package_id,
        version_number=None if query.history else query.version,
        history=query.history,
    )
    if not _wants_yaml(request.headers.get("Accept", "")):
        response: Any = document
        return response
    yaml_response = HttpResponse(
        package_files.dumps(document, "yaml"), content_type=f"{YAML}; charset=utf-8"
    )
    yaml_response["Vary"] = "Accept"
    return yaml_response


class ImportQuery(Schema):
    # Create the courses the catalog does not have, from the file.
    create_courses: bool = False
    # Make the next draft of this package instead of creating a new package.
    into: QueryId | None = None


class ImportOut(Schema):
    package_id: int
    draft_version_id: int
    version_number: int
    created_courses: list[str]
    created_groups: list[str]
    new_group_versions: list[str]
    reused_groups: list[str]


def _document(request: HttpRequest) -> Any:
    """Return the request's package file, parsed as its Content-Type says."""
    media = _media_type(request.headers.get("Content-Type", "")) or JSON
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(400, "The request body is not UTF-8 text.") from None
    if media in _YAML_TYPES:
        return package_files.loads(text, "yaml")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise HttpError(400, "Cannot parse request body as JSON.") from None


@router.post(
    "/package-files",
    response=responses({201: ImportOut}, 404, 409, 415),
    tags=["package files"],
    openapi_extra={"requestBody": {"content": _BOTH, "required": True}},
)
def import_package(request: HttpRequest, query: Query[ImportQuery]) -> Any:
    """Import a package file (JSON, or YAML sent as ``application/yaml``) as a draft: a
    new package, or with ``into`` the next draft of that package. Published versions
    are never changed; courses are matched by code (missing ones are listed unless
    ``create_courses=true``)."""
    actor = require(request, *ADMIN)
    media = _media_type(request.headers.get("Content-Type", "")) or JSON
    if media != JSON and media not in _YAML_TYPES:
        return problem_response(
            status=415,
            code="unsupported_media_type",
            detail=f"Send the package file as {JSON} or {YAML}, not {media}.",
        )
    document = _document(request)
    outcome = package_files.import_package(
        actor=actor,
        document=document,
        create_courses=query.create_courses,
        into_package_id=query.into,
    )
    draft = outcome.draft
    return Status(
        201,
        {
            "package_id": draft.package_id,
            "draft_version_id": draft.pk,
            "version_number": draft.version_number,
            "created_courses": outcome.created_courses,
            "created_groups": outcome.created_groups,
            "new_group_versions": outcome.new_group_versions,
            "reused_groups": outcome.reused_groups,
        },
    )
