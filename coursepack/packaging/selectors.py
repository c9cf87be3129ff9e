"""Reads of groups, packages and versions, including the pinned requirement tree."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max, Q

from coursepack import rules
from coursepack.packaging.errors import GroupNotFound, PackageNotFound, VersionNotFound
from coursepack.packaging.models import (
    CourseGroup,
    CourseGroupItem,
    CourseGroupVersion,
    GroupVersionStatus,
    Package,
    PackageVersion,
    PackageVersionItem,
    PublishRecord,
    VersionLifecycle,
    VersionStatus,
)

__all__ = [
    "PackageSummary",
    "VersionSummary",
    "active_version",
    "active_version_ids",
    "clear_caches",
    "diff_versions",
    "get_package",
    "get_version",
    "group_tree",
    "latest_group_version",
    "lifecycle_rules",
    "package_names",
    "publish_log",
    "requirement_tree",
    "status_rule",
    "version_course_ids",
    "version_state",
    "versions_of_package",
    "warm_caches",
    "widest_window_days",
]

RELEASED = (VersionStatus.SCHEDULED, VersionStatus.PUBLISHED, VersionStatus.ARCHIVED)


def get_package(package_id: int) -> Package:
    """Return the package, or raise PackageNotFound."""
    try:
        return Package.objects.get(pk=package_id)
    except Package.DoesNotExist:
        raise PackageNotFound(f"There is no package with id {package_id}.") from None


def package_names(package_ids: Iterable[int]) -> dict[int, str]:
    """Return {id: name} of the packages named that still exist."""
    return dict(Package.objects.filter(pk__in=list(package_ids)).values_list("pk", "name"))


def get_version(version_id: int) -> PackageVersion:
    """Return the package version, or raise VersionNotFound."""
    try:
        return PackageVersion.objects.select_related("package").get(pk=version_id)
    except PackageVersion.DoesNotExist:
        raise VersionNotFound(f"There is no package version with id {version_id}.") from None


def active_version(package_id: int, at: datetime) -> PackageVersion | None:
    """Return the version new enrollments get at ``at``, or None.

    Derived from the immutable ``effective_from``/``archived_at`` stamps, so a
    version scheduled for a future date is active from that date on with no job
    having run, and the answer for any past moment is exact.
    """
    return (
        PackageVersion.objects.filter(
            package_id=package_id, status__in=RELEASED, effective_from__lte=at
        )
        .filter(Q(archived_at__isnull=True) | Q(archived_at__gt=at))
        .order_by("-version_number")
        .first()
    )


def _in_effect(version: PackageVersion, at: datetime) -> bool:
    return (
        version.status != VersionStatus.DRAFT
        and version.effective_from is not None
        and version.effective_from <= at
        and (version.archived_at is None or version.archived_at > at)
    )


def version_state(version: PackageVersion, *, active_id: int | None, now: datetime) -> str:
    """Return what a person should be told the version is now.

    One of ``draft``, ``scheduled``, ``active`` or ``archived``; the stored status
    may lag the clock for a scheduled version until the next write settles it.
    """
    return state_of(
        version.status,
        version.effective_from,
        version.archived_at,
        active=version.pk == active_id,
        now=now,
    )


def state_of(
    status: str,
    effective_from: datetime | None,
    archived_at: datetime | None,
    *,
    active: bool,
    now: datetime,
) -> str:
    """``version_state`` of a version's stored fields (for rows read as tuples)."""
    if status == VersionStatus.DRAFT:
        return "draft"
    if active:
        return "active"
    assert effective_from is not None
    if archived_at is None and effective_from > now:
        return "scheduled"
    return "archived"


def latest_group_version(group_id: int, *, published_only: bool = False) -> CourseGroupVersion:
    """Return the group's newest published version, else its draft."""
    versions = CourseGroupVersion.objects.filter(group_id=group_id)
    published = (
        versions.filter(status=GroupVersionStatus.PUBLISHED).order_by("-version_number").first()
    )
    if published is not None:
        return published
    if not published_only:
        draft = versions.filter(status=GroupVersionStatus.DRAFT).first()
        if draft is not None:
            return draft
    if not CourseGroup.objects.filter(pk=group_id).exists():
        raise GroupNotFound(f"There is no course group with id {group_id}.")
    raise GroupNotFound(f"Course group {group_id} has no published version yet; publish it first.")


# --- requirement trees -------------------------------------------------------

_CACHE_SIZE = 2048
_tree_cache: OrderedDict[int, rules.RequirementTree] = OrderedDict()
_cache_lock = threading.Lock()


def _course_ref(item: PackageVersionItem | CourseGroupItem) -> rules.CourseRef:
    course = item.course
    assert course is not None
    return rules.CourseRef(course_id=course.pk, code=course.code, name=course.name)


def _load_groups(version_ids: Iterable[int]) -> dict[int, rules.Group]:
    """Load group versions and everything beneath them, one query per level."""
    versions: dict[int, CourseGroupVersion] = {}
    items: dict[int, list[CourseGroupItem]] = {}
    pending = set(version_ids)
    while pending:
        batch = list(pending)
        for gv in CourseGroupVersion.objects.filter(pk__in=batch):
            versions[gv.pk] = gv
            items[gv.pk] = []
        missing = set(batch) - versions.keys()
        if missing:
            raise GroupNotFound(f"Group versions {sorted(missing)} do not exist.")
        children: set[int] = set()
        for item in (
            CourseGroupItem.objects.filter(group_version_id__in=batch)
            .select_related("course")
            .order_by("group_version_id", "position", "id")
        ):
            items[item.group_version_id].append(item)
            if item.child_version_id is not None:
                children.add(item.child_version_id)
        pending = children - versions.keys()

    built: dict[int, rules.Group] = {}

    def build(version_id: int) -> rules.Group:
        if version_id in built:
            return built[version_id]
        gv = versions[version_id]
        entries: list[rules.Item] = []
        for item in items[version_id]:
            node: rules.CourseRef | rules.Group
            if item.child_version_id is not None:
                node = build(item.child_version_id)
            else:
                node = _course_ref(item)
            entries.append(rules.Item(node=node, required=item.required))
        group = rules.Group(
            group_id=gv.group_id,
            version_id=gv.pk,
            version_number=gv.version_number,
            name=gv.name,
            kind=rules.GroupKind(gv.kind),
            min_count=gv.min_count,
            items=tuple(entries),
        )
        built[version_id] = group
        return group

    return {vid: build(vid) for vid in list(versions)}


def group_tree(group_version_id: int) -> rules.Group:
    """Return one group version as a rule tree."""
    return _load_groups([group_version_id])[group_version_id]


def requirement_tree(version_id: int) -> rules.RequirementTree:
    """Return the pinned requirement tree of a package version.

    Released versions never change, so their trees are cached in memory; a
    draft's tree is read fresh every time.
    """
    with _cache_lock:
        cached = _tree_cache.get(version_id)
        if cached is not None:
            _tree_cache.move_to_end(version_id)
            return cached
    version = get_version(version_id)
    items = list(
        PackageVersionItem.objects.filter(version_id=version_id)
        .select_related("course")
        .order_by("position", "id")
    )
    groups = _load_groups(i.group_version_id for i in items if i.group_version_id is not None)
    entries = []
    for item in items:
        node: rules.CourseRef | rules.Group
        if item.group_version_id is not None:
            node = groups[item.group_version_id]
        else:
            node = _course_ref(item)
        entries.append(rules.Item(node=node, required=item.required))
    tree = rules.RequirementTree(
        package_id=version.package_id,
        version_id=version.pk,
        version_number=version.version_number,
        name=version.name,
        items=tuple(entries),
    )
    if version.status != VersionStatus.DRAFT:
        # Only once the release is committed: a publish that rolls back leaves a
        # draft that will change (and SQLite may hand its id to another version).
        transaction.on_commit(lambda: _remember(version_id, tree))
    return tree


def _remember(version_id: int, tree: rules.RequirementTree) -> None:
    with _cache_lock:
        _tree_cache[version_id] = tree
        while len(_tree_cache) > _CACHE_SIZE:
            _tree_cache.popitem(last=False)


_rule_cache: dict[int, rules.StatusRule] = {}


def status_rule(version_id: int) -> rules.StatusRule:
    """Return a version's tree compiled for computing cached statuses (cached for
    released versions, like the tree itself)."""
    cached = _rule_cache.get(version_id)
    if cached is not None:
        return cached
    rule = rules.StatusRule(requirement_tree(version_id))
    with _cache_lock:
        if version_id in _tree_cache:  # released: its tree was cached, so may its rule be
            if len(_rule_cache) >= _CACHE_SIZE:
                _rule_cache.clear()
            _rule_cache[version_id] = rule
    return rule


def warm_caches() -> int:
    """Load the trees, status rules and lifecycle rules of released versions (newest
    first, as many as the cache holds), as a server that has run a while has them;
    return how many."""
    ids = list(
        PackageVersion.objects.exclude(status=VersionStatus.DRAFT)
        .order_by("-id")
        .values_list("pk", flat=True)[:_CACHE_SIZE]
    )
    for version_id in ids:
        status_rule(version_id)
    lifecycle_rules(ids)
    return len(ids)


def clear_caches() -> None:
    """Forget every cached tree and rule (tests, whose rolled-back ids come back)."""
    with _cache_lock:
        _tree_cache.clear()
        _rule_cache.clear()
        _lifecycle_cache.clear()


def version_course_ids(version_id: int) -> frozenset[int]:
    """Return every course id in a version's tree (cached for released versions)."""
    return status_rule(version_id).course_ids


def diff_versions(old_version_id: int, new_version_id: int) -> rules.VersionDiff:
    """Return what changed from one version of a package to another."""
    old = get_version(old_version_id)
    new = get_version(new_version_id)
    if old.package_id != new.package_id:
        raise VersionNotFound(
            f"Versions {old_version_id} and {new_version_id} belong to different packages; "
            "compare two versions of the same package."
        )
    return rules.diff(requirement_tree(old_version_id), requirement_tree(new_version_id))


# --- overviews for pages -------------------------------------------------------


@dataclass(frozen=True)
class VersionSummary:
    """One version of a package as a list shows it."""

    version: PackageVersion
    state: str
    enrolled: int
    completed: int


@dataclass(frozen=True)
class PackageSummary:
    """A package with its versions, newest first, and where each stands now."""

    package: Package
    versions: list[VersionSummary]

    @property
    def active(self) -> VersionSummary | None:
        return next((v for v in self.versions if v.state == "active"), None)

    @property
    def draft(self) -> VersionSummary | None:
        return next((v for v in self.versions if v.state == "draft"), None)


def active_version_ids(versions: Iterable[PackageVersion], now: datetime) -> dict[int, int]:
    """Return {package id: id of its version in effect at ``now``} among ``versions``.

    ``versions`` must come newest first per package: the first one in effect is
    the active one (the same rule as ``active_version``, applied in memory).
    """
    actives: dict[int, int] = {}
    for v in versions:
        if v.package_id not in actives and _in_effect(v, now):
            actives[v.package_id] = v.pk
    return actives


def publish_log(package_id: int) -> list[PublishRecord]:
    """Return the package's publish log, newest first: every publish, schedule, version
    taking effect and archive, with who, when, change notes and the in-flight policy."""
    get_package(package_id)
    return list(
        PublishRecord.objects.filter(package_id=package_id)
        .select_related("version", "previous_version", "actor")
        .order_by("-occurred_at", "-id")
    )


_lifecycle_cache: dict[int, tuple[rules.DueRule, rules.CertificationRule | None]] = {}


def lifecycle_rules(
    version_ids: Iterable[int],
) -> dict[int, tuple[rules.DueRule, rules.CertificationRule | None]]:
    """Return each version's due-date rule and validity as engine values (versions
    without lifecycle rules: no due date, never expire). Cached for released versions,
    whose rules never change; at most one query for the others."""
    ids = set(version_ids)
    found = {i: _lifecycle_cache[i] for i in ids if i in _lifecycle_cache}
    missing = ids - found.keys()
    if not missing:
        return found
    loaded: dict[int, tuple[rules.DueRule, rules.CertificationRule | None]] = dict.fromkeys(
        missing, (rules.DueRule(), None)
    )
    for row in VersionLifecycle.objects.filter(version_id__in=missing):
        due = rules.DueRule(
            kind=rules.DueKind(row.due_kind), days=row.due_days, fixed_at=row.due_fixed_at
        )
        certification = (
            None
            if row.valid_days is None
            else rules.CertificationRule(row.valid_days, row.window_days, row.grace_days)
        )
        loaded[row.version_id] = (due, certification)
    with _cache_lock:
        for version_id, value in loaded.items():
            if version_id in _tree_cache:  # released (see status_rule)
                _lifecycle_cache[version_id] = value
    return {**found, **loaded}


def versions_of_package(package_id: int) -> list[int]:
    """Return the ids of a package's released versions (those enrollments can be on)."""
    return list(
        PackageVersion.objects.filter(package_id=package_id)
        .exclude(status=VersionStatus.DRAFT)
        .values_list("pk", flat=True)
    )


def widest_window_days() -> int:
    """Return the widest recertification window of any version, in days (0 if none)."""
    found = VersionLifecycle.objects.filter(valid_days__isnull=False).aggregate(
        widest=Max("window_days")
    )["widest"]
    return int(found or 0)
