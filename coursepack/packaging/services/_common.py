"""Helpers shared by the packaging services: snapshots, locks, checks, positions."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.db.models import F, Model, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from coursepack import rules
from coursepack.audit.api import Actor
from coursepack.catalog.errors import CourseNotFound, CourseRetired
from coursepack.catalog.models import Course, CourseStatus
from coursepack.errors import InvalidInput
from coursepack.packaging.errors import (
    GroupNotFound,
    PackageNotFound,
    PackageRetired,
    StaleRevision,
    VersionNotDraft,
    VersionNotFound,
)
from coursepack.packaging.models import (
    CourseGroup,
    CourseGroupVersion,
    GroupKind,
    GroupVersionStatus,
    Package,
    PackageStatus,
    PackageVersion,
    VersionStatus,
)
from coursepack.validation import Problems, collecting

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
        "key": package.key,
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


_KEY = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_KEY_MAX = 100


def _check_key(problems: Problems, key: str | None) -> str | None:
    """Check a natural key given by the caller: lower-case letters, digits, ``-``/``_``."""
    if key is None:
        return None
    key = problems.text("key", key, max_length=_KEY_MAX)
    if key and not _KEY.match(key):
        problems.add(
            "key",
            "must be lower-case letters and digits, words joined by - or _ (e.g. fire-safety-2027)",
        )
    return key


def _free_key(model: type[Model], name: str, fallback: str) -> str:
    """Derive an unused key from ``name`` (``fire-safety``, then ``fire-safety-2``, …)."""
    base = slugify(name)[: _KEY_MAX - 10].strip("-_") or fallback
    if not _KEY.match(base):
        base = fallback
    taken = set(model._default_manager.filter(key__startswith=base).values_list("key", flat=True))
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    return key


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


def _tree_problems(node: rules.Group | rules.RequirementTree) -> list[str]:
    """Return every reason a tree cannot be published: structure, retired courses, drafts."""
    return [message for message, _ in _located_problems(node)]


def _located_problems(
    node: rules.Group | rules.RequirementTree,
) -> list[tuple[str, tuple[int, ...]]]:
    """Return every reason a tree cannot be published with the path of the item it is
    about (``()`` for the whole tree): structure, retired courses, draft groups."""
    if isinstance(node, rules.Group):
        # A group is checked as the one required item of a package of its own.
        tree = rules.RequirementTree(
            package_id=0,
            version_id=0,
            version_number=0,
            name=node.name,
            items=(rules.Item(node=node, required=True),),
        )
        offset = 1
    else:
        tree = node
        offset = 0
    problems = [(p.message, p.path[offset:]) for p in rules.validate_tree(tree)]
    courses_at: dict[int, tuple[int, ...]] = {}
    draft_groups: dict[int, tuple[int, ...]] = {}

    def walk(items: tuple[rules.Item, ...], path: tuple[int, ...]) -> None:
        for index, item in enumerate(items):
            here = (*path, index)
            if isinstance(item.node, rules.Group):
                draft_groups.setdefault(item.node.version_id, here)
                walk(item.node.items, here)
            else:
                courses_at.setdefault(item.node.course_id, here)

    walk(node.items, ())
    for course in Course.objects.filter(pk__in=courses_at, status=CourseStatus.RETIRED).order_by(
        "code"
    ):
        problems.append(
            (
                f"Course {course.code} ({course.name}) is retired; remove it or reactivate it.",
                courses_at[course.pk],
            )
        )
    for gv in CourseGroupVersion.objects.filter(
        pk__in=draft_groups, status=GroupVersionStatus.DRAFT
    ).order_by("name"):
        problems.append(
            (
                f"Group {gv.name!r} is an unpublished draft (v{gv.version_number}); "
                "publish the group first.",
                draft_groups[gv.pk],
            )
        )
    return problems


def _check_item_target(course_id: int | None, group_id: int | None) -> None:
    if (course_id is None) == (group_id is None):
        raise InvalidInput(
            "Say what to add.", problems=["course_id / group_id: give exactly one of them"]
        )
