"""Packages as files over the API: export a package, import a file as a draft."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Body, Query, Router, Schema, Status
from pydantic import Field

from coursepack.http.auth import ADMIN, READERS, require
from coursepack.http.problems import responses
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


@router.get(
    "/packages/{package_id}/export",
    response=responses({200: dict[str, Any]}, 404),
    tags=["package files"],
    openapi_extra={
        "responses": {"200": {"content": {"application/json": {"schema": _FILE}}}},
    },
)
def export_package(request: HttpRequest, package_id: int, query: Query[ExportQuery]) -> Any:
    """Return the package as a package file (JSON; see docs/schema/package.schema.json):
    one version, or with ``history=true`` every version, oldest first."""
    require(request, *READERS)
    selectors.get_package(package_id)
    return package_files.export_package(
        package_id=package_id,
        version_number=None if query.history else query.version,
        history=query.history,
    )


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


@router.post(
    "/package-files",
    response=responses({201: ImportOut}, 404, 409),
    tags=["package files"],
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": _FILE}}, "required": True},
    },
)
def import_package(
    request: HttpRequest,
    query: Query[ImportQuery],
    document: dict[str, Any] = Body(...),  # noqa: B008 -- ninja's way to take any JSON object
) -> Any:
    """Import a package file as a draft: a new package, or with ``into`` the next
    draft of that package. Published versions are never changed; courses are matched
    by code (missing ones are listed unless ``create_courses=true``)."""
    actor = require(request, *ADMIN)
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
