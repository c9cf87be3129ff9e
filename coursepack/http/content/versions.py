"""Package version routes: /versions — drafts, items, publishing, diffs."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Schema, Status

from coursepack.http import serialize
from coursepack.http.auth import ADMIN, READERS, require
from coursepack.http.content._shared import IfMatch, _etag, _expected, _states, router
from coursepack.http.problems import responses
from coursepack.http.schemas import (
    DiffOut,
    DraftPatch,
    ItemIn,
    ItemPatch,
    NotesIn,
    PublishIn,
    PublishOut,
    PublishPreviewOut,
    VersionOut,
)
from coursepack.jobs import api as jobs
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors
from coursepack.packaging.errors import (
    VersionNotFound,
)
from coursepack.packaging.models import (
    CourseGroupVersion,
    GroupVersionStatus,
    PackageVersion,
    VersionStatus,
)


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
    started = jobs.start_publish(
        actor=actor,
        version_id=version_id,
        change_notes=body.change_notes,
        effective_at=body.effective_from,
        inflight_policy=body.inflight_policy,
        expected_revision=_expected(if_match),
    )
    outcome = started.outcome
    version = outcome.version
    return {
        "version": serialize.version_summary(version, _states([version])[version.pk]),
        "previous_version_id": outcome.previous.pk if outcome.previous else None,
        "scheduled": outcome.scheduled,
        "moved_enrollments": outcome.moved_enrollments,
        "moves_job_id": started.moves_job.pk if started.moves_job else None,
    }


@router.post(
    "/versions/{version_id}/drafts",
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
