"""Packages as files: export a package (one version or its history) and import one as a draft.

A package file is JSON or YAML and follows the published JSON Schema
``docs/schema/package.schema.json``. It holds the package's name, description and
category; every course it uses (matched by code on import); every group version
it pins (with the groups they pin); and one or more versions, oldest first. Keys
are written in one fixed order and lists in a fixed order (courses by code, groups
by key, items by position), so two files of the same package diff line by line.

Importing creates a draft — a new package, or a new draft of an existing one — and
never changes published history. Groups are matched by name: a group whose newest
published version has the same content is reused; one with other content gets a
new published version; a missing one is created and published.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from django.db import transaction

from coursepack import rules
from coursepack.audit.api import Actor
from coursepack.catalog import api as catalog
from coursepack.catalog.models import Course
from coursepack.interchange.errors import PackageFileInvalid
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors
from coursepack.packaging.errors import DraftAlreadyExists, VersionNotFound
from coursepack.packaging.models import (
    CourseGroup,
    CourseGroupVersion,
    GroupVersionStatus,
    Package,
    PackageVersion,
    VersionStatus,
)

__all__ = [
    "FORMAT",
    "ImportOutcome",
    "dumps",
    "export_package",
    "import_package",
    "inlined_schema",
    "loads",
    "schema",
    "validate",
]

FORMAT = "coursepack-package/1"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "schema" / "package.schema.json"


@cache
def schema() -> dict[str, Any]:
    """Return the published JSON Schema of package files."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def inlined_schema() -> dict[str, Any]:
    """Return the schema with its ``$defs`` written in place (for embedding in OpenAPI,
    where ``#/$defs/...`` would point at the OpenAPI document instead)."""
    full = schema()
    defs = full.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items() if k not in ("$defs", "$schema", "$id")}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    result: dict[str, Any] = inline(full)
    return result


def validate(document: Any) -> None:
    """Raise PackageFileInvalid, naming every problem, unless the document follows the schema."""
    validator = jsonschema.Draft202012Validator(schema())
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(document)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path)))
    ]
    if problems:
        raise PackageFileInvalid(
            "The package file does not follow docs/schema/package.schema.json:",
            problems=problems[:50],
        )


def dumps(document: dict[str, Any], fmt: str = "json") -> str:
    """Return the document as JSON or YAML text, keys in the document's own order."""
    if fmt == "yaml":
        text: str = yaml.safe_dump(
            document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
        )
        return text
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


class _PlainYamlLoader(yaml.SafeLoader):
    """YAML without aliases: a package file never needs them, and an alias bomb
    (nested references expanding to billions of nodes) must not reach the validator."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a package file", event.start_mark
            )
        return super().compose_node(parent, index)


def loads(text: str, fmt: str | None = None) -> Any:
    """Parse JSON or YAML text; ``fmt`` says which (``json`` or ``yaml``), else text
    starting with ``{`` is JSON (JSON is YAML, but is parsed as JSON for exact errors)."""
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "yaml"
    try:
        if fmt == "json":
            return json.loads(text)
        return yaml.load(text, Loader=_PlainYamlLoader)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise PackageFileInvalid(f"The package file cannot be parsed: {error}") from None


# --- export -------------------------------------------------------------------------


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()


class _Collector:
    """Gathers the courses and group versions a set of trees uses, with stable keys."""

    def __init__(self) -> None:
        self.courses: dict[int, str] = {}
        self.groups: dict[int, rules.Group] = {}
        self.keys: dict[int, str] = {}

    def item(self, item: rules.Item) -> dict[str, Any]:
        node = item.node
        if isinstance(node, rules.CourseRef):
            self.courses[node.course_id] = node.code
            return {"course": node.code, "required": item.required}
        return {"group": self.group(node), "required": item.required}

    def group(self, group: rules.Group) -> str:
        if group.version_id not in self.keys:
            key = f"{group.name} v{group.version_number}"
            if key in self.keys.values():
                key = f"{key} (group {group.group_id})"
            self.keys[group.version_id] = key
            self.groups[group.version_id] = group
            for child in group.items:
                self.item(child)
        return self.keys[group.version_id]


def _selected(package_id: int, number: int | None, history: bool) -> list[PackageVersion]:
    versions = list(PackageVersion.objects.filter(package_id=package_id).order_by("version_number"))
    if history:
        return versions
    if number is not None:
        chosen = [v for v in versions if v.version_number == number]
        if not chosen:
            raise VersionNotFound(f"The package has no version {number}.")
        return chosen
    from django.utils import timezone

    active = selectors.active_version(package_id, timezone.now())
    return [active] if active is not None else versions[-1:]


def export_package(
    *, package_id: int, version_number: int | None = None, history: bool = False
) -> dict[str, Any]:
    """Return a package as a document: one version (the active one by default, else
    the newest), or with ``history`` every version, oldest first."""
    package = selectors.get_package(package_id)
    collector = _Collector()
    entries = []
    for version in _selected(package_id, version_number, history):
        tree = selectors.requirement_tree(version.pk)
        entry: dict[str, Any] = {}
        if history:
            entry.update(
                number=version.version_number,
                status=version.status,
                published_at=_iso(version.published_at),
                effective_from=_iso(version.effective_from),
                archived_at=_iso(version.archived_at),
                change_notes=version.change_notes,
            )
        entry.update(
            name=version.name,
            description=version.description,
            items=[collector.item(i) for i in tree.items],
        )
        entries.append(entry)
    courses = {c.pk: c for c in Course.objects.filter(pk__in=collector.courses)}
    descriptions = dict(
        CourseGroupVersion.objects.filter(pk__in=collector.groups).values_list("pk", "description")
    )
    return {
        "format": FORMAT,
        "package": {
            "key": package.key,
            "name": package.name,
            "description": package.description,
            "category": package.category,
        },
        "courses": [
            {
                "code": c.code,
                "name": c.name,
                "description": c.description,
                "duration_minutes": c.duration_minutes,
            }
            for c in sorted(courses.values(), key=lambda c: c.code)
        ],
        "groups": sorted(
            (
                {
                    "key": collector.keys[vid],
                    "name": g.name,
                    "description": descriptions.get(vid, ""),
                    "kind": str(g.kind),
                    "min_count": g.min_count,
                    "items": [collector.item(i) for i in g.items],
                }
                for vid, g in collector.groups.items()
            ),
            key=lambda g: str(g["key"]),
        ),
        "versions": entries,
    }


# --- import -------------------------------------------------------------------------


@dataclass
class ImportOutcome:
    """What an import did: the draft it made, and what it had to create on the way."""

    draft: PackageVersion
    created_courses: list[str] = field(default_factory=list)
    created_groups: list[str] = field(default_factory=list)
    new_group_versions: list[str] = field(default_factory=list)
    reused_groups: list[str] = field(default_factory=list)


def _check_references(document: dict[str, Any]) -> None:
    codes = [c["code"] for c in document["courses"]]
    keys = [g["key"] for g in document["groups"]]
    problems = []
    for what, values in (("course code", codes), ("group key", keys)):
        for value in sorted({v for v in values if values.count(v) > 1}):
            problems.append(f"{what} {value!r} is listed twice")
    groups = {g["key"]: g for g in document["groups"]}

    def check(items: list[dict[str, Any]], where: str) -> None:
        for n, item in enumerate(items):
            if "course" in item and item["course"] not in codes:
                problems.append(f"{where}/items/{n}: course {item['course']!r} is not in courses")
            if "group" in item and item["group"] not in groups:
                problems.append(f"{where}/items/{n}: group {item['group']!r} is not in groups")

    for g in document["groups"]:
        check(g["items"], f"groups/{g['key']}")
    for n, v in enumerate(document["versions"]):
        check(v["items"], f"versions/{n}")

    # Cycles: a group that contains itself at any depth.
    def visit(key: str, path: tuple[str, ...]) -> None:
        if key in path:
            problems.append(f"group {key!r} contains itself ({' > '.join((*path, key))})")
            return
        for item in groups.get(key, {}).get("items", []):
            if "group" in item:
                visit(item["group"], (*path, key))

    if not problems:
        for key in groups:
            visit(key, ())
    if problems:
        raise PackageFileInvalid("The package file does not hold together:", problems=problems)


def _group_content(gv: CourseGroupVersion) -> tuple[Any, ...]:
    items = tuple(
        (
            ("course", item.course.code)
            if item.course is not None
            else ("group", item.child_group_id),
            item.required,
        )
        for item in gv.items.select_related("course").order_by("position", "id")
    )
    return (gv.kind, gv.min_count, gv.description, items)


def _wanted_content(group: dict[str, Any], group_ids: dict[str, int]) -> tuple[Any, ...]:
    items = tuple(
        (
            ("course", i["course"]) if "course" in i else ("group", group_ids[i["group"]]),
            i["required"],
        )
        for i in group["items"]
    )
    min_count = group["min_count"] if group["kind"] == "choice" else None
    return (group["kind"], min_count, group["description"], items)


def _fill_group(
    actor: Actor,
    gv: CourseGroupVersion,
    group: dict[str, Any],
    course_ids: dict[str, int],
    group_ids: dict[str, int],
) -> None:
    for item in group["items"]:
        if "course" in item:
            packaging.add_group_item(
                actor=actor,
                group_version_id=gv.pk,
                course_id=course_ids[item["course"]],
                required=item["required"],
            )
        else:
            packaging.add_group_item(
                actor=actor,
                group_version_id=gv.pk,
                group_id=group_ids[item["group"]],
                required=item["required"],
            )


def _resolve_groups(
    actor: Actor, document: dict[str, Any], course_ids: dict[str, int], outcome: ImportOutcome
) -> dict[str, int]:
    groups = {g["key"]: g for g in document["groups"]}
    group_ids: dict[str, int] = {}

    def resolve(key: str) -> int:
        if key in group_ids:
            return group_ids[key]
        group = groups[key]
        for item in group["items"]:
            if "group" in item:
                resolve(item["group"])
        wanted = _wanted_content(group, group_ids)
        candidates = [
            selectors.latest_group_version(g.pk, published_only=True)
            for g in CourseGroup.objects.filter(
                versions__name=group["name"], versions__status=GroupVersionStatus.PUBLISHED
            ).distinct()
        ]
        candidates = [c for c in candidates if c.name == group["name"]]
        for candidate in candidates:
            if _group_content(candidate) == wanted:
                outcome.reused_groups.append(key)
                group_ids[key] = candidate.group_id
                return candidate.group_id
        min_count = group["min_count"] if group["kind"] == "choice" else None
        if len(candidates) == 1:
            # Same name, other content: the file is a new version of that group.
            gv = packaging.new_group_draft(actor=actor, group_id=candidates[0].group_id)
            for item in list(gv.items.order_by("-position")):
                packaging.remove_group_item(actor=actor, group_version_id=gv.pk, item_id=item.pk)
            gv = packaging.update_group_draft(
                actor=actor,
                group_version_id=gv.pk,
                description=group["description"],
                kind=group["kind"],
                min_count=min_count,
            )
            outcome.new_group_versions.append(key)
        else:
            gv = packaging.create_group(
                actor=actor,
                name=group["name"],
                kind=group["kind"],
                min_count=min_count,
                description=group["description"],
            )
            outcome.created_groups.append(key)
        _fill_group(actor, gv, group, course_ids, group_ids)
        packaging.publish_group_version(
            actor=actor,
            group_version_id=gv.pk,
            change_notes=f"Imported from a package file ({key})",
        )
        group_ids[key] = gv.group_id
        return gv.group_id

    for key in sorted(groups):
        resolve(key)
    return group_ids


def _courses(
    actor: Actor, document: dict[str, Any], create_courses: bool, outcome: ImportOutcome
) -> dict[str, int]:
    listed = {c["code"]: c for c in document["courses"]}
    ids = dict(Course.objects.filter(code__in=listed).values_list("code", "pk"))
    missing = sorted(set(listed) - set(ids))
    if missing and not create_courses:
        raise PackageFileInvalid(
            "These courses are not in the catalog; add them first, or import with "
            "--create-courses (create_courses=true) to create them from the file:",
            problems=[f"{code}: {listed[code]['name']}" for code in missing],
        )
    for code in missing:
        c = listed[code]
        created = catalog.create_course(
            actor=actor,
            code=code,
            name=c["name"],
            description=c["description"],
            duration_minutes=c["duration_minutes"],
        )
        ids[code] = created.pk
        outcome.created_courses.append(code)
    return ids


def _draft_of(actor: Actor, package_id: int) -> PackageVersion:
    versions = PackageVersion.objects.filter(package_id=package_id).order_by("-version_number")
    draft = versions.filter(status=VersionStatus.DRAFT).first()
    if draft is not None:
        raise DraftAlreadyExists(
            f"Package {draft.name!r} already has a draft (v{draft.version_number}); publish or "
            "discard it before importing a file into the package."
        )
    source = versions.first()
    if source is None:
        raise VersionNotFound(f"Package {package_id} has no version to start a draft from.")
    draft = packaging.create_draft_from(
        actor=actor, version_id=source.pk, notes="Imported from a package file"
    )
    for item in list(draft.items.order_by("-position")):
        packaging.remove_item(actor=actor, version_id=draft.pk, item_id=item.pk)
    return draft


def import_package(
    *,
    actor: Actor,
    document: Any,
    create_courses: bool = False,
    into_package_id: int | None = None,
) -> ImportOutcome:
    """Import a package file as a draft, in one transaction.

    The draft holds the file's newest version: the next draft of the package with the
    file's key if there is one here, or of ``into_package_id`` when given (refused
    while that package has a draft); otherwise a new package with the file's key
    and name. Courses are matched by code; missing ones are listed, or created with
    ``create_courses``. Published versions are never changed.
    """
    validate(document)
    _check_references(document)
    with transaction.atomic():
        selectors.get_package(into_package_id) if into_package_id is not None else None
        outcome = ImportOutcome(draft=PackageVersion())
        course_ids = _courses(actor, document, create_courses, outcome)
        group_ids = _resolve_groups(actor, document, course_ids, outcome)
        content = document["versions"][-1]
        meta = document["package"]
        if into_package_id is None and "key" in meta:
            # The file names its package by key: a package with that key here is the
            # one the file is a new version of.
            into_package_id = (
                Package.objects.filter(key=meta["key"]).values_list("pk", flat=True).first()
            )
        if into_package_id is None:
            draft = packaging.create_package(
                actor=actor,
                name=meta["name"],
                key=meta.get("key"),
                description=meta["description"],
                category=meta["category"],
            )
        else:
            draft = _draft_of(actor, into_package_id)
        draft = packaging.update_draft(
            actor=actor,
            version_id=draft.pk,
            name=content["name"],
            description=content["description"],
        )
        for item in content["items"]:
            if "course" in item:
                packaging.add_item(
                    actor=actor,
                    version_id=draft.pk,
                    course_id=course_ids[item["course"]],
                    required=item["required"],
                )
            else:
                packaging.add_item(
                    actor=actor,
                    version_id=draft.pk,
                    group_id=group_ids[item["group"]],
                    required=item["required"],
                )
        draft.refresh_from_db()
        outcome.draft = draft
    return outcome
