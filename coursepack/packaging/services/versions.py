"""Package versions: edit a draft's items, start a draft from a version, discard it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.errors import InvalidInput
from coursepack.packaging import selectors
from coursepack.packaging.errors import (
    CannotCloneDraft,
    DraftAlreadyExists,
    DuplicateItem,
    ItemNotFound,
    VersionNotDraft,
)
from coursepack.packaging.models import (
    PackageVersion,
    PackageVersionItem,
    VersionStatus,
)
from coursepack.packaging.services._common import (
    _active_course,
    _check_item_target,
    _check_notes,
    _check_position,
    _check_revision,
    _check_text_inputs,
    _close_gap,
    _insert_position,
    _lock_version,
    _move,
    _require_draft,
    _require_package_open,
    _user,
    _version_snapshot,
)
from coursepack.packaging.services.publishing import settle_package
from coursepack.validation import collecting


def update_draft(
    *,
    actor: Actor,
    version_id: int,
    name: str | None = None,
    description: str | None = None,
    expected_revision: int | None = None,
) -> PackageVersion:
    """Change a draft's name or description."""
    with collecting("The draft cannot be changed.") as problems:
        name, description = _check_text_inputs(problems, name, description)
    with transaction.atomic():
        package, version = _lock_version(version_id)
        _require_draft(version, "edited")
        _check_revision(version.revision, expected_revision, f"Draft v{version.version_number}")
        before = _version_snapshot(version)
        if name is not None:
            version.name = name
        if description is not None:
            version.description = description
        version.revision += 1
        version.save()
        audit.record(
            actor=actor,
            action="version.draft_updated",
            target=version,
            at=timezone.now(),
            before=before,
            after=_version_snapshot(version),
            package_id=package.pk,
        )
    return version


def add_item(
    *,
    actor: Actor,
    version_id: int,
    course_id: int | None = None,
    group_id: int | None = None,
    required: bool = True,
    position: int | None = None,
    expected_revision: int | None = None,
) -> PackageVersionItem:
    """Add a course or a group to a package draft, at ``position`` or at the end.

    A group is pinned at its newest published version (its draft when it has
    none, which publishing will refuse until the group is published).
    """
    _check_item_target(course_id, group_id)
    _check_position(position)
    with transaction.atomic():
        package, version = _lock_version(version_id)
        _require_draft(version, "edited")
        _check_revision(version.revision, expected_revision, f"Draft v{version.version_number}")
        items = PackageVersionItem.objects.filter(version=version)
        fields: dict[str, Any] = {}
        if course_id is not None:
            course = _active_course(course_id)
            if items.filter(course=course).exists():
                raise DuplicateItem(f"Course {course.code} is already in this draft.")
            fields["course"] = course
            label = course.code
        else:
            assert group_id is not None
            gv = selectors.latest_group_version(group_id)
            if items.filter(group_id=group_id).exists():
                raise DuplicateItem(f"Group {gv.name!r} is already in this draft.")
            fields["group_id"] = group_id
            fields["group_version"] = gv
            label = f"{gv.name} v{gv.version_number}"
        before = _version_snapshot(version)
        pos = _insert_position(items, position)
        item = PackageVersionItem.objects.create(
            version=version, position=pos, required=bool(required), **fields
        )
        _touch_version(version)
        audit.record(
            actor=actor,
            action="version.item_added",
            target=version,
            at=timezone.now(),
            before=before,
            after=_version_snapshot(version),
            notes=f"added {label}",
            package_id=package.pk,
        )
    return item


def _touch_version(version: PackageVersion) -> None:
    PackageVersion.objects.filter(pk=version.pk).update(revision=F("revision") + 1)
    version.refresh_from_db(fields=["revision"])


def _version_item(version: PackageVersion, item_id: int) -> PackageVersionItem:
    try:
        return PackageVersionItem.objects.get(pk=item_id, version=version)
    except PackageVersionItem.DoesNotExist:
        raise ItemNotFound(f"Version {version.version_number} has no item {item_id}.") from None


def _edit_item(
    *,
    actor: Actor,
    version_id: int,
    item_id: int,
    expected_revision: int | None,
    action: str,
    change: Any,
) -> PackageVersion:
    with transaction.atomic():
        package, version = _lock_version(version_id)
        _require_draft(version, "edited")
        _check_revision(version.revision, expected_revision, f"Draft v{version.version_number}")
        item = _version_item(version, item_id)
        before = _version_snapshot(version)
        change(version, item)
        _touch_version(version)
        audit.record(
            actor=actor,
            action=action,
            target=version,
            at=timezone.now(),
            before=before,
            after=_version_snapshot(version),
            package_id=package.pk,
        )
    return version


def remove_item(
    *, actor: Actor, version_id: int, item_id: int, expected_revision: int | None = None
) -> PackageVersion:
    """Remove an item from a package draft."""

    def change(version: PackageVersion, item: PackageVersionItem) -> None:
        item.delete()
        _close_gap(PackageVersionItem.objects.filter(version=version), item.position)

    return _edit_item(
        actor=actor,
        version_id=version_id,
        item_id=item_id,
        expected_revision=expected_revision,
        action="version.item_removed",
        change=change,
    )


def move_item(
    *,
    actor: Actor,
    version_id: int,
    item_id: int,
    position: int,
    expected_revision: int | None = None,
) -> PackageVersion:
    """Move an item of a package draft to ``position`` (1-based)."""
    _check_position(position, required=True)

    def change(version: PackageVersion, item: PackageVersionItem) -> None:
        _move(PackageVersionItem.objects.filter(version=version), item, position)

    return _edit_item(
        actor=actor,
        version_id=version_id,
        item_id=item_id,
        expected_revision=expected_revision,
        action="version.item_moved",
        change=change,
    )


def set_item_required(
    *,
    actor: Actor,
    version_id: int,
    item_id: int,
    required: bool,
    expected_revision: int | None = None,
) -> PackageVersion:
    """Make an item of a package draft required or optional."""

    def change(version: PackageVersion, item: PackageVersionItem) -> None:
        PackageVersionItem.objects.filter(pk=item.pk).update(required=bool(required))

    return _edit_item(
        actor=actor,
        version_id=version_id,
        item_id=item_id,
        expected_revision=expected_revision,
        action="version.item_required_set",
        change=change,
    )


def use_latest_group_version(
    *, actor: Actor, version_id: int, item_id: int, expected_revision: int | None = None
) -> PackageVersion:
    """Re-pin a group item of a draft to the group's newest published version."""

    def change(version: PackageVersion, item: PackageVersionItem) -> None:
        if item.group_id is None:
            raise InvalidInput(
                "Only group items have versions.", problems=["item_id: this item is a course"]
            )
        latest = selectors.latest_group_version(item.group_id, published_only=True)
        PackageVersionItem.objects.filter(pk=item.pk).update(group_version=latest)

    return _edit_item(
        actor=actor,
        version_id=version_id,
        item_id=item_id,
        expected_revision=expected_revision,
        action="version.group_repinned",
        change=change,
    )


def create_draft_from(*, actor: Actor, version_id: int, notes: str = "") -> PackageVersion:
    """Start draft v(n+1) of a package as a copy of a published, scheduled or archived version.

    Group items keep the group versions the source pinned; the admin sees when a
    newer group version exists and may take it with ``use_latest_group_version``.
    """
    notes = _check_notes(notes)
    with transaction.atomic():
        package, source = _lock_version(version_id)
        if source.status == VersionStatus.DRAFT:
            raise CannotCloneDraft(
                f"Version {source.version_number} is itself a draft; edit it instead of copying it."
            )
        _require_package_open(package, "create a new version")
        existing = PackageVersion.objects.filter(
            package=package, status=VersionStatus.DRAFT
        ).first()
        if existing is not None:
            raise DraftAlreadyExists(
                f"Package {package.name!r} already has a draft (v{existing.version_number}); "
                "edit or discard it first."
            )
        now = timezone.now()
        settle_package(package, now)
        number = (
            PackageVersion.objects.filter(package=package).aggregate(n=Max("version_number"))["n"]
            or 0
        ) + 1
        draft = PackageVersion.objects.create(
            package=package,
            version_number=number,
            name=source.name,
            description=source.description,
            based_on=source,
            created_at=now,
            created_by=_user(actor),
        )
        PackageVersionItem.objects.bulk_create(
            PackageVersionItem(
                version=draft,
                position=i.position,
                course_id=i.course_id,
                group_id=i.group_id,
                group_version_id=i.group_version_id,
                required=i.required,
            )
            for i in source.items.order_by("position", "id")
        )
        # Imported here: the lifecycle module builds on this one's helpers.
        from coursepack.packaging.services.lifecycle import copy_lifecycle

        copy_lifecycle(source, draft)
        audit.record(
            actor=actor,
            action="version.draft_created",
            target=draft,
            at=now,
            after=_version_snapshot(draft),
            notes=notes or f"based on v{source.version_number}",
            package_id=package.pk,
        )
    return draft


def discard_draft(*, actor: Actor, version_id: int, notes: str = "") -> None:
    """Delete a draft. Published and archived versions are never deleted."""
    notes = _check_notes(notes)
    with transaction.atomic():
        package, version = _lock_version(version_id)
        if version.status != VersionStatus.DRAFT:
            raise VersionNotDraft(
                f"Version {version.version_number} of {version.name!r} is {version.status} and "
                "cannot be deleted: it is kept for the audit record. Retire the package to stop "
                "new enrollments."
            )
        audit.record(
            actor=actor,
            action="version.draft_discarded",
            target=version,
            at=timezone.now(),
            before=_version_snapshot(version),
            notes=notes,
            package_id=package.pk,
        )
        version.delete()
