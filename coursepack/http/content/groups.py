"""Course group routes: /groups and /group-versions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Status

from coursepack.http import serialize
from coursepack.http.auth import ADMIN, READERS, require
from coursepack.http.content._shared import IfMatch, _etag, _expected, router
from coursepack.http.pagination import PageParams, page_of, paginate
from coursepack.http.problems import responses
from coursepack.http.schemas import (
    GroupDraftPatch,
    GroupIn,
    GroupOut,
    GroupVersionOut,
    ItemIn,
    ItemPatch,
    PublishGroupIn,
)
from coursepack.packaging import api as packaging
from coursepack.packaging.errors import (
    GroupNotFound,
)
from coursepack.packaging.models import (
    CourseGroup,
    CourseGroupVersion,
    GroupVersionStatus,
)

# --- groups ----------------------------------------------------------------------------


def _group_out(group: CourseGroup, versions: list[CourseGroupVersion]) -> dict[str, Any]:
    published = [v for v in versions if v.status == GroupVersionStatus.PUBLISHED]
    draft = next((v for v in versions if v.status == GroupVersionStatus.DRAFT), None)
    newest = versions[-1]
    return {
        "id": group.pk,
        "key": group.key,
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
    result = paginate(CourseGroup.objects.order_by("id"), page, request)
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


@router.get("/groups/by-key/{key}", response=responses({200: GroupOut}, 404), tags=["groups"])
def get_group_by_key(request: HttpRequest, key: str) -> Any:
    """The course group with this natural key (given when it was created, or derived from
    its first name)."""
    require(request, *READERS)
    found = _groups_out(list(CourseGroup.objects.filter(key=key)))
    if not found:
        raise GroupNotFound(f"There is no course group with key {key!r}.")
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
