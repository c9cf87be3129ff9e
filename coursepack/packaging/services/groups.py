"""Reusable course groups: create, edit drafts, publish and discard group versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.packaging import selectors
from coursepack.packaging.errors import (
    DraftAlreadyExists,
    DuplicateItem,
    GroupCycle,
    GroupDraftInUse,
    GroupKeyTaken,
    GroupNotFound,
    ItemNotFound,
    PublishValidationFailed,
    VersionNotDraft,
)
from coursepack.packaging.models import (
    CourseGroup,
    CourseGroupItem,
    CourseGroupVersion,
    GroupKind,
    GroupVersionStatus,
    PackageVersion,
)
from coursepack.packaging.services._common import (
    _active_course,
    _check_item_target,
    _check_key,
    _check_notes,
    _check_past,
    _check_position,
    _check_revision,
    _check_rule,
    _check_text_inputs,
    _close_gap,
    _free_key,
    _group_snapshot,
    _insert_position,
    _lock_group,
    _move,
    _require_group_draft,
    _tree_problems,
    _user,
)
from coursepack.validation import collecting


def create_group(
    *,
    actor: Actor,
    name: str,
    kind: str,
    min_count: int | None = None,
    description: str = "",
    key: str | None = None,
) -> CourseGroupVersion:
    """Create a reusable course group and return its draft version 1.

    ``key`` is the group's natural key; a key another group has is refused naming
    that group, so a retried create never makes a second one. Without it the key
    is derived from the name (made unique with a suffix).
    """
    with collecting("The course group cannot be created.") as problems:
        name_, description_ = _check_text_inputs(problems, name, description)
        _check_rule(problems, kind, min_count)
        key = _check_key(problems, key)
    with transaction.atomic():
        if key is not None:
            _refuse_taken_key(key)
        now = timezone.now()
        try:
            # A savepoint: a concurrent create of the same key loses here, not as a 500.
            with transaction.atomic():
                group = CourseGroup.objects.create(
                    key=key or _free_key(CourseGroup, name_ or "", "group"),
                    created_at=now,
                    created_by=_user(actor),
                )
        except IntegrityError:
            if key is not None:
                _refuse_taken_key(key)
            raise
        gv = CourseGroupVersion.objects.create(
            group=group,
            version_number=1,
            name=name_ or "",
            description=description_ or "",
            kind=kind,
            min_count=min_count,
            created_at=now,
            created_by=_user(actor),
        )
        audit.record(
            actor=actor,
            action="group.created",
            target=gv,
            at=now,
            after={**_group_snapshot(gv), "key": group.key},
        )
    return gv


def _refuse_taken_key(key: str) -> None:
    existing = CourseGroup.objects.filter(key=key).values_list("pk", flat=True).first()
    if existing is not None:
        raise GroupKeyTaken(
            f"Course group {existing} already has the key {key!r}: it is the group this "
            "request creates, or choose another key.",
            existing_id=existing,
        )


_UNSET: Any = object()


def update_group_draft(
    *,
    actor: Actor,
    group_version_id: int,
    name: str | None = None,
    description: str | None = None,
    kind: str | None = None,
    min_count: int | None = _UNSET,
    expected_revision: int | None = None,
) -> CourseGroupVersion:
    """Change a group draft's name, description or rule (kind and X of a choice)."""
    with collecting("The group draft cannot be changed.") as problems:
        name, description = _check_text_inputs(problems, name, description)
    with transaction.atomic():
        gv = _lock_group(group_version_id)
        _require_group_draft(gv, "edited")
        _check_revision(gv.revision, expected_revision, f"Group draft {gv.name!r}")
        new_kind = kind if kind is not None else gv.kind
        new_min = gv.min_count if min_count is _UNSET else min_count
        if new_kind != GroupKind.CHOICE and min_count is _UNSET:
            new_min = None
        with collecting("The group draft cannot be changed.") as problems:
            _check_rule(problems, new_kind, new_min)
        before = _group_snapshot(gv)
        if name is not None:
            gv.name = name
        if description is not None:
            gv.description = description
        gv.kind = new_kind
        gv.min_count = new_min
        gv.revision += 1
        gv.save()
        now = timezone.now()
        audit.record(
            actor=actor,
            action="group.draft_updated",
            target=gv,
            at=now,
            before=before,
            after=_group_snapshot(gv),
        )
    return gv


def _reachable_groups(version_id: int) -> set[int]:
    """Return the ids of every group nested (at any depth) in a group version, itself included."""
    seen_versions: set[int] = set()
    groups: set[int] = set()
    frontier = {version_id}
    while frontier:
        seen_versions |= frontier
        rows = CourseGroupVersion.objects.filter(pk__in=frontier).values_list("group_id", flat=True)
        groups.update(rows)
        frontier = (
            set(
                CourseGroupItem.objects.filter(
                    group_version_id__in=frontier, child_version__isnull=False
                ).values_list("child_version_id", flat=True)
            )
            - seen_versions
        )
    return groups


def add_group_item(
    *,
    actor: Actor,
    group_version_id: int,
    course_id: int | None = None,
    group_id: int | None = None,
    required: bool = False,
    position: int | None = None,
    expected_revision: int | None = None,
) -> CourseGroupItem:
    """Add a course or another group to a group draft.

    A group is pinned at its newest published version (its draft when it has
    none, which publishing will refuse). A group that contains, at any depth,
    the group being edited is refused: cycles are impossible.
    """
    _check_item_target(course_id, group_id)
    _check_position(position)
    with transaction.atomic():
        gv = _lock_group(group_version_id)
        _require_group_draft(gv, "edited")
        _check_revision(gv.revision, expected_revision, f"Group draft {gv.name!r}")
        items = CourseGroupItem.objects.filter(group_version=gv)
        fields: dict[str, Any] = {}
        if course_id is not None:
            course = _active_course(course_id)
            if items.filter(course=course).exists():
                raise DuplicateItem(f"Course {course.code} is already in group {gv.name!r}.")
            fields["course"] = course
            label = course.code
        else:
            assert group_id is not None
            child = selectors.latest_group_version(group_id)
            if gv.group_id in _reachable_groups(child.pk):
                raise GroupCycle(
                    f"Group {child.name!r} contains {gv.name!r} (or is it), so it cannot be "
                    "added to it: a group cannot contain itself."
                )
            if items.filter(child_group_id=group_id).exists():
                raise DuplicateItem(f"Group {child.name!r} is already in group {gv.name!r}.")
            fields["child_group_id"] = group_id
            fields["child_version"] = child
            label = child.name
        before = _group_snapshot(gv)
        pos = _insert_position(items, position)
        item = CourseGroupItem.objects.create(
            group_version=gv, position=pos, required=bool(required), **fields
        )
        _touch_group(gv)
        audit.record(
            actor=actor,
            action="group.item_added",
            target=gv,
            at=timezone.now(),
            before=before,
            after=_group_snapshot(gv),
            notes=f"added {label}",
        )
    return item


def _touch_group(gv: CourseGroupVersion) -> None:
    CourseGroupVersion.objects.filter(pk=gv.pk).update(revision=F("revision") + 1)
    gv.refresh_from_db(fields=["revision"])


def _group_item(gv: CourseGroupVersion, item_id: int) -> CourseGroupItem:
    try:
        return CourseGroupItem.objects.get(pk=item_id, group_version=gv)
    except CourseGroupItem.DoesNotExist:
        raise ItemNotFound(f"Group draft {gv.name!r} has no item {item_id}.") from None


def remove_group_item(
    *, actor: Actor, group_version_id: int, item_id: int, expected_revision: int | None = None
) -> None:
    """Remove an item from a group draft."""
    with transaction.atomic():
        gv = _lock_group(group_version_id)
        _require_group_draft(gv, "edited")
        _check_revision(gv.revision, expected_revision, f"Group draft {gv.name!r}")
        item = _group_item(gv, item_id)
        before = _group_snapshot(gv)
        item.delete()
        _close_gap(CourseGroupItem.objects.filter(group_version=gv), item.position)
        _touch_group(gv)
        audit.record(
            actor=actor,
            action="group.item_removed",
            target=gv,
            at=timezone.now(),
            before=before,
            after=_group_snapshot(gv),
        )


def move_group_item(
    *,
    actor: Actor,
    group_version_id: int,
    item_id: int,
    position: int,
    expected_revision: int | None = None,
) -> None:
    """Move an item of a group draft to ``position`` (1-based)."""
    _check_position(position, required=True)
    with transaction.atomic():
        gv = _lock_group(group_version_id)
        _require_group_draft(gv, "edited")
        _check_revision(gv.revision, expected_revision, f"Group draft {gv.name!r}")
        item = _group_item(gv, item_id)
        before = _group_snapshot(gv)
        _move(CourseGroupItem.objects.filter(group_version=gv), item, position)
        _touch_group(gv)
        audit.record(
            actor=actor,
            action="group.item_moved",
            target=gv,
            at=timezone.now(),
            before=before,
            after=_group_snapshot(gv),
        )


def set_group_item_required(
    *,
    actor: Actor,
    group_version_id: int,
    item_id: int,
    required: bool,
    expected_revision: int | None = None,
) -> None:
    """Flag an item of a choice group draft as required (or not)."""
    with transaction.atomic():
        gv = _lock_group(group_version_id)
        _require_group_draft(gv, "edited")
        _check_revision(gv.revision, expected_revision, f"Group draft {gv.name!r}")
        item = _group_item(gv, item_id)
        before = _group_snapshot(gv)
        CourseGroupItem.objects.filter(pk=item.pk).update(required=bool(required))
        _touch_group(gv)
        audit.record(
            actor=actor,
            action="group.item_required_set",
            target=gv,
            at=timezone.now(),
            before=before,
            after=_group_snapshot(gv),
        )


def publish_group_version(
    *,
    actor: Actor,
    group_version_id: int,
    change_notes: str = "",
    expected_revision: int | None = None,
    published_at: datetime | None = None,
) -> CourseGroupVersion:
    """Publish a group draft; from then on it never changes and may be pinned.

    ``published_at`` stamps the publish with a past moment (a group migrated from
    another system); the audit record is stamped with now, when it was written.
    """
    change_notes = _check_notes(change_notes)
    with collecting("The group cannot be published.") as checks:
        _check_past(checks, "published_at", published_at, timezone.now())
    with transaction.atomic():
        gv = _lock_group(group_version_id)
        if gv.status != GroupVersionStatus.DRAFT:
            raise VersionNotDraft(
                f"Version {gv.version_number} of group {gv.name!r} is already published."
            )
        _check_revision(gv.revision, expected_revision, f"Group draft {gv.name!r}")
        problems = _tree_problems(selectors.group_tree(gv.pk))
        if problems:
            raise PublishValidationFailed(
                f"Group {gv.name!r} cannot be published until these are fixed:", problems=problems
            )
        before = _group_snapshot(gv)
        now = timezone.now()
        gv.status = GroupVersionStatus.PUBLISHED
        gv.published_at = published_at or now
        gv.published_by = _user(actor)
        gv.change_notes = change_notes
        gv.save()
        audit.record(
            actor=actor,
            action="group.published",
            target=gv,
            at=now,
            before=before,
            after=_group_snapshot(gv),
            notes=change_notes,
        )
    return gv


def new_group_draft(*, actor: Actor, group_id: int) -> CourseGroupVersion:
    """Start a new draft of a group as a copy of its newest published version."""
    with transaction.atomic():
        try:
            group = CourseGroup.objects.select_for_update().get(pk=group_id)
        except CourseGroup.DoesNotExist:
            raise GroupNotFound(f"There is no course group with id {group_id}.") from None
        existing = group.versions.filter(status=GroupVersionStatus.DRAFT).first()
        if existing is not None:
            raise DraftAlreadyExists(
                f"Group {existing.name!r} already has a draft (v{existing.version_number}); "
                "edit or discard it first."
            )
        source = selectors.latest_group_version(group_id, published_only=True)
        now = timezone.now()
        draft = CourseGroupVersion.objects.create(
            group=group,
            version_number=source.version_number + 1,
            name=source.name,
            description=source.description,
            kind=source.kind,
            min_count=source.min_count,
            created_at=now,
            created_by=_user(actor),
        )
        CourseGroupItem.objects.bulk_create(
            CourseGroupItem(
                group_version=draft,
                position=i.position,
                course_id=i.course_id,
                child_group_id=i.child_group_id,
                child_version_id=i.child_version_id,
                required=i.required,
            )
            for i in source.items.order_by("position", "id")
        )
        audit.record(
            actor=actor,
            action="group.draft_created",
            target=draft,
            at=now,
            after=_group_snapshot(draft),
            notes=f"based on v{source.version_number}",
        )
    return draft


def discard_group_draft(*, actor: Actor, group_version_id: int) -> None:
    """Delete a group draft that no other draft uses."""
    with transaction.atomic():
        gv = _lock_group(group_version_id)
        _require_group_draft(gv, "deleted")
        users = [
            f"package draft {pv.name!r}"
            for pv in PackageVersion.objects.filter(items__group_version=gv).distinct()
        ] + [
            f"group draft {g.name!r}"
            for g in CourseGroupVersion.objects.filter(items__child_version=gv).distinct()
        ]
        if users:
            raise GroupDraftInUse(
                f"Group draft {gv.name!r} is used by {', '.join(users)}; remove it there first."
            )
        audit.record(
            actor=actor,
            action="group.draft_discarded",
            target=gv,
            at=timezone.now(),
            before=_group_snapshot(gv),
        )
        group_id = gv.group_id
        gv.delete()
        if not CourseGroupVersion.objects.filter(group_id=group_id).exists():
            CourseGroup.objects.filter(pk=group_id).delete()
