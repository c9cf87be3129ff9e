"""Read models for the authoring pages: the group library, a draft as its editor
shows it, a package's actions with the reasons some are unavailable.

Reads only; every write goes through ``packaging.api``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q

from coursepack import rules
from coursepack.audit import selectors as audit
from coursepack.catalog.models import Course, CourseStatus
from coursepack.packaging import selectors
from coursepack.packaging.errors import GroupNotFound, VersionNotFound
from coursepack.packaging.models import (
    CourseGroup,
    CourseGroupItem,
    CourseGroupVersion,
    GroupVersionStatus,
    Package,
    PackageStatus,
    PackageVersion,
    PackageVersionItem,
    VersionStatus,
)

__all__ = [
    "Action",
    "DraftView",
    "EditorItem",
    "GroupEntry",
    "PackageActions",
    "SearchHit",
    "group_draft_view",
    "group_library",
    "package_actions",
    "package_draft_view",
    "package_ids",
    "search_content",
]


# --- what a user may do with a package, and why not ------------------------------


@dataclass(frozen=True)
class Action:
    """One action of the package list: allowed, or not with the reason."""

    name: str
    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class PackageActions:
    """Every action the business-rules table defines, for one package now."""

    view: Action
    new_version: Action
    edit_draft: Action
    publish: Action
    discard_draft: Action
    retire: Action
    reinstate: Action


def package_actions(summary: selectors.PackageSummary) -> PackageActions:
    """Return which actions apply to a package, each with why it does not when it does not.

    The rules: drafts are edited, published and discarded (never enrolled); published
    and archived versions are never edited, only cloned into a new draft; a package
    has at most one draft; a retired package takes no publish and no new version.
    """
    package = summary.package
    retired = package.status == PackageStatus.RETIRED
    draft = summary.draft
    released = [v for v in summary.versions if v.state != "draft"]
    no_draft = "There is no draft to edit; create a new version first."
    if retired:
        new_version = Action("new_version", False, "The package is retired; reinstate it first.")
    elif draft is not None:
        new_version = Action(
            "new_version",
            False,
            f"Draft v{draft.version.version_number} already exists; edit or discard it first.",
        )
    elif not released:
        new_version = Action("new_version", False, "Nothing is published yet.")
    else:
        new_version = Action("new_version", True)
    if draft is None:
        edit = Action("edit_draft", False, no_draft)
        publish = Action("publish", False, no_draft)
        discard = Action("discard_draft", False, "There is no draft to discard.")
    else:
        edit = Action("edit_draft", True)
        publish = (
            Action("publish", False, "The package is retired; reinstate it to publish.")
            if retired
            else Action("publish", True)
        )
        discard = Action("discard_draft", True)
    return PackageActions(
        view=Action("view", True),
        new_version=new_version,
        edit_draft=edit,
        publish=publish,
        discard_draft=discard,
        retire=(
            Action("retire", False, "The package is already retired.")
            if retired
            else Action("retire", True)
        ),
        reinstate=(
            Action("reinstate", True)
            if retired
            else Action("reinstate", False, "Only a retired package can be reinstated.")
        ),
    )


def last_edits(version_ids: list[int]) -> dict[int, audit.LastChange]:
    """Return when and by whom each package version was last changed."""
    return audit.last_changes("packaging.packageversion", version_ids)


# --- the draft editor -----------------------------------------------------------


@dataclass(frozen=True)
class EditorItem:
    """One item of a draft with what its row in the editor shows."""

    id: int
    position: int
    required: bool
    name: str
    code: str
    kind: str  # "course" or the group's kind
    group: rules.Group | None
    # "course:<id>" or "group:<group id>": what the item points at.
    target: str = ""
    newer_version: int | None = None
    newer_changes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DraftView:
    """A draft (of a package or of a group) as the editor shows it."""

    kind: str  # "package" or "group"
    id: int
    owner_id: int
    owner_name: str
    version_number: int
    based_on: int | None
    status: str
    name: str
    description: str
    revision: int
    items: list[EditorItem]
    group_kind: str = ""
    min_count: int | None = None

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @property
    def targets(self) -> set[str]:
        """Return what the draft's items point at ("course:<id>", "group:<id>")."""
        return {item.target for item in self.items}


def _group_entry(
    item_id: int,
    position: int,
    required: bool,
    group: rules.Group,
    newest: dict[int, CourseGroupVersion],
) -> EditorItem:
    latest = newest.get(group.group_id)
    newer_version = None
    changes: list[str] = []
    if latest is not None and latest.version_number > group.version_number:
        newer_version = latest.version_number
        changes = rules.diff_items(group.items, selectors.group_tree(latest.pk).items).summary()
        if latest.name != group.name:
            changes.insert(0, f"~ Name: {group.name} → {latest.name}")
    return EditorItem(
        id=item_id,
        position=position,
        required=required,
        name=group.name,
        code=f"group v{group.version_number}",
        kind=str(group.kind),
        group=group,
        target=f"group:{group.group_id}",
        newer_version=newer_version,
        newer_changes=changes,
    )


def _newest_published(group_ids: list[int]) -> dict[int, CourseGroupVersion]:
    newest: dict[int, CourseGroupVersion] = {}
    for gv in CourseGroupVersion.objects.filter(
        group_id__in=group_ids, status=GroupVersionStatus.PUBLISHED
    ).order_by("group_id", "version_number"):
        newest[gv.group_id] = gv
    return newest


def package_draft_view(version_id: int) -> DraftView:
    """Return a package version with its items as the editor lists them."""
    version = (
        PackageVersion.objects.select_related("package", "based_on").filter(pk=version_id).first()
    )
    if version is None:
        raise VersionNotFound(f"There is no package version with id {version_id}.")
    rows = list(
        PackageVersionItem.objects.filter(version_id=version_id)
        .select_related("course")
        .order_by("position", "id")
    )
    groups = selectors._load_groups(r.group_version_id for r in rows if r.group_version_id)
    newest = _newest_published([r.group_id for r in rows if r.group_id is not None])
    items: list[EditorItem] = []
    for row in rows:
        if row.group_version_id is not None:
            items.append(
                _group_entry(
                    row.pk, row.position, row.required, groups[row.group_version_id], newest
                )
            )
        else:
            assert row.course is not None
            items.append(
                EditorItem(
                    id=row.pk,
                    position=row.position,
                    required=row.required,
                    name=row.course.name,
                    code=row.course.code,
                    kind="course",
                    group=None,
                    target=f"course:{row.course_id}",
                )
            )
    return DraftView(
        kind="package",
        id=version.pk,
        owner_id=version.package_id,
        owner_name=version.package.name,
        version_number=version.version_number,
        based_on=version.based_on.version_number if version.based_on else None,
        status=version.status,
        name=version.name,
        description=version.description,
        revision=version.revision,
        items=items,
    )


def group_draft_view(group_version_id: int) -> DraftView:
    """Return a group version with its items as the editor lists them."""
    gv = CourseGroupVersion.objects.select_related("group").filter(pk=group_version_id).first()
    if gv is None:
        raise GroupNotFound(f"There is no group version with id {group_version_id}.")
    rows = list(
        CourseGroupItem.objects.filter(group_version_id=gv.pk)
        .select_related("course")
        .order_by("position", "id")
    )
    groups = selectors._load_groups(r.child_version_id for r in rows if r.child_version_id)
    newest = _newest_published([r.child_group_id for r in rows if r.child_group_id])
    items: list[EditorItem] = []
    for row in rows:
        if row.child_version_id is not None:
            items.append(
                _group_entry(
                    row.pk, row.position, row.required, groups[row.child_version_id], newest
                )
            )
        else:
            assert row.course is not None
            items.append(
                EditorItem(
                    id=row.pk,
                    position=row.position,
                    required=row.required,
                    name=row.course.name,
                    code=row.course.code,
                    kind="course",
                    group=None,
                    target=f"course:{row.course_id}",
                )
            )
    based_on = (
        gv.version_number - 1
        if gv.version_number > 1 and gv.status == GroupVersionStatus.DRAFT
        else None
    )
    return DraftView(
        kind="group",
        id=gv.pk,
        owner_id=gv.group_id,
        owner_name=gv.name,
        version_number=gv.version_number,
        based_on=based_on,
        status=gv.status,
        name=gv.name,
        description=gv.description,
        revision=gv.revision,
        items=items,
        group_kind=gv.kind,
        min_count=gv.min_count,
    )


@dataclass(frozen=True)
class SearchHit:
    """A course or a published group that can be added to a draft."""

    kind: str  # "course" or "group"
    id: int
    name: str
    detail: str

    @property
    def key(self) -> str:
        """Return what adding the hit would point at ("course:<id>", "group:<id>")."""
        return f"{self.kind}:{self.id}"


def search_content(
    text: str, *, exclude_group: int | None = None, limit: int = 20
) -> list[SearchHit]:
    """Return active courses and groups with a published version whose name (or code) has ``text``."""
    text = text.strip()
    hits: list[SearchHit] = []
    courses = Course.objects.filter(status=CourseStatus.ACTIVE).order_by("code")
    if text:
        courses = courses.filter(Q(code__icontains=text) | Q(name__icontains=text))
    for course in courses[:limit]:
        hits.append(SearchHit("course", course.pk, course.name, f"Course · {course.code}"))
    published = CourseGroupVersion.objects.filter(status=GroupVersionStatus.PUBLISHED)
    if text:
        published = published.filter(name__icontains=text)
    if exclude_group is not None:
        published = published.exclude(group_id=exclude_group)
    newest: dict[int, tuple[str, int, str, int | None, int]] = {}
    for row in (
        published.annotate(size=Count("items"))
        .order_by("group_id", "version_number")
        .values_list("group_id", "name", "version_number", "kind", "min_count", "size")
    ):
        newest[row[0]] = row[1:]
    for group_id, (name, number, kind, min_count, size) in sorted(
        newest.items(), key=lambda entry: entry[1][0].lower()
    )[:limit]:
        rule = rules_text(kind, min_count, size)
        hits.append(SearchHit("group", group_id, name, f"Group v{number} · {rule}"))
    return hits


def rules_text(kind: str, min_count: int | None, size: int) -> str:
    """Say a group's rule the way the seed's sketches do ("Complete 1 of 2")."""
    if kind == "family":
        return f"Complete 1 of {size}"
    if kind == "series":
        return "Complete all in order"
    return f"Complete {min_count if min_count is not None else size} of {size}"


# --- the group library ------------------------------------------------------------


@dataclass(frozen=True)
class GroupEntry:
    """A reusable group: its newest rule, published version, draft and who pins it."""

    group_id: int
    key: str
    name: str
    kind: str
    rule: str
    published: CourseGroupVersion | None
    draft: CourseGroupVersion | None
    versions: list[CourseGroupVersion]
    # "Package name v3 → group v2", one line per package version pinning a version.
    used_by: list[tuple[str, int, int, int, str]]


def group_library(search: str = "", group_id: int | None = None) -> list[GroupEntry]:
    """Return every group (or the one named) with its versions and where it is used."""
    groups = CourseGroup.objects.order_by("id")
    if group_id is not None:
        groups = groups.filter(pk=group_id)
    versions: dict[int, list[CourseGroupVersion]] = {}
    for gv in CourseGroupVersion.objects.filter(group__in=groups).order_by(
        "group_id", "version_number"
    ):
        versions.setdefault(gv.group_id, []).append(gv)
    sizes: dict[int, int] = {}
    for gv_id in CourseGroupItem.objects.filter(group_version__group__in=groups).values_list(
        "group_version_id", flat=True
    ):
        sizes[gv_id] = sizes.get(gv_id, 0) + 1
    used: dict[int, list[tuple[str, int, int, int, str]]] = {}
    for row in (
        PackageVersionItem.objects.filter(group__in=groups)
        .select_related("version", "group_version")
        .order_by("version__package_id", "version__version_number")
    ):
        v = row.version
        assert row.group_version is not None and row.group_id is not None
        used.setdefault(row.group_id, []).append(
            (v.name, v.package_id, v.version_number, row.group_version.version_number, v.status)
        )
    entries = []
    for group in groups:
        mine = versions.get(group.pk, [])
        if not mine:
            continue
        newest = mine[-1]
        published = [v for v in mine if v.status == GroupVersionStatus.PUBLISHED]
        draft = next((v for v in mine if v.status == GroupVersionStatus.DRAFT), None)
        if search and search.lower() not in newest.name.lower():
            continue
        entries.append(
            GroupEntry(
                group_id=group.pk,
                key=group.key,
                name=newest.name,
                kind=newest.kind,
                rule=rules_text(newest.kind, newest.min_count, sizes.get(newest.pk, 0)),
                published=published[-1] if published else None,
                draft=draft,
                versions=list(reversed(mine)),
                used_by=used.get(group.pk, []),
            )
        )
    return entries


def version_choices(package_id: int) -> list[tuple[int, int, str]]:
    """Return (id, number, status) of every version of a package, newest first."""
    return list(
        PackageVersion.objects.filter(package_id=package_id)
        .order_by("-version_number")
        .values_list("pk", "version_number", "status")
    )


def draft_of(package_id: int) -> int | None:
    """Return the id of the package's draft, if it has one."""
    return (
        PackageVersion.objects.filter(package_id=package_id, status=VersionStatus.DRAFT)
        .values_list("pk", flat=True)
        .first()
    )


def package_ids(search: str = "") -> list[int]:
    """Return the ids of the packages whose name has ``search``, by name."""
    packages = Package.objects.order_by("name", "id")
    if search.strip():
        packages = packages.filter(name__icontains=search.strip())
    return list(packages.values_list("pk", flat=True))
