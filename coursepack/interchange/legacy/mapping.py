"""The mapping file: implicit groups (family, series, choice) and optional courses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from coursepack import rules
from coursepack.interchange.errors import MappingInvalid

# --- the mapping of implicit groups ------------------------------------------------


@dataclass(frozen=True)
class MappedGroup:
    """A set of legacy courses that was really a family, a series or a choice."""

    name: str
    kind: rules.GroupKind
    courses: tuple[int, ...]
    required: bool = True
    min_count: int | None = None
    required_courses: frozenset[int] = frozenset()
    description: str = ""


@dataclass(frozen=True)
class Mapping:
    """What the mapping file says: the implicit groups, and courses that were optional."""

    groups: tuple[MappedGroup, ...] = ()
    optional_courses: frozenset[int] = frozenset()


def _ids(value: Any, where: str, problems: list[str]) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        problems.append(f"{where}: must be a list of legacy course ids (whole numbers)")
        return ()
    return tuple(value)


def load_mapping(path: Path | None) -> Mapping:
    """Read and check a mapping file (YAML); no file means no implicit groups.

    ::

        groups:
          - name: Language Choice
            kind: family            # family | series | choice
            courses: [3, 4]         # legacy course ids, in the group's order
            required: true          # the group's flag in its package (default true)
            min_count: 1            # choice only: complete X of the courses (default all)
            required_courses: []    # choice only: courses that must be among the X
        optional_courses: [7]       # courses that were optional in their package
    """
    if path is None:
        return Mapping()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise MappingInvalid(f"The mapping file {path} cannot be read: {error}") from None
    problems: list[str] = []
    if not isinstance(data, dict):
        raise MappingInvalid(
            "The mapping file must be a YAML mapping with 'groups' and 'optional_courses'."
        )
    unknown = set(data) - {"groups", "optional_courses"}
    if unknown:
        problems.append(f"unknown keys {', '.join(sorted(unknown))}")
    groups = []
    names: set[str] = set()
    for index, raw in enumerate(data.get("groups") or []):
        where = f"groups[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        extra = set(raw) - {
            "name",
            "kind",
            "courses",
            "required",
            "min_count",
            "required_courses",
            "description",
        }
        if extra:
            problems.append(f"{where}: unknown keys {', '.join(sorted(extra))}")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}.name: is required")
            name = ""
        elif name in names:
            problems.append(f"{where}.name: {name!r} is used by another group")
        names.add(name)
        kind = raw.get("kind")
        if kind not in rules.GroupKind.__members__.values():
            problems.append(f"{where}.kind: must be family, series or choice")
            kind = "family"
        courses = _ids(raw.get("courses"), f"{where}.courses", problems)
        if len(courses) < 2:
            problems.append(f"{where}.courses: a group needs at least two courses")
        if len(set(courses)) != len(courses):
            problems.append(f"{where}.courses: lists a course twice")
        required_courses = _ids(
            raw.get("required_courses", []), f"{where}.required_courses", problems
        )
        min_count = raw.get("min_count")
        if kind == "choice":
            if min_count is not None and (
                not isinstance(min_count, int) or isinstance(min_count, bool)
            ):
                problems.append(f"{where}.min_count: must be a whole number")
                min_count = None
            target = len(courses) if min_count is None else min_count
            if not len(required_courses) <= target <= len(courses):
                problems.append(
                    f"{where}.min_count: must be between the number of required courses "
                    f"({len(required_courses)}) and of courses ({len(courses)})"
                )
            if set(required_courses) - set(courses):
                problems.append(f"{where}.required_courses: must be among the group's courses")
        elif min_count is not None or required_courses:
            problems.append(f"{where}: min_count and required_courses are for choice groups only")
        required = raw.get("required", True)
        if not isinstance(required, bool):
            problems.append(f"{where}.required: must be true or false")
        groups.append(
            MappedGroup(
                name=name.strip(),
                kind=rules.GroupKind(str(kind)),
                courses=courses,
                required=bool(required),
                min_count=min_count if kind == "choice" else None,
                required_courses=frozenset(required_courses),
                description=str(raw.get("description") or ""),
            )
        )
    optional = _ids(data.get("optional_courses", []), "optional_courses", problems)
    seen: dict[int, str] = {}
    for group in groups:
        for course in group.courses:
            if course in seen:
                problems.append(
                    f"course {course} is in two groups: {seen[course]!r} and {group.name!r}"
                )
            seen[course] = group.name
    if problems:
        raise MappingInvalid(f"The mapping file {path} is not valid:", problems=problems)
    return Mapping(tuple(groups), frozenset(optional))
