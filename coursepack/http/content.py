"""Catalog, course groups, packages and versions."""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Header, Query, Router, Schema, Status

from coursepack.catalog import api as catalog
from coursepack.catalog.models import Course
from coursepack.http import serialize
from coursepack.http.auth import ADMIN, READERS, require
from coursepack.http.pagination import PageParams, page_of, paginate
from coursepack.http.problems import responses
from coursepack.http.schemas import (
    CourseIn,
    CourseOut,
    CoursePatch,
    DiffOut,
    DraftPatch,
    GroupDraftPatch,
    GroupIn,
    GroupOut,
    GroupVersionOut,
    ItemIn,
    ItemPatch,
    NotesIn,
    PackageCreated,
    PackageIn,
    PackageOut,
    PackagePatch,
    PublishGroupIn,
    PublishIn,
    PublishOut,
    PublishPreviewOut,
    PublishRecordOut,
    VersionOut,
    VersionSummaryOut,
)
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors
from coursepack.packaging.errors import (
    GroupNotFound,
    PackageNotFound,
    StaleRevision,
    VersionNotFound,
)
from coursepack.packaging.models import (
    CourseGroup,
    CourseGroupVersion,
    GroupVersionStatus,
    Package,
    PackageVersion,
    PublishRecord,
    VersionStatus,
)

router = Router()


# --- drafts carry a version tag (ETag / If-Match) ----------------------------------


def _etag(revision: int) -> str:
    return f'"{revision}"'


IF_MATCH = r'^\s*(\*|(W/)?"?[0-9]{1,18}"?)\s*$'
IfMatch = Header(
    None,
    alias="If-Match",
    pattern=IF_MATCH,
    description=(
        'The ETag of the draft you edit, e.g. "7"; a stale one is refused with 412. '
        "`*` (or no If-Match) edits whatever the draft is now."
    ),
)


def _expected(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise StaleRevision(
            f"If-Match {if_match!r} is not an ETag this API issued; GET the draft and use its ETag."
        )
    return int(tag)


# --- catalog ---------------------------------------------------------------------------


class CourseFilters(Schema):
    status: Literal["active", "retired"] | None = None
    q: str | None = None


@router.get("/courses", response=responses({200: page_of(CourseOut)}), tags=["catalog"])
def list_courses(
    request: HttpRequest, page: Query[PageParams], filters: Query[CourseFilters]
) -> Any:
    """List the catalog's courses, by code."""
    require(request, *READERS)
    courses = Course.objects.order_by("code")
    if filters.status:
        courses = courses.filter(status=filters.status)
    if filters.q:
        courses = courses.filter(Q(code__icontains=filters.q) | Q(name__icontains=filters.q))
    return paginate(courses, page)


@router.post("/courses", response=responses({201: CourseOut}, 409), tags=["catalog"])
def create_course(request: HttpRequest, body: CourseIn) -> Any:
    """Add a course to the catalog."""
    actor = require(request, *ADMIN)
    return Status(201, catalog.create_course(actor=actor, **body.dict()))


@router.get("/courses/{course_id}", response=responses({200: CourseOut}, 404), tags=["catalog"])
def get_course(request: HttpRequest, course_id: int) -> Any:
    require(request, *READERS)
    return catalog.get_course(course_id)


@router.patch("/courses/{course_id}", response=responses({200: CourseOut}, 404), tags=["catalog"])
def update_course(request: HttpRequest, course_id: int, body: CoursePatch) -> Any:
    """Change a course's name, description or duration (its code never changes)."""
    actor = require(request, *ADMIN)
    return catalog.update_course(actor=actor, course_id=course_id, **body.dict())


@router.post(
    "/courses/{course_id}/retire", response=responses({200: CourseOut}, 404), tags=["catalog"]
)
def retire_course(request: HttpRequest, course_id: int, body: NotesIn) -> Any:
    actor = require(request, *ADMIN)
    return catalog.retire_course(actor=actor, course_id=course_id, notes=body.notes)


@router.post(
    "/courses/{course_id}/reactivate", response=responses({200: CourseOut}, 404), tags=["catalog"]
)
def reactivate_course(request: HttpRequest, course_id: int, body: NotesIn) -> Any:
    actor = require(request, *ADMIN)
    return catalog.reactivate_course(actor=actor, course_id=course_id, notes=body.notes)


@router.delete("/courses/{course_id}", response=responses({204: None}, 404, 409), tags=["catalog"])
def delete_course(request: HttpRequest, course_id: int) -> Any:
    """Delete a course nothing refers to (otherwise: 409, retire it instead)."""
    actor = require(request, *ADMIN)
    catalog.delete_course(actor=actor, course_id=course_id)
    return Status(204, None)


# --- groups ----------------------------------------------------------------------------


def _group_out(group: CourseGroup, versions: list[CourseGroupVersion]) -> dict[str, Any]:
    published = [v for v in versions if v.status == GroupVersionStatus.PUBLISHED]
    draft = next((v for v in versions if v.status == GroupVersionStatus.DRAFT), None)
    newest = versions[-1]
    return {
        "id": group.pk,
        "name": newest.name,
        "kind": newest.kind,
        "latest_published_version_id": published[-1].pk if published else None,
        "draft_version_id": draft.pk if draft else None,
        "versions": [
            {
                "id": v.pk,
                "version_number": v.version_number,
                "name": v.name,
                "kind": v.kind,
                "min_count": v.min_count,
                "status": v.status,
                "published_at": v.published_at,
            }
            for v in versions
        ],
    }


def _groups_out(groups: list[CourseGroup]) -> list[dict[str, Any]]:
    by_group: dict[int, list[CourseGroupVersion]] = {g.pk: [] for g in groups}
    for v in CourseGroupVersion.objects.filter(group__in=groups).order_by(
        "group_id", "version_number"
    ):
        by_group[v.group_id].append(v)
    return [_group_out(g, by_group[g.pk]) for g in groups if by_group[g.pk]]


@router.get("/groups", response=responses({200: page_of(GroupOut)}), tags=["groups"])
def list_groups(request: HttpRequest, page: Query[PageParams]) -> Any:
    """List the reusable course groups with their versions."""
    require(request, *READERS)
    result = paginate(CourseGroup.objects.order_by("id"), page)
    result["items"] = _groups_out(result["items"])
    return result


@router.post("/groups", response=responses({201: GroupVersionOut}), tags=["groups"])
def create_group(request: HttpRequest, body: GroupIn) -> Any:
    """Create a group; returns its draft version 1."""
    actor = require(request, *ADMIN)
    return Status(201, serialize.group_version(packaging.create_group(actor=actor, **body.dict())))


@router.get("/groups/{group_id}", response=responses({200: GroupOut}, 404), tags=["groups"])
def get_group(request: HttpRequest, group_id: int) -> Any:
    require(request, *READERS)
    found = _groups_out(list(CourseGroup.objects.filter(pk=group_id)))
    if not found:
        raise GroupNotFound(f"There is no course group with id {group_id}.")
    return found[0]


@router.post(
    "/groups/{group_id}/drafts",
    response=responses({201: GroupVersionOut}, 404, 409),
    tags=["groups"],
)
def new_group_draft(request: HttpRequest, group_id: int) -> Any:
    """Start a new draft of a group from its newest published version."""
    actor = require(request, *ADMIN)
    return Status(
        201, serialize.group_version(packaging.new_group_draft(actor=actor, group_id=group_id))
    )


def _group_version(group_version_id: int) -> CourseGroupVersion:
    gv = CourseGroupVersion.objects.filter(pk=group_version_id).first()
    if gv is None:
        raise GroupNotFound(f"There is no group version with id {group_version_id}.")
    return gv


def _group_draft_response(response: HttpResponse, gv_id: int) -> dict[str, Any]:
    gv = _group_version(gv_id)
    if gv.status == GroupVersionStatus.DRAFT:
        response["ETag"] = _etag(gv.revision)
    return serialize.group_version(gv)


@router.get(
    "/group-versions/{group_version_id}",
    response=responses({200: GroupVersionOut}, 404),
    tags=["groups"],
)
def get_group_version(request: HttpRequest, response: HttpResponse, group_version_id: int) -> Any:
    """A group version with its items; a draft carries an ETag for edits."""
    require(request, *READERS)
    return _group_draft_response(response, group_version_id)


@router.patch(
    "/group-versions/{group_version_id}",
    response=responses({200: GroupVersionOut}, 404, 409, 412),
    tags=["groups"],
)
def update_group_draft(
    request: HttpRequest,
    response: HttpResponse,
    group_version_id: int,
    body: GroupDraftPatch,
    if_match: str | None = IfMatch,
) -> Any:
    """Edit a group draft's name, description or rule."""
    actor = require(request, *ADMIN)
    fields = body.dict(exclude_unset=True)
    packaging.update_group_draft(
        actor=actor,
        group_version_id=group_version_id,
        expected_revision=_expected(if_match),
        **fields,
    )
    return _group_draft_response(response, group_version_id)


@router.delete(
    "/group-versions/{group_version_id}", response=responses({204: None}, 404, 409), tags=["groups"]
)
def discard_group_draft(request: HttpRequest, group_version_id: int) -> Any:
    actor = require(request, *ADMIN)
    packaging.discard_group_draft(actor=actor, group_version_id=group_version_id)
    return Status(204, None)


@router.post(
    "/group-versions/{group_version_id}/items",
    response=responses({201: GroupVersionOut}, 404, 409, 412),
    tags=["groups"],
)
def add_group_item(
    request: HttpRequest,
    response: HttpResponse,
    group_version_id: int,
    body: ItemIn,
    if_match: str | None = IfMatch,
) -> Any:
    """Add a course or a group to a group draft."""
    actor = require(request, *ADMIN)
    packaging.add_group_item(
        actor=actor,
        group_version_id=group_version_id,
        expected_revision=_expected(if_match),
        **body.dict(),
    )
    return Status(201, _group_draft_response(response, group_version_id))


@router.patch(
    "/group-versions/{group_version_id}/items/{item_id}",
    response=responses({200: GroupVersionOut}, 404, 409, 412),
    tags=["groups"],
)
def edit_group_item(
    request: HttpRequest,
    response: HttpResponse,
    group_version_id: int,
    item_id: int,
    body: ItemPatch,
    if_match: str | None = IfMatch,
) -> Any:
    """Move an item of a group draft or change its required flag."""
    actor = require(request, *ADMIN)
    expected = _expected(if_match)
    if body.required is not None:
        packaging.set_group_item_required(
            actor=actor,
            group_version_id=group_version_id,
            item_id=item_id,
            required=body.required,
            expected_revision=expected,
        )
        expected = None if expected is None else _group_version(group_version_id).revision
    if body.position is not None:
        packaging.move_group_item(
            actor=actor,
            group_version_id=group_version_id,
            item_id=item_id,
            position=body.position,
            expected_revision=expected,
        )
    return _group_draft_response(response, group_version_id)


@router.delete(
    "/group-versions/{group_version_id}/items/{item_id}",
    response=responses({200: GroupVersionOut}, 404, 409, 412),
    tags=["groups"],
)
def remove_group_item(
    request: HttpRequest,
    response: HttpResponse,
    group_version_id: int,
    item_id: int,
    if_match: str | None = IfMatch,
) -> Any:
    actor = require(request, *ADMIN)
    packaging.remove_group_item(
        actor=actor,
        group_version_id=group_version_id,
        item_id=item_id,
        expected_revision=_expected(if_match),
    )
    return _group_draft_response(response, group_version_id)


@router.post(
    "/group-versions/{group_version_id}/publish",
    response=responses({200: GroupVersionOut}, 404, 409, 412),
    tags=["groups"],
)
def publish_group(
    request: HttpRequest,
    group_version_id: int,
    body: PublishGroupIn,
    if_match: str | None = IfMatch,
) -> Any:
    """Publish a group draft (every problem is listed if it cannot be)."""
    actor = require(request, *ADMIN)
    gv = packaging.publish_group_version(
        actor=actor,
        group_version_id=group_version_id,
        change_notes=body.change_notes,
        expected_revision=_expected(if_match),
    )
    return serialize.group_version(gv)


# --- packages --------------------------------------------------------------------------


def _packages_out(packages: list[Package]) -> list[dict[str, Any]]:
    now = timezone.now()
    summaries = {
        s.package.pk: s for s in selectors.package_summaries(now, [p.pk for p in packages])
    }
    out = []
    for p in packages:
        s = summaries[p.pk]
        out.append(
            {
                "id": p.pk,
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
    result = paginate(packages, page)
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
    "/packages/{package_id}/reinstate",
    response=responses({200: PackageOut}, 404),
    tags=["packages"],
)
def reinstate_package(request: HttpRequest, package_id: int, body: NotesIn) -> Any:
    actor = require(request, *ADMIN)
    return _packages_out(
        [packaging.reinstate_package(actor=actor, package_id=package_id, notes=body.notes)]
    )[0]


@router.delete(
    "/packages/{package_id}", response=responses({204: None}, 404, 409), tags=["packages"]
)
def delete_package(request: HttpRequest, package_id: int) -> Any:
    """Delete a never-published package nobody is enrolled in (otherwise 409: retire it)."""
    actor = require(request, *ADMIN)
    packaging.delete_package(actor=actor, package_id=package_id)
    return Status(204, None)


def _states(versions: list[PackageVersion]) -> dict[int, str]:
    if not versions:
        return {}
    now = timezone.now()
    active = selectors.active_version(versions[0].package_id, now)
    active_id = active.pk if active else None
    return {v.pk: selectors.version_state(v, active_id=active_id, now=now) for v in versions}


@router.get(
    "/packages/{package_id}/versions",
    response=responses({200: list[VersionSummaryOut]}, 404),
    tags=["packages"],
)
def list_versions(request: HttpRequest, package_id: int) -> Any:
    """The package's version history, newest first."""
    require(request, *READERS)
    _package(package_id)
    versions = list(
        PackageVersion.objects.filter(package_id=package_id).order_by("-version_number")
    )
    states = _states(versions)
    return [serialize.version_summary(v, states[v.pk]) for v in versions]


@router.get(
    "/packages/{package_id}/publish-log",
    response=responses({200: list[PublishRecordOut]}, 404),
    tags=["packages"],
)
def publish_log(request: HttpRequest, package_id: int) -> Any:
    """Who published or archived which version, when, with notes and in-flight policy."""
    require(request, *READERS)
    _package(package_id)
    records = (
        PublishRecord.objects.filter(package_id=package_id)
        .select_related("version", "actor")
        .order_by("id")
    )
    return [
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
        for r in records
    ]


def _version(version_id: int) -> PackageVersion:
    version = PackageVersion.objects.filter(pk=version_id).first()
    if version is None:
        raise VersionNotFound(f"There is no package version with id {version_id}.")
    return version


def _version_out(response: HttpResponse | None, version_id: int) -> dict[str, Any]:
    version = _version(version_id)
    items = list(version.items.select_related("course", "group_version").order_by("position", "id"))
    group_ids = [i.group_id for i in items if i.group_id is not None]
    newest: dict[int, int] = {}
    for gv in CourseGroupVersion.objects.filter(
        group_id__in=group_ids, status=GroupVersionStatus.PUBLISHED
    ).order_by("group_id", "version_number"):
        newest[gv.group_id] = gv.pk
    if response is not None and version.status == VersionStatus.DRAFT:
        response["ETag"] = _etag(version.revision)
    return {
        **serialize.version_summary(version, _states([version])[version.pk]),
        "description": version.description,
        "items": [serialize.version_item(i, newest) for i in items],
    }


@router.get("/versions/{version_id}", response=responses({200: VersionOut}, 404), tags=["versions"])
def get_version(request: HttpRequest, response: HttpResponse, version_id: int) -> Any:
    """A version with its items; a draft carries an ETag for edits."""
    require(request, *READERS)
    return _version_out(response, version_id)


@router.patch(
    "/versions/{version_id}",
    response=responses({200: VersionOut}, 404, 409, 412),
    tags=["versions"],
)
def update_draft(
    request: HttpRequest,
    response: HttpResponse,
    version_id: int,
    body: DraftPatch,
    if_match: str | None = IfMatch,
) -> Any:
    """Edit a draft's name or description."""
    actor = require(request, *ADMIN)
    packaging.update_draft(
        actor=actor, version_id=version_id, expected_revision=_expected(if_match), **body.dict()
    )
    return _version_out(response, version_id)


@router.delete(
    "/versions/{version_id}", response=responses({204: None}, 404, 409), tags=["versions"]
)
def discard_draft(request: HttpRequest, version_id: int) -> Any:
    """Discard a draft (published and archived versions are never deleted: 409)."""
    actor = require(request, *ADMIN)
    packaging.discard_draft(actor=actor, version_id=version_id)
    return Status(204, None)


@router.post(
    "/versions/{version_id}/items",
    response=responses({201: VersionOut}, 404, 409, 412),
    tags=["versions"],
)
def add_item(
    request: HttpRequest,
    response: HttpResponse,
    version_id: int,
    body: ItemIn,
    if_match: str | None = IfMatch,
) -> Any:
    """Add a course or a group (pinned at its newest published version) to a draft."""
    actor = require(request, *ADMIN)
    packaging.add_item(
        actor=actor, version_id=version_id, expected_revision=_expected(if_match), **body.dict()
    )
    return Status(201, _version_out(response, version_id))


@router.patch(
    "/versions/{version_id}/items/{item_id}",
    response=responses({200: VersionOut}, 404, 409, 412),
    tags=["versions"],
)
def edit_item(
    request: HttpRequest,
    response: HttpResponse,
    version_id: int,
    item_id: int,
    body: ItemPatch,
    if_match: str | None = IfMatch,
) -> Any:
    """Move an item of a draft or make it required/optional."""
    actor = require(request, *ADMIN)
    expected = _expected(if_match)
    if body.required is not None:
        packaging.set_item_required(
            actor=actor,
            version_id=version_id,
            item_id=item_id,
            required=body.required,
            expected_revision=expected,
        )
        expected = None if expected is None else _version(version_id).revision
    if body.position is not None:
        packaging.move_item(
            actor=actor,
            version_id=version_id,
            item_id=item_id,
            position=body.position,
            expected_revision=expected,
        )
    return _version_out(response, version_id)


@router.delete(
    "/versions/{version_id}/items/{item_id}",
    response=responses({200: VersionOut}, 404, 409, 412),
    tags=["versions"],
)
def remove_item(
    request: HttpRequest,
    response: HttpResponse,
    version_id: int,
    item_id: int,
    if_match: str | None = IfMatch,
) -> Any:
    actor = require(request, *ADMIN)
    packaging.remove_item(
        actor=actor, version_id=version_id, item_id=item_id, expected_revision=_expected(if_match)
    )
    return _version_out(response, version_id)


@router.post(
    "/versions/{version_id}/items/{item_id}/use-latest-group-version",
    response=responses({200: VersionOut}, 404, 409, 412),
    tags=["versions"],
)
def use_latest_group_version(
    request: HttpRequest,
    response: HttpResponse,
    version_id: int,
    item_id: int,
    if_match: str | None = IfMatch,
) -> Any:
    """Re-pin a group item of a draft to the group's newest published version."""
    actor = require(request, *ADMIN)
    packaging.use_latest_group_version(
        actor=actor, version_id=version_id, item_id=item_id, expected_revision=_expected(if_match)
    )
    return _version_out(response, version_id)


@router.get(
    "/versions/{version_id}/publish-preview",
    response=responses({200: PublishPreviewOut}, 404),
    tags=["versions"],
)
def publish_preview(request: HttpRequest, version_id: int) -> Any:
    """What publishing this draft now would do, per in-flight policy, and what blocks it."""
    require(request, *READERS)
    version = _version(version_id)
    problems = (
        packaging.publish_problems(version.pk)
        if version.status == VersionStatus.DRAFT
        else [f"Version {version.version_number} is already {version.status}."]
    )
    preview = learning.preview_publish(version_id=version_id)
    return {
        "version_id": version.pk,
        "current_version_id": preview.current_version.pk if preview.current_version else None,
        "open_enrollments": preview.open_enrollments,
        "by_status": preview.by_status,
        "policies": [p.__dict__ for p in preview.policies],
        "problems": problems,
    }


@router.post(
    "/versions/{version_id}/publish",
    response=responses({200: PublishOut}, 404, 409, 412),
    tags=["versions"],
)
def publish(
    request: HttpRequest, version_id: int, body: PublishIn, if_match: str | None = IfMatch
) -> Any:
    """Publish a draft now, or schedule it for a future effective date."""
    actor = require(request, *ADMIN)
    outcome = packaging.publish_version(
        actor=actor,
        version_id=version_id,
        change_notes=body.change_notes,
        effective_at=body.effective_at,
        inflight_policy=body.inflight_policy,
        expected_revision=_expected(if_match),
    )
    version = outcome.version
    return {
        "version": serialize.version_summary(version, _states([version])[version.pk]),
        "previous_version_id": outcome.previous.pk if outcome.previous else None,
        "scheduled": outcome.scheduled,
        "moved_enrollments": outcome.moved_enrollments,
    }


@router.post(
    "/versions/{version_id}/new-draft",
    response=responses({201: VersionOut}, 404, 409),
    tags=["versions"],
)
def new_draft(request: HttpRequest, response: HttpResponse, version_id: int, body: NotesIn) -> Any:
    """Start the next draft as a copy of this published, scheduled or archived version."""
    actor = require(request, *ADMIN)
    draft = packaging.create_draft_from(actor=actor, version_id=version_id, notes=body.notes)
    return Status(201, _version_out(response, draft.pk))


class DiffQuery(Schema):
    against: int


@router.get(
    "/versions/{version_id}/diff", response=responses({200: DiffOut}, 404), tags=["versions"]
)
def diff(request: HttpRequest, version_id: int, query: Query[DiffQuery]) -> Any:
    """What changed from version ``against`` (older) to this one."""
    require(request, *READERS)
    return serialize.version_diff(
        query.against, version_id, selectors.diff_versions(query.against, version_id)
    )
