"""Package routes: /packages, their versions list and publish log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Schema, Status

from coursepack.http import serialize
from coursepack.http.auth import ADMIN, READERS, require
from coursepack.http.content._shared import _states, router
from coursepack.http.pagination import PageParams, page_of, paginate
from coursepack.http.problems import responses
from coursepack.http.schemas import (
    NotesIn,
    PackageCreated,
    PackageIn,
    PackageOut,
    PackagePatch,
    PublishRecordOut,
    VersionSummaryOut,
)
from coursepack.jobs import api as jobs
from coursepack.learning import selectors as learning_selectors
from coursepack.packaging import api as packaging
from coursepack.packaging.errors import (
    PackageNotFound,
)
from coursepack.packaging.models import (
    Package,
    PackageVersion,
    PublishRecord,
)

# --- packages --------------------------------------------------------------------------


def _packages_out(packages: list[Package]) -> list[dict[str, Any]]:
    now = timezone.now()
    summaries = {
        s.package.pk: s for s in learning_selectors.package_summaries(now, [p.pk for p in packages])
    }
    out = []
    for p in packages:
        s = summaries[p.pk]
        out.append(
            {
                "id": p.pk,
                "key": p.key,
                "name": p.name,
                "description": p.description,
                "category": p.category,
                "status": p.status,
                "created_at": p.created_at,
                "updated_at": p.updated_at,
                "active_version_id": s.active.version.pk if s.active else None,
                "draft_version_id": s.draft.version.pk if s.draft else None,
            }
        )
    return out


class PackageFilters(Schema):
    status: Literal["active", "retired"] | None = None
    category: str | None = None
    q: str | None = None


@router.get("/packages", response=responses({200: page_of(PackageOut)}), tags=["packages"])
def list_packages(
    request: HttpRequest, page: Query[PageParams], filters: Query[PackageFilters]
) -> Any:
    """List packages with their active and draft versions."""
    require(request, *READERS)
    packages = Package.objects.order_by("name", "id")
    if filters.status:
        packages = packages.filter(status=filters.status)
    if filters.category:
        packages = packages.filter(category=filters.category)
    if filters.q:
        packages = packages.filter(name__icontains=filters.q)
    result = paginate(packages, page, request)
    result["items"] = _packages_out(result["items"])
    return result


@router.post("/packages", response=responses({201: PackageCreated}), tags=["packages"])
def create_package(request: HttpRequest, body: PackageIn) -> Any:
    """Create a package and its draft version 1."""
    actor = require(request, *ADMIN)
    draft = packaging.create_package(actor=actor, **body.dict())
    return Status(201, {"package": _packages_out([draft.package])[0], "draft_version_id": draft.pk})


def _package(package_id: int) -> Package:
    package = Package.objects.filter(pk=package_id).first()
    if package is None:
        raise PackageNotFound(f"There is no package with id {package_id}.")
    return package


@router.get("/packages/{package_id}", response=responses({200: PackageOut}, 404), tags=["packages"])
def get_package(request: HttpRequest, package_id: int) -> Any:
    require(request, *READERS)
    return _packages_out([_package(package_id)])[0]


@router.get("/packages/by-key/{key}", response=responses({200: PackageOut}, 404), tags=["packages"])
def get_package_by_key(request: HttpRequest, key: str) -> Any:
    """The package with this natural key (given when it was created, or derived from its name)."""
    require(request, *READERS)
    package = Package.objects.filter(key=key).first()
    if package is None:
        raise PackageNotFound(f"There is no package with key {key!r}.")
    return _packages_out([package])[0]


@router.patch(
    "/packages/{package_id}", response=responses({200: PackageOut}, 404), tags=["packages"]
)
def update_package(request: HttpRequest, package_id: int, body: PackagePatch) -> Any:
    """Change the package's name, description or category (not its versions)."""
    actor = require(request, *ADMIN)
    package = packaging.update_package(actor=actor, package_id=package_id, **body.dict())
    return _packages_out([package])[0]


@router.post(
    "/packages/{package_id}/retire", response=responses({200: PackageOut}, 404), tags=["packages"]
)
def retire_package(request: HttpRequest, package_id: int, body: NotesIn) -> Any:
    """Stop new enrollments and publishes; enrolled learners keep their version."""
    actor = require(request, *ADMIN)
    return _packages_out(
        [packaging.retire_package(actor=actor, package_id=package_id, notes=body.notes)]
    )[0]


@router.post(
    "/packages/{package_id}/reactivate",
    response=responses({200: PackageOut}, 404),
    tags=["packages"],
)
def reactivate_package(request: HttpRequest, package_id: int, body: NotesIn) -> Any:
    """Open a retired package for enrollments and publishes again (its audience, if it
    has one, is reconciled by a job: the people who joined it meanwhile are enrolled)."""
    actor = require(request, *ADMIN)
    package, _ = jobs.reinstate_package(actor=actor, package_id=package_id, notes=body.notes)
    return _packages_out([package])[0]


@router.delete(
    "/packages/{package_id}", response=responses({204: None}, 404, 409), tags=["packages"]
)
def delete_package(request: HttpRequest, package_id: int) -> Any:
    """Delete a never-published package nobody is enrolled in (otherwise 409: retire it)."""
    actor = require(request, *ADMIN)
    packaging.delete_package(actor=actor, package_id=package_id)
    return Status(204, None)


@router.get(
    "/packages/{package_id}/versions",
    response=responses({200: page_of(VersionSummaryOut)}, 404),
    tags=["packages"],
)
def list_versions(request: HttpRequest, package_id: int, page: Query[PageParams]) -> Any:
    """The package's version history, oldest first (in id order, as every list)."""
    require(request, *READERS)
    _package(package_id)
    result = paginate(PackageVersion.objects.filter(package_id=package_id), page, request)
    states = _states(result["items"])
    result["items"] = [serialize.version_summary(v, states[v.pk]) for v in result["items"]]
    return result


def _recorded_since(since: datetime) -> Q:
    # The publish log is append-only: a record changes never, so "since" is its time.
    return Q(occurred_at__gte=since)


@router.get(
    "/packages/{package_id}/publish-log",
    response=responses({200: page_of(PublishRecordOut)}, 404),
    tags=["packages"],
)
def publish_log(request: HttpRequest, package_id: int, page: Query[PageParams]) -> Any:
    """Who published or archived which version, when, with notes and in-flight policy,
    oldest first."""
    require(request, *READERS)
    _package(package_id)
    result = paginate(
        PublishRecord.objects.filter(package_id=package_id).select_related("version", "actor"),
        page,
        request,
        changed=_recorded_since,
    )
    result["items"] = [
        {
            "id": r.pk,
            "version_id": r.version_id,
            "version_number": r.version.version_number,
            "action": r.action,
            "previous_version_id": r.previous_version_id,
            "occurred_at": r.occurred_at,
            "actor": r.actor.get_username() if r.actor else "system",
            "effective_from": r.effective_from,
            "change_notes": r.change_notes,
            "inflight_policy": r.inflight_policy,
            "moved_enrollments": r.moved_enrollments,
        }
        for r in result["items"]
    ]
    return result
