"""The write path of groups, packages and versions.

Every function here is one transaction: it checks its input and the business
rules first, then writes, then appends to the audit log with the same
timestamp. Refusals raise the typed errors of ``packaging.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Literal

from django.db import transaction
from django.db.models import F, Max, Model, QuerySet
from django.utils import timezone

from coursepack import rules
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.catalog.errors import CourseNotFound, CourseRetired
from coursepack.catalog.models import Course, CourseStatus
from coursepack.errors import InvalidInput
from coursepack.packaging import selectors
from coursepack.packaging.errors import (
    CannotCloneDraft,
    DraftAlreadyExists,
    DuplicateItem,
    GroupCycle,
    GroupDraftInUse,
    GroupNotFound,
    ItemNotFound,
    PackageHasEnrollments,
    PackageHasHistory,
    PackageNotFound,
    PackageRetired,
    PublishValidationFailed,
    StaleRevision,
    VersionNotDraft,
    VersionNotFound,
)
from coursepack.packaging.models import (
    CourseGroup,
    CourseGroupItem,
    CourseGroupVersion,
    GroupKind,
    GroupVersionStatus,
    Package,
    PackageStatus,
    PackageVersion,
    PackageVersionItem,
    PublishAction,
    PublishRecord,
    VersionStatus,
)
from coursepack.validation import Problems, collecting

__all__ = [
    "PublishOutcome",
    "add_group_item",
    "add_item",
    "create_draft_from",
    "create_group",
    "create_package",
    "delete_package",
    "discard_draft",
    "discard_group_draft",
    "move_group_item",
    "move_item",
    "new_group_draft",
    "publish_group_version",
    "publish_problems",
    "publish_version",
    "reinstate_package",
    "remove_group_item",
    "remove_item",
    "retire_package",
    "set_group_item_required",
    "set_item_required",
    "settle_package",
    "update_draft",
    "update_group_draft",
    "update_package",
    "use_latest_group_version",
]

_TEXT_MAX = 20_000


def _user(actor: Actor) -> Any:
    return actor if actor is not None and actor.is_authenticated else None


# --- snapshots for the audit log --------------------------------------------


def _version_snapshot(version: PackageVersion) -> dict[str, Any]:
    items = [
        {
            "position": i.position,
            "course": i.course_id,
            "group": i.group_id,
            "group_version": i.group_version_id,
            "required": i.required,
        }
        for i in version.items.order_by("position", "id")
    ]
    return {
        "version_number": version.version_number,
        "name": version.name,
        "description": version.description,
        "status": version.status,
        "revision": version.revision,
        "items": items,
    }


def _group_snapshot(gv: CourseGroupVersion) -> dict[str, Any]:
    items = [
        {
            "position": i.position,
            "course": i.course_id,
            "group": i.child_group_id,
            "group_version": i.child_version_id,
            "required": i.required,
        }
        for i in gv.items.order_by("position", "id")
    ]
    return {
        "version_number": gv.version_number,
        "name": gv.name,
        "kind": gv.kind,
        "min_count": gv.min_count,
        "status": gv.status,
        "items": items,
    }


def _package_snapshot(package: Package) -> dict[str, Any]:
    return {
        "name": package.name,
        "description": package.description,
        "category": package.category,
        "status": package.status,
    }


# --- locking and loading -----------------------------------------------------


def _lock_package(package_id: int) -> Package:
    """Lock the package row: every version change of a package is serialised on it."""
    try:
        return Package.objects.select_for_update().get(pk=package_id)
    except Package.DoesNotExist:
        raise PackageNotFound(f"There is no package with id {package_id}.") from None


def _lock_version(version_id: int) -> tuple[Package, PackageVersion]:
    try:
        package_id = PackageVersion.objects.values_list("package_id", flat=True).get(pk=version_id)
    except PackageVersion.DoesNotExist:
        raise VersionNotFound(f"There is no package version with id {version_id}.") from None
    package = _lock_package(package_id)
    return package, PackageVersion.objects.get(pk=version_id)


def _lock_group(group_version_id: int) -> CourseGroupVersion:
    try:
        group_id = CourseGroupVersion.objects.values_list("group_id", flat=True).get(
            pk=group_version_id
        )
    except CourseGroupVersion.DoesNotExist:
        raise GroupNotFound(f"There is no group version with id {group_version_id}.") from None
    CourseGroup.objects.select_for_update().get(pk=group_id)
    return CourseGroupVersion.objects.get(pk=group_version_id)


def _require_draft(version: PackageVersion, doing: str) -> None:
    if version.status != VersionStatus.DRAFT:
        raise VersionNotDraft(
            f"Version {version.version_number} of {version.name!r} is {version.status} and "
            f"cannot be {doing}; published versions never change. "
            "Create a new version from it and edit that draft instead."
        )


def _require_group_draft(gv: CourseGroupVersion, doing: str) -> None:
    if gv.status != GroupVersionStatus.DRAFT:
        raise VersionNotDraft(
            f"Version {gv.version_number} of group {gv.name!r} is published and cannot be "
            f"{doing}. Create a new group draft and edit that instead."
        )


def _check_revision(current: int, expected: int | None, what: str) -> None:
    if expected is not None and expected != current:
        raise StaleRevision(
            f"{what} was changed by someone else since you read it (your revision {expected}, "
            f"now {current}). Reload it and make your change again."
        )


def _require_package_open(package: Package, doing: str) -> None:
    if package.status == PackageStatus.RETIRED:
        raise PackageRetired(
            f"Package {package.name!r} is retired, so you cannot {doing}. Reinstate it first."
        )


def _active_course(course_id: int) -> Course:
    try:
        course = Course.objects.get(pk=course_id)
    except Course.DoesNotExist:
        raise CourseNotFound(f"There is no course with id {course_id}.") from None
    if course.status == CourseStatus.RETIRED:
        raise CourseRetired(
            f"Course {course.code} ({course.name}) is retired and cannot be added to a draft; "
            "reactivate it in the catalog or choose another course."
        )
    return course


def _check_text_inputs(
    problems: Problems, name: str | None, description: str | None
) -> tuple[str | None, str | None]:
    if name is not None:
        name = problems.text("name", name, max_length=255)
    if description is not None:
        description = problems.text(
            "description", description, max_length=_TEXT_MAX, required=False
        )
    return name, description


def _check_past(problems: Problems, field: str, moment: datetime | None, now: datetime) -> None:
    """Check a moment given for history written after the fact: aware and not in the future."""
    if moment is None:
        return
    if timezone.is_naive(moment):
        problems.add(field, "must include a time zone")
    elif moment > now:
        problems.add(field, "cannot be in the future")


def _check_notes(notes: str) -> str:
    with collecting() as problems:
        notes = problems.text("notes", notes, max_length=_TEXT_MAX, required=False)
    return notes


# --- ordered item lists, shared by package drafts and group drafts -----------


def _insert_position(items: QuerySet[Any], position: int | None) -> int:
    count = items.count()
    if position is None or position > count + 1:
        return count + 1
    if position < 1:
        raise InvalidInput(
            "The item cannot be placed there.", problems=["position: must be 1 or more"]
        )
    items.filter(position__gte=position).update(position=F("position") + 1)
    return position


def _close_gap(items: QuerySet[Any], removed_position: int) -> None:
    items.filter(position__gt=removed_position).update(position=F("position") - 1)


def _move(items: QuerySet[Any], item: Model, to_position: int) -> None:
    ordered = list(items.order_by("position", "id"))
    if to_position < 1 or to_position > len(ordered):
        raise InvalidInput(
            "The item cannot be moved there.",
            problems=[f"position: must be between 1 and {len(ordered)}"],
        )
    ordered = [i for i in ordered if i.pk != item.pk]
    ordered.insert(to_position - 1, item)
    for index, entry in enumerate(ordered, start=1):
        if entry.position != index:
            type(entry).objects.filter(pk=entry.pk).update(position=index)


def _check_position(position: int | None, *, required: bool = False) -> None:
    if position is None and required:
        raise InvalidInput("Say where to move the item.", problems=["position: is required"])
    if position is not None and (isinstance(position, bool) or not isinstance(position, int)):
        raise InvalidInput(
            "The position is not valid.", problems=["position: must be a whole number"]
        )


# --- course groups -------------------------------------------------------------


def _check_rule(problems: Problems, kind: str, min_count: int | None) -> None:
    if kind not in GroupKind.values:
        problems.add("kind", f"must be one of {', '.join(GroupKind.values)}")
    if min_count is not None:
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            problems.add("min_count", "must be a whole number, 1 or more")
        elif kind != GroupKind.CHOICE:
            problems.add(
                "min_count",
                "applies only to choice groups (a family needs 1, a series needs all)",
            )


def create_group(
    *,
    actor: Actor,
    name: str,
    kind: str,
    min_count: int | None = None,
    description: str = "",
) -> CourseGroupVersion:
    """Create a reusable course group and return its draft version 1."""
    with collecting("The course group cannot be created.") as problems:
        name_, description_ = _check_text_inputs(problems, name, description)
        _check_rule(problems, kind, min_count)
    with transaction.atomic():
        now = timezone.now()
        group = CourseGroup.objects.create(created_at=now, created_by=_user(actor))
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
            actor=actor, action="group.created", target=gv, at=now, after=_group_snapshot(gv)
        )
    return gv


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


def _tree_problems(node: rules.Group | rules.RequirementTree) -> list[str]:
    """Return every reason a tree cannot be published: structure, retired courses, drafts."""
    if isinstance(node, rules.Group):
        # A group is checked as the one required item of a package of its own.
        tree = rules.RequirementTree(
            package_id=0,
            version_id=0,
            version_number=0,
            name=node.name,
            items=(rules.Item(node=node, required=True),),
        )
    else:
        tree = node
    problems = [p.message for p in rules.validate_tree(tree)]
    course_ids: set[int] = set()
    draft_groups: dict[int, str] = {}

    def walk(items: tuple[rules.Item, ...]) -> None:
        for item in items:
            if isinstance(item.node, rules.Group):
                draft_groups[item.node.version_id] = item.node.name
                walk(item.node.items)
            else:
                course_ids.add(item.node.course_id)

    walk(node.items)
    for course in Course.objects.filter(pk__in=course_ids, status=CourseStatus.RETIRED).order_by(
        "code"
    ):
        problems.append(
            f"Course {course.code} ({course.name}) is retired; remove it or reactivate it."
        )
    for gv in CourseGroupVersion.objects.filter(
        pk__in=draft_groups, status=GroupVersionStatus.DRAFT
    ).order_by("name"):
        problems.append(
            f"Group {gv.name!r} is an unpublished draft (v{gv.version_number}); publish the group first."
        )
    return problems


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


# --- packages ------------------------------------------------------------------


def create_package(
    *,
    actor: Actor,
    name: str,
    description: str = "",
    category: str = "",
    created_at: datetime | None = None,
) -> PackageVersion:
    """Create a package and return its draft version 1.

    ``created_at`` keeps a past creation time (a package migrated from another
    system); the audit record is stamped with now, when it was written.
    """
    with collecting("The package cannot be created.") as problems:
        name_, description_ = _check_text_inputs(problems, name, description)
        category = problems.text("category", category, max_length=100, required=False)
        now = timezone.now()
        _check_past(problems, "created_at", created_at, now)
    with transaction.atomic():
        package = Package.objects.create(
            name=name_ or "",
            description=description_ or "",
            category=category,
            created_at=created_at or now,
            updated_at=created_at or now,
            created_by=_user(actor),
        )
        version = PackageVersion.objects.create(
            package=package,
            version_number=1,
            name=package.name,
            description=package.description,
            created_at=package.created_at,
            created_by=_user(actor),
        )
        audit.record(
            actor=actor,
            action="package.created",
            target=package,
            at=now,
            after=_package_snapshot(package),
            package_id=package.pk,
        )
    return version


def update_package(
    *,
    actor: Actor,
    package_id: int,
    name: str | None = None,
    description: str | None = None,
    category: str | None = None,
) -> Package:
    """Change the package container's name, description or category.

    The container's fields are for finding the package; what learners are
    required to do lives in its versions and is not affected.
    """
    with collecting("The package cannot be changed.") as problems:
        name, description = _check_text_inputs(problems, name, description)
        if category is not None:
            category = problems.text("category", category, max_length=100, required=False)
    with transaction.atomic():
        package = _lock_package(package_id)
        before = _package_snapshot(package)
        if name is not None:
            package.name = name
        if description is not None:
            package.description = description
        if category is not None:
            package.category = category
        now = timezone.now()
        package.updated_at = now
        package.save()
        audit.record(
            actor=actor,
            action="package.updated",
            target=package,
            at=now,
            before=before,
            after=_package_snapshot(package),
            package_id=package.pk,
        )
    return package


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


def _check_item_target(course_id: int | None, group_id: int | None) -> None:
    if (course_id is None) == (group_id is None):
        raise InvalidInput(
            "Say what to add.", problems=["course_id / group_id: give exactly one of them"]
        )


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


def publish_problems(version_id: int) -> list[str]:
    """Return every reason the version cannot be published (empty when it can)."""
    return _tree_problems(selectors.requirement_tree(version_id))


InFlightPolicyName = Literal["keep", "move_not_started", "move_in_progress"]


@dataclass(frozen=True)
class PublishOutcome:
    """What a publish did."""

    version: PackageVersion
    previous: PackageVersion | None
    scheduled: bool
    record: PublishRecord
    moved_enrollments: int = 0


def _archive(
    version: PackageVersion, *, at: datetime, actor: Actor, now: datetime, reason: str
) -> None:
    before_status = version.status
    version.status = VersionStatus.ARCHIVED
    version.archived_at = at
    version.archived_by = _user(actor)
    version.save(update_fields=["status", "archived_at", "archived_by"])
    PublishRecord.objects.create(
        package_id=version.package_id,
        version=version,
        action=PublishAction.ARCHIVED,
        occurred_at=at,
        actor=_user(actor),
        change_notes=reason,
    )
    audit.record(
        actor=actor,
        action="version.archived",
        target=version,
        at=now,
        before={"status": before_status},
        after={"status": version.status, "archived_at": at.isoformat()},
        notes=reason,
        package_id=version.package_id,
    )


def settle_package(package: Package, now: datetime) -> None:
    """Bring stored statuses up to the clock: a scheduled version whose date has come
    becomes published and the one it replaces archived — both stamped with the
    effective date, not with now. Call with the package row locked.

    Reads never depend on this (``selectors.active_version`` derives the answer
    from the stamps); writes settle first so stored statuses stay truthful.
    """
    due = PackageVersion.objects.filter(
        package=package, status=VersionStatus.SCHEDULED, effective_from__lte=now
    ).first()
    if due is None:
        return
    assert due.effective_from is not None
    current = PackageVersion.objects.filter(package=package, status=VersionStatus.PUBLISHED).first()
    if current is not None:
        _archive(
            current,
            at=due.effective_from,
            actor=None,
            now=now,
            reason=f"replaced by v{due.version_number} on its effective date",
        )
    due.status = VersionStatus.PUBLISHED
    due.save(update_fields=["status"])
    PublishRecord.objects.create(
        package=package,
        version=due,
        action=PublishAction.ACTIVATED,
        previous_version=current,
        occurred_at=due.effective_from,
        effective_from=due.effective_from,
        change_notes=due.change_notes,
    )
    audit.record(
        actor=None,
        action="version.took_effect",
        target=due,
        at=now,
        before={"status": "scheduled"},
        after={"status": "published"},
        notes=f"effective {due.effective_from.isoformat()}",
        package_id=package.pk,
    )


def _resolve_effective(effective_at: datetime | None, now: datetime) -> datetime | None:
    """Return the future moment a publish takes effect, or None for 'now'."""
    if effective_at is None:
        return None
    if timezone.is_naive(effective_at):
        raise InvalidInput(
            "The effective date is ambiguous.",
            problems=["effective_at: give a time zone (e.g. 2025-01-01T00:00:00Z)"],
        )
    start_of_today = datetime.combine(
        timezone.localdate(now), time.min, tzinfo=timezone.get_current_timezone()
    )
    if effective_at < start_of_today:
        raise InvalidInput(
            "The effective date is in the past.",
            problems=[
                "effective_at: must be today or later; leave it empty to publish now "
                "(history cannot be rewritten by back-dating a version)"
            ],
        )
    return effective_at if effective_at > now else None


def publish_version(
    *,
    actor: Actor,
    version_id: int,
    change_notes: str = "",
    effective_at: datetime | None = None,
    expected_revision: int | None = None,
    inflight_policy: InFlightPolicyName = "keep",
    published_at: datetime | None = None,
) -> PublishOutcome:
    """Publish a draft.

    Without an effective date (or with one that has come) the draft becomes the
    active version and the previously active one is archived in this same
    transaction. With a future date it is *scheduled*: it becomes the version
    new enrollments get on that date, with no job needing to run. Learners
    already enrolled stay on their version unless ``inflight_policy`` says to
    move them (see ``learning.api.move_inflight``).

    ``published_at`` records a publish that happened in the past, in another
    system (a migration): the version is published and in effect from that
    moment. Only a package's first publish can be back-dated, so no history of
    this system is rewritten; the audit record is stamped with now.
    """
    change_notes = _check_notes(change_notes)
    with collecting("The version cannot be published.") as checks:
        _check_past(checks, "published_at", published_at, timezone.now())
        if published_at is not None and effective_at is not None:
            checks.add("published_at", "give either published_at or effective_at, not both")
        if published_at is not None and inflight_policy != "keep":
            checks.add("inflight_policy", "a back-dated first publish has no one to move")
    with transaction.atomic():
        package, version = _lock_version(version_id)
        if version.status != VersionStatus.DRAFT:
            raise VersionNotDraft(
                f"Version {version.version_number} of {version.name!r} is already {version.status}; "
                "only a draft can be published. Create a new version from it and publish that "
                "draft instead."
            )
        _check_revision(version.revision, expected_revision, f"Draft v{version.version_number}")
        _require_package_open(package, "publish a version")
        now = timezone.now()
        scheduled_for = _resolve_effective(effective_at, now)
        if scheduled_for is not None and inflight_policy != "keep":
            raise InvalidInput(
                "Learners cannot be moved to a version that is not yet in effect.",
                problems=[
                    "inflight_policy: publish now to move enrolled learners, or keep them "
                    "on their version"
                ],
            )
        if (
            published_at is not None
            and PackageVersion.objects.filter(package=package)
            .exclude(status=VersionStatus.DRAFT)
            .exists()
        ):
            raise InvalidInput(
                "Only a package's first publish can be back-dated.",
                problems=[
                    "published_at: this package already has published history; publish now "
                    "instead (history cannot be rewritten by back-dating a version)"
                ],
            )
        problems = publish_problems(version.pk)
        if problems:
            raise PublishValidationFailed(
                f"Version {version.version_number} of {version.name!r} cannot be published "
                "until these are fixed:",
                problems=problems,
            )
        settle_package(package, now)
        before = {"status": version.status}
        current = PackageVersion.objects.filter(
            package=package, status=VersionStatus.PUBLISHED
        ).first()
        superseded = PackageVersion.objects.filter(
            package=package, status=VersionStatus.SCHEDULED
        ).first()
        if superseded is not None:
            _archive(
                superseded,
                at=now,
                actor=actor,
                now=now,
                reason=f"superseded by v{version.version_number} before taking effect",
            )
        if scheduled_for is None and current is not None:
            _archive(
                current,
                at=now,
                actor=actor,
                now=now,
                reason=f"replaced by v{version.version_number}",
            )
        version.status = (
            VersionStatus.PUBLISHED if scheduled_for is None else VersionStatus.SCHEDULED
        )
        version.published_at = published_at or now
        version.published_by = _user(actor)
        version.effective_from = scheduled_for or published_at or now
        version.change_notes = change_notes
        version.save()
        moved = 0
        if scheduled_for is None and current is not None and inflight_policy != "keep":
            from coursepack.learning import api as learning

            moved = learning.move_inflight(
                actor=actor,
                from_version=current,
                to_version=version,
                policy=inflight_policy,
                at=now,
            )
        record = PublishRecord.objects.create(
            package=package,
            version=version,
            action=PublishAction.PUBLISHED if scheduled_for is None else PublishAction.SCHEDULED,
            previous_version=current,
            occurred_at=version.published_at,
            actor=_user(actor),
            effective_from=version.effective_from,
            change_notes=change_notes,
            inflight_policy=inflight_policy,
            moved_enrollments=moved,
        )
        package.updated_at = now
        package.save(update_fields=["updated_at"])
        audit.record(
            actor=actor,
            action="version.published" if scheduled_for is None else "version.scheduled",
            target=version,
            at=now,
            before=before,
            after={
                "status": version.status,
                "effective_from": version.effective_from.isoformat(),
                "inflight_policy": inflight_policy,
                "moved_enrollments": moved,
            },
            notes=change_notes,
            package_id=package.pk,
        )
    return PublishOutcome(
        version=version,
        previous=current,
        scheduled=scheduled_for is not None,
        record=record,
        moved_enrollments=moved,
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


def _set_package_status(
    *, actor: Actor, package_id: int, status: PackageStatus, action: str, notes: str
) -> Package:
    notes = _check_notes(notes)
    with transaction.atomic():
        package = _lock_package(package_id)
        if package.status == status:
            return package
        before = _package_snapshot(package)
        now = timezone.now()
        settle_package(package, now)
        package.status = status
        package.retired_at = now if status == PackageStatus.RETIRED else None
        package.updated_at = now
        package.save()
        audit.record(
            actor=actor,
            action=action,
            target=package,
            at=now,
            before=before,
            after=_package_snapshot(package),
            notes=notes,
            package_id=package.pk,
        )
    return package


def retire_package(*, actor: Actor, package_id: int, notes: str = "") -> Package:
    """Stop new enrollments and publishes; learners already enrolled keep their version."""
    return _set_package_status(
        actor=actor,
        package_id=package_id,
        status=PackageStatus.RETIRED,
        action="package.retired",
        notes=notes,
    )


def reinstate_package(*, actor: Actor, package_id: int, notes: str = "") -> Package:
    """Open a retired package for enrollments and publishes again."""
    return _set_package_status(
        actor=actor,
        package_id=package_id,
        status=PackageStatus.ACTIVE,
        action="package.reinstated",
        notes=notes,
    )


def delete_package(*, actor: Actor, package_id: int, notes: str = "") -> None:
    """Delete a package that nobody is enrolled in and that was never published."""
    from coursepack.learning.models import Enrollment

    notes = _check_notes(notes)
    with transaction.atomic():
        package = _lock_package(package_id)
        if Enrollment.objects.filter(package=package).exists():
            raise PackageHasEnrollments(
                f"Package {package.name!r} has enrollments; retire it instead of deleting it."
            )
        if package.versions.exclude(status=VersionStatus.DRAFT).exists():
            raise PackageHasHistory(
                f"Package {package.name!r} has published versions, which are kept for the "
                "audit record; retire it instead of deleting it."
            )
        audit.record(
            actor=actor,
            action="package.deleted",
            target=package,
            at=timezone.now(),
            before=_package_snapshot(package),
            notes=notes,
            package_id=package.pk,
        )
        package.versions.all().delete()
        package.delete()
