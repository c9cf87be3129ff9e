"""Migration from the seed's legacy schema: read, reconcile, then write through the services.

The legacy design (the seed's "Migration Path" and "Migration Strategy") has four
tables: ``packages``; ``courses`` with a ``package_id`` pointing at its package;
``user_package_enrollments``; ``user_course_completions``. An optional ``users``
table (id, and any of username, first_name, last_name, email) is used when there
is one. They are read with plain DB-API (``sqlite3`` or ``psycopg``).

A migration has two passes over the legacy rows. The first (``analyse``) writes
nothing: it builds the plan and the reconciliation report — rows read and rows
to write per table, and every anomaly with its rows. The second (``migrate``)
writes, in one transaction, through the services of catalog, packaging,
accounts and learning, and refuses to start while the report has anomalies the
caller did not say how to place. Every object is keyed by its legacy key (course
codes ``legacy-<id>``, usernames ``legacy-<id>``, event external ids
``legacy:user_course_completions:<id>``, packages and groups in ``LegacyKey``),
so a second run finds everything and writes nothing.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import groupby, islice
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction
from django.utils import timezone

from coursepack import rules
from coursepack.accounts import api as accounts
from coursepack.audit.api import Actor
from coursepack.catalog import api as catalog
from coursepack.catalog.models import Course
from coursepack.interchange.errors import LegacySourceError, MappingInvalid, UnplacedAnomalies
from coursepack.interchange.models import LegacyKey
from coursepack.learning import api as learning
from coursepack.learning import selectors as learning_selectors
from coursepack.packaging import api as packaging

__all__ = [
    "CHANGE_NOTES",
    "Anomaly",
    "LegacySource",
    "Mapping",
    "Plan",
    "Report",
    "analyse",
    "course_code",
    "event_key",
    "load_mapping",
    "migrate",
    "username",
]

#: The change notes of every migrated version (the seed's Migration Strategy).
CHANGE_NOTES = "Migrated from legacy system"
#: The account that migrated versions, groups and events are recorded as done by.
MIGRATION_ACTOR = "legacy-migration"

ProgressFn = Callable[[str, int], None]


def course_code(legacy_id: int) -> str:
    """Return the catalog code of a migrated legacy course."""
    return f"legacy-{legacy_id}"


def username(legacy_id: int) -> str:
    """Return the username of the learner a legacy user id becomes."""
    return f"legacy-{legacy_id}"


def event_key(legacy_id: int) -> str:
    """Return the external id of the event a legacy completion row becomes."""
    return f"legacy:user_course_completions:{legacy_id}"


# --- the legacy database -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegacyPackage:
    id: int
    name: str
    description: str
    category: str
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class LegacyCourse:
    id: int
    name: str
    description: str
    package_id: int | None


@dataclass(frozen=True, slots=True)
class LegacyUser:
    id: int
    first_name: str
    last_name: str
    email: str


# (id, user_id, package_id, enrolled_at, completed_at, status)
EnrollmentRow = tuple[int, int | None, int | None, datetime | None, datetime | None, str | None]
# (id, user_id, course_id, enrollment_id, started_at, completed_at, status)
CompletionRow = tuple[
    int, int | None, int | None, int | None, datetime | None, datetime | None, str | None
]

_REQUIRED_COLUMNS = {
    "packages": ("id", "name", "description", "created_at", "updated_at"),
    "courses": ("id", "name", "package_id"),
    "user_package_enrollments": (
        "id",
        "user_id",
        "package_id",
        "enrolled_at",
        "completed_at",
        "status",
    ),
    "user_course_completions": (
        "id",
        "user_id",
        "course_id",
        "enrollment_id",
        "started_at",
        "completed_at",
        "status",
    ),
}


def _moment(value: Any) -> datetime | None:
    """Return a legacy timestamp as an aware datetime; naive ones are taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip().replace(" ", "T", 1)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise LegacySourceError(
                f"The legacy timestamp {value!r} cannot be read; store timestamps as "
                "ISO 8601 text (e.g. 2024-01-15 09:30:00) or as timestamp columns."
            ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class LegacySource:
    """A connection to a legacy database: a SQLite file or a PostgreSQL URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: str
        self._conn: Any
        if url.startswith(("postgres://", "postgresql://")):
            import psycopg

            self.engine = "postgresql"
            try:
                self._conn = psycopg.connect(url, autocommit=False)
            except psycopg.Error as error:
                raise LegacySourceError(
                    f"Cannot connect to the legacy PostgreSQL database: {error}"
                ) from None
        else:
            path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
            path = path.removeprefix("sqlite:")
            if not Path(path).is_file():
                raise LegacySourceError(
                    f"There is no SQLite file at {path!r}; give a path to the legacy "
                    "database file or a postgresql:// URL."
                )
            self.engine = "sqlite"
            # Read-only: a migration never writes to the legacy database.
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self._columns: dict[str, tuple[str, ...]] = {}
        self._check_schema()

    def close(self) -> None:
        """Close the connection (nothing was written to it)."""
        self._conn.rollback()
        self._conn.close()

    def __enter__(self) -> LegacySource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _table_columns(self, table: str) -> tuple[str, ...] | None:
        cursor = self._conn.cursor()
        try:
            cursor.execute(f"SELECT * FROM {table} WHERE 1 = 0")
        except Exception:
            self._conn.rollback()
            return None
        columns = tuple(d[0].lower() for d in cursor.description)
        cursor.close()
        return columns

    def _check_schema(self) -> None:
        problems = []
        for table, required in _REQUIRED_COLUMNS.items():
            columns = self._table_columns(table)
            if columns is None:
                problems.append(f"table {table} is missing")
                continue
            self._columns[table] = columns
            missing = [c for c in required if c not in columns]
            if missing:
                problems.append(f"table {table} has no column {', '.join(missing)}")
        users = self._table_columns("users")
        if users is not None:
            self._columns["users"] = users
        if problems:
            raise LegacySourceError(
                "The database does not have the legacy schema (the seed's packages, courses, "
                "user_package_enrollments and user_course_completions):",
                problems=problems,
            )

    @property
    def has_users(self) -> bool:
        """Return whether the legacy database has a users table."""
        return "users" in self._columns

    def _select(self, table: str, columns: Iterable[str], order: str) -> Iterator[tuple[Any, ...]]:
        present = self._columns[table]
        wanted = [c if c in present else "NULL" for c in columns]
        sql = f"SELECT {', '.join(wanted)} FROM {table} ORDER BY {order}"
        if self.engine == "postgresql":
            # A server-side cursor: ten million rows stream in flat memory.
            with self._conn.cursor(name=f"legacy_{table}") as cursor:
                cursor.itersize = 10_000
                cursor.execute(sql)
                yield from cursor
        else:
            cursor = self._conn.cursor()
            cursor.execute(sql)
            while rows := cursor.fetchmany(10_000):
                yield from rows
            cursor.close()

    def count(self, table: str) -> int:
        """Return the number of rows in a legacy table (0 when it does not exist)."""
        if table not in self._columns:
            return 0
        cursor = self._conn.cursor()
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        (n,) = cursor.fetchone()
        cursor.close()
        return int(n)

    def packages(self) -> list[LegacyPackage]:
        """Return every legacy package, by id."""
        rows = self._select(
            "packages", ("id", "name", "description", "category", "created_at"), "id"
        )
        return [
            LegacyPackage(int(r[0]), _text(r[1]), _text(r[2]), _text(r[3]), _moment(r[4]))
            for r in rows
        ]

    def courses(self) -> list[LegacyCourse]:
        """Return every legacy course, by id (the legacy order of a package's courses)."""
        rows = self._select("courses", ("id", "name", "description", "package_id"), "id")
        return [
            LegacyCourse(int(r[0]), _text(r[1]), _text(r[2]), None if r[3] is None else int(r[3]))
            for r in rows
        ]

    def users(self) -> dict[int, LegacyUser] | None:
        """Return the legacy users by id, or None when there is no users table."""
        if not self.has_users:
            return None
        rows = self._select("users", ("id", "first_name", "last_name", "email"), "id")
        return {
            int(r[0]): LegacyUser(int(r[0]), _text(r[1]), _text(r[2]), _text(r[3]))
            for r in rows
            if r[0] is not None
        }

    # NULL user ids sort last on both engines, so the two streams merge alike.
    _BY_USER = "CASE WHEN user_id IS NULL THEN 1 ELSE 0 END, user_id, id"

    def enrollments(self) -> Iterator[EnrollmentRow]:
        """Stream the legacy enrollments, by user, then id."""
        columns = ("id", "user_id", "package_id", "enrolled_at", "completed_at", "status")
        for r in self._select("user_package_enrollments", columns, self._BY_USER):
            yield (
                int(r[0]),
                None if r[1] is None else int(r[1]),
                None if r[2] is None else int(r[2]),
                _moment(r[3]),
                _moment(r[4]),
                None if r[5] is None else str(r[5]),
            )

    def completions(self) -> Iterator[CompletionRow]:
        """Stream the legacy course completions, by user, then id."""
        columns = (
            "id",
            "user_id",
            "course_id",
            "enrollment_id",
            "started_at",
            "completed_at",
            "status",
        )
        for r in self._select("user_course_completions", columns, self._BY_USER):
            yield (
                int(r[0]),
                None if r[1] is None else int(r[1]),
                None if r[2] is None else int(r[2]),
                None if r[3] is None else int(r[3]),
                _moment(r[4]),
                _moment(r[5]),
                None if r[6] is None else str(r[6]),
            )


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


# --- the report -------------------------------------------------------------------


@dataclass
class Anomaly:
    """One kind of anomaly in the legacy data, with every row that has it."""

    code: str
    title: str
    # What the migration does with these rows.
    action: str
    # Whether the migration refuses to start on them unless told (``--skip-orphans``).
    blocking: bool
    rows: list[dict[str, Any]] = field(default_factory=list)


#: Every anomaly the reconciliation looks for, in report order.
ANOMALIES: tuple[tuple[str, str, str, bool], ...] = (
    (
        "courses_without_package",
        "Courses with no package",
        "imported into the catalog, in no package",
        False,
    ),
    (
        "courses_missing_package",
        "Courses pointing at a missing package",
        "with --skip-orphans: imported into the catalog, in no package",
        True,
    ),
    (
        "packages_without_courses",
        "Packages with no courses (cannot be published)",
        "with --skip-orphans: not imported; their enrollments are skipped",
        True,
    ),
    (
        "enrollments_unknown_user",
        "Enrollments of unknown users",
        "with --skip-orphans: skipped",
        True,
    ),
    (
        "enrollments_unknown_package",
        "Enrollments in unknown packages",
        "with --skip-orphans: skipped",
        True,
    ),
    (
        "duplicate_enrollments",
        "Duplicate enrollments (same user and package)",
        "the first (lowest id) is imported, the others skipped",
        False,
    ),
    (
        "duplicate_completions",
        "Duplicate completions (same user, course, result and time)",
        "the first (lowest id) is imported, the others skipped",
        False,
    ),
    (
        "completions_unknown_user",
        "Completions of unknown users",
        "with --skip-orphans: skipped",
        True,
    ),
    (
        "completions_unknown_course",
        "Completions of unknown courses",
        "with --skip-orphans: skipped",
        True,
    ),
    (
        "unfinished_completions",
        "Completion rows that record no finished attempt",
        "not imported (no completion time, or a status that is not a result)",
        False,
    ),
    (
        "status_mismatches",
        "Enrollments the legacy system marked completed that Coursepack computes otherwise",
        "imported with the computed status; the engine's reason is given",
        False,
    ),
)

#: Legacy tables read, and Coursepack tables written, in report order.
READ_TABLES = (
    "packages",
    "courses",
    "users",
    "user_package_enrollments",
    "user_course_completions",
)
WRITE_TABLES = (
    "courses",
    "course_groups",
    "packages",
    "learners",
    "enrollments",
    "completion_events",
)


@dataclass
class Report:
    """The reconciliation report of one migration (dry run or real)."""

    source: str
    dry_run: bool
    read: dict[str, int | None] = field(default_factory=dict)
    would_write: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] | None = None
    anomalies: dict[str, Anomaly] = field(default_factory=dict)
    skip_orphans: bool = False

    def __post_init__(self) -> None:
        if not self.anomalies:
            self.anomalies = {
                code: Anomaly(code, title, action, blocking)
                for code, title, action, blocking in ANOMALIES
            }
        self.would_write = self.would_write or dict.fromkeys(WRITE_TABLES, 0)

    def add(self, code: str, **row: Any) -> None:
        """Record one anomalous row."""
        self.anomalies[code].rows.append(row)

    def counts(self) -> dict[str, int]:
        """Return the number of rows of each anomaly."""
        return {code: len(a.rows) for code, a in self.anomalies.items()}

    def unplaced(self) -> list[Anomaly]:
        """Return the anomalies that stop a real run (none when told to skip orphans)."""
        if self.skip_orphans:
            return []
        return [a for a in self.anomalies.values() if a.blocking and a.rows]

    def as_json(self) -> dict[str, Any]:
        """Return the report as plain data, keys in a fixed order."""
        return {
            "source": self.source,
            "mode": "dry-run" if self.dry_run else "run",
            "skip_orphans": self.skip_orphans,
            "read": self.read,
            "would_write": self.would_write,
            "written": self.written,
            "anomalies": [
                {
                    "code": a.code,
                    "title": a.title,
                    "action": a.action,
                    "blocking": a.blocking,
                    "count": len(a.rows),
                    "rows": a.rows,
                }
                for a in self.anomalies.values()
            ],
        }

    def to_json(self) -> str:
        """Return the report as JSON text."""
        return json.dumps(self.as_json(), indent=2, default=str) + "\n"

    def to_markdown(self, *, rows_listed: int = 50) -> str:
        """Return the report as Markdown (the JSON report lists every row)."""
        mode = "dry run (nothing written)" if self.dry_run else "migration"
        lines = [f"# Legacy migration report: {mode}", "", f"Source: `{self.source}`", ""]
        lines += ["## Rows read", "", "| legacy table | rows |", "|---|---:|"]
        for table in READ_TABLES:
            value = self.read.get(table)
            lines.append(f"| {table} | {'no table' if value is None else value} |")
        lines += ["", "## Rows written", ""]
        header = "| Coursepack table | would write |"
        rule = "|---|---:|"
        if self.written is not None:
            header += " written |"
            rule += "---:|"
        lines += [header, rule]
        for table in WRITE_TABLES:
            line = f"| {table} | {self.would_write.get(table, 0)} |"
            if self.written is not None:
                line += f" {self.written.get(table, 0)} |"
            lines.append(line)
        lines += ["", "## Anomalies", "", "| anomaly | rows | what the migration does |"]
        lines.append("|---|---:|---|")
        for a in self.anomalies.values():
            flag = (
                " **(blocks the migration)**"
                if a.blocking and a.rows and not self.skip_orphans
                else ""
            )
            lines.append(f"| {a.title} | {len(a.rows)} | {a.action}{flag} |")
        for a in self.anomalies.values():
            if not a.rows:
                continue
            lines += ["", f"### {a.title} ({len(a.rows)})", ""]
            for row in a.rows[:rows_listed]:
                lines.append("- " + ", ".join(f"{k} {_show(v)}" for k, v in row.items()))
            if len(a.rows) > rows_listed:
                lines.append(f"- … and {len(a.rows) - rows_listed} more (see the JSON report)")
        return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and " " in value:
        return repr(value)
    return str(value)


# --- the plan ---------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedItem:
    """An item of a migrated package's version 1: a legacy course or a mapped group."""

    course: int | None
    group: MappedGroup | None
    required: bool


@dataclass
class PlannedPackage:
    legacy: LegacyPackage
    items: list[PlannedItem]
    exists: bool = False


@dataclass
class Plan:
    """What the migration creates, and the reconciliation report."""

    report: Report
    courses: list[LegacyCourse]
    packages: dict[int, PlannedPackage]
    mapping: Mapping
    users: dict[int, LegacyUser] | None
    # Every legacy package id, placed or not.
    all_packages: set[int] = field(default_factory=set)
    # Legacy user ids that get a learner account (those with a row to import).
    learners: set[int] = field(default_factory=set)

    def describe(self) -> str:
        """Return the plan as text: each package's version 1 as it will be published."""
        names = {c.id: c.name for c in self.courses}
        lines = ["Plan:"]
        for planned in self.packages.values():
            p = planned.legacy
            state = " (already migrated)" if planned.exists else ""
            when = p.created_at.isoformat() if p.created_at else "now"
            lines.append(f"  package {p.id} {p.name!r}: v1 published {when}{state}")
            for n, item in enumerate(planned.items, 1):
                flag = "required" if item.required else "optional"
                if item.group is not None:
                    g = item.group
                    rule = {
                        "family": "complete 1 of",
                        "series": "complete all, in order, of",
                        "choice": f"complete {g.min_count or len(g.courses)} of",
                    }[g.kind]
                    lines.append(
                        f"    {n}. group {g.name!r} ({g.kind}, {rule} {len(g.courses)}) {flag}"
                    )
                    for course in g.courses:
                        star = " (required)" if course in g.required_courses else ""
                        lines.append(f"       - {course_code(course)} {names[course]}{star}")
                else:
                    assert item.course is not None
                    lines.append(f"    {n}. {course_code(item.course)} {names[item.course]} {flag}")
        return "\n".join(lines) + "\n"


def _plan_packages(
    source_packages: list[LegacyPackage],
    courses: list[LegacyCourse],
    mapping: Mapping,
    report: Report,
) -> dict[int, PlannedPackage]:
    package_ids = {p.id for p in source_packages}
    by_package: dict[int, list[LegacyCourse]] = defaultdict(list)
    for course in courses:
        if course.package_id is None:
            report.add("courses_without_package", course_id=course.id, name=course.name)
        elif course.package_id not in package_ids:
            report.add(
                "courses_missing_package",
                course_id=course.id,
                name=course.name,
                package_id=course.package_id,
            )
        else:
            by_package[course.package_id].append(course)
    course_package = {c.id: c.package_id for c in courses}
    problems = []
    group_of: dict[int, MappedGroup] = {}
    for mapped in mapping.groups:
        homes = set()
        for member in mapped.courses:
            if member not in course_package:
                problems.append(f"group {mapped.name!r}: there is no legacy course {member}")
            else:
                homes.add(course_package[member])
            group_of[member] = mapped
        if len(homes) > 1:
            problems.append(
                f"group {mapped.name!r}: its courses are in different legacy packages "
                f"({', '.join(str(h) for h in sorted(homes, key=str))}); a group replaces "
                "courses of one package"
            )
    for missing in sorted(mapping.optional_courses - set(course_package)):
        problems.append(f"optional_courses: there is no legacy course {missing}")
    if problems:
        raise MappingInvalid("The mapping does not fit the legacy data:", problems=problems)
    planned: dict[int, PlannedPackage] = {}
    for package in source_packages:
        members = by_package.get(package.id, [])
        if not members:
            report.add("packages_without_courses", package_id=package.id, name=package.name)
            continue
        items: list[PlannedItem] = []
        placed: set[str] = set()
        for course in members:
            group = group_of.get(course.id)
            if group is None:
                items.append(
                    PlannedItem(course.id, None, course.id not in mapping.optional_courses)
                )
            elif group.name not in placed:
                placed.add(group.name)
                items.append(PlannedItem(None, group, group.required))
        planned[package.id] = PlannedPackage(package, items)
    return planned


def _tree(planned: PlannedPackage, names: dict[int, str]) -> rules.RequirementTree:
    """Return the version-1 tree of a planned package, with legacy ids as course ids."""

    def ref(course: int) -> rules.CourseRef:
        return rules.CourseRef(course, course_code(course), names[course])

    items = []
    for n, item in enumerate(planned.items):
        if item.group is None:
            assert item.course is not None
            node: rules.CourseRef | rules.Group = ref(item.course)
        else:
            g = item.group
            node = rules.Group(
                group_id=n,
                version_id=n,
                version_number=1,
                name=g.name,
                kind=g.kind,
                min_count=g.min_count,
                items=tuple(rules.Item(ref(c), c in g.required_courses) for c in g.courses),
            )
        items.append(rules.Item(node, item.required))
    p = planned.legacy
    return rules.RequirementTree(p.id, 0, 1, p.name, tuple(items))


_RESULTS = {
    "completed": "completed",
    "complete": "completed",
    "passed": "passed",
    "pass": "passed",
    "failed": "failed",
    "fail": "failed",
}


def _result(status: str | None, completed_at: datetime | None) -> str | None:
    """Return the event kind a legacy completion row records, or None for no result."""
    if completed_at is None:
        return None
    if status is None or not status.strip():
        return "completed"
    return _RESULTS.get(status.strip().lower())


@dataclass
class _UserRows:
    """One legacy user's rows, as the walk classified them."""

    user_id: int | None
    # (legacy enrollment row) kept for import
    enrollments: list[EnrollmentRow]
    # (legacy completion id, course id, kind, completed at) kept for import
    completions: list[tuple[int, int, str, datetime]]


def _by_user(
    enrollments: Iterator[EnrollmentRow], completions: Iterator[CompletionRow]
) -> Iterator[tuple[int | None, list[EnrollmentRow], list[CompletionRow]]]:
    """Merge the two streams (both sorted by user, NULL last) into one group per user."""

    def key(user_id: int | None) -> tuple[bool, int]:
        return (user_id is None, user_id or 0)

    tagged = heapq.merge(
        ((key(r[1]), 0, r) for r in enrollments),
        ((key(r[1]), 1, r) for r in completions),
        key=lambda t: t[0],
    )
    for _, group in groupby(tagged, key=lambda t: t[0]):
        ens: list[EnrollmentRow] = []
        comps: list[CompletionRow] = []
        for _, which, row in group:
            if which == 0:
                ens.append(row)  # type: ignore[arg-type]
            else:
                comps.append(row)  # type: ignore[arg-type]
        user_id = (ens[0] if ens else comps[0])[1]
        yield user_id, ens, comps


def _walk(
    source: LegacySource,
    plan: Plan,
    report: Report | None,
    progress: ProgressFn | None,
) -> Iterator[_UserRows]:
    """Classify every enrollment and completion, user by user.

    Records anomalies in ``report`` (when given); yields the rows to import. The
    first pass and the writing pass walk alike, so they keep the same rows.
    """
    known_courses = {c.id for c in plan.courses}
    known_packages = plan.all_packages
    legacy_packages = set(plan.packages)

    def note(code: str, **row: Any) -> None:
        if report is not None:
            report.add(code, **row)

    for user_id, ens, comps in _by_user(source.enrollments(), source.completions()):
        known_user = user_id is not None and (plan.users is None or user_id in plan.users)
        kept_enrollments: list[EnrollmentRow] = []
        seen_packages: dict[int, int] = {}
        for row in ens:
            eid, _, package_id, _, _, _ = row
            if not known_user:
                note(
                    "enrollments_unknown_user",
                    enrollment_id=eid,
                    user_id=user_id,
                    package_id=package_id,
                )
            elif package_id is None or package_id not in known_packages:
                note(
                    "enrollments_unknown_package",
                    enrollment_id=eid,
                    user_id=user_id,
                    package_id=package_id,
                )
            elif package_id not in legacy_packages:
                # The package exists but was not placed (it has no courses): that
                # anomaly is reported on the package; its enrollments go with it.
                note(
                    "enrollments_unknown_package",
                    enrollment_id=eid,
                    user_id=user_id,
                    package_id=package_id,
                )
            elif package_id in seen_packages:
                note(
                    "duplicate_enrollments",
                    enrollment_id=eid,
                    user_id=user_id,
                    package_id=package_id,
                    kept_enrollment_id=seen_packages[package_id],
                )
            else:
                seen_packages[package_id] = eid
                kept_enrollments.append(row)
        kept_completions: list[tuple[int, int, str, datetime]] = []
        seen: dict[tuple[int, str, datetime], int] = {}
        for cid, _, course_id, _, _, completed_at, status in comps:
            kind = _result(status, completed_at)
            if not known_user:
                note(
                    "completions_unknown_user",
                    completion_id=cid,
                    user_id=user_id,
                    course_id=course_id,
                )
            elif course_id is None or course_id not in known_courses:
                note(
                    "completions_unknown_course",
                    completion_id=cid,
                    user_id=user_id,
                    course_id=course_id,
                )
            elif kind is None or completed_at is None:
                note(
                    "unfinished_completions",
                    completion_id=cid,
                    user_id=user_id,
                    course_id=course_id,
                    status=status,
                    completed_at=completed_at,
                )
            elif (course_id, kind, completed_at) in seen:
                note(
                    "duplicate_completions",
                    completion_id=cid,
                    user_id=user_id,
                    course_id=course_id,
                    kept_completion_id=seen[(course_id, kind, completed_at)],
                )
            else:
                seen[(course_id, kind, completed_at)] = cid
                kept_completions.append((cid, course_id, kind, completed_at))
        if progress is not None:
            progress("rows", len(ens) + len(comps))
        yield _UserRows(user_id, kept_enrollments, kept_completions)


def analyse(
    source: LegacySource,
    *,
    mapping: Mapping | None = None,
    dry_run: bool = True,
    skip_orphans: bool = False,
    progress: ProgressFn | None = None,
) -> Plan:
    """Read the legacy database once and return the plan and its reconciliation report.

    Writes nothing. ``would_write`` counts what is not in Coursepack yet, so after a
    complete migration it is all zeros.
    """
    mapping = mapping or Mapping()
    report = Report(source=_redacted(source.url), dry_run=dry_run, skip_orphans=skip_orphans)
    for table in READ_TABLES:
        report.read[table] = None if table == "users" and not source.has_users else 0
    packages = source.packages()
    courses = source.courses()
    users = source.users()
    report.read["packages"] = len(packages)
    report.read["courses"] = len(courses)
    if users is not None:
        report.read["users"] = len(users)
    planned = _plan_packages(packages, courses, mapping, report)
    plan = Plan(report, courses, planned, mapping, users, {p.id for p in packages})
    names = {c.id: c.name for c in courses}
    status_rules = {pid: rules.StatusRule(_tree(p, names)) for pid, p in planned.items()}
    trees: dict[int, rules.RequirementTree] = {}

    # What exists already (a repeated run).
    existing_codes = set(
        Course.objects.filter(code__in=[course_code(c.id) for c in courses]).values_list(
            "code", flat=True
        )
    )
    report.would_write["courses"] = sum(course_code(c.id) not in existing_codes for c in courses)
    migrated_packages = _keys("package")
    migrated_groups = _keys("group")
    for pid, p in planned.items():
        p.exists = str(pid) in migrated_packages
    report.would_write["packages"] = sum(not p.exists for p in planned.values())
    report.would_write["course_groups"] = sum(
        g.name not in migrated_groups
        for g in mapping.groups
        if any(i.group is g for p in planned.values() for i in p.items)
    )
    enrolled = {
        pid: _enrolled_legacy_users(migrated_packages.get(str(pid)))
        for pid, p in planned.items()
        if p.exists
    }
    n_enrollments = n_completions = 0
    pending_keys: list[str] = []
    new_events = 0

    def flush() -> int:
        if not pending_keys:
            return 0
        found = learning_selectors.recorded_external_ids(pending_keys)
        n = len(pending_keys) - len(found)
        pending_keys.clear()
        return n

    for rows in _walk(source, plan, report, progress):
        n_enrollments += len(rows.enrollments)
        n_completions += len(rows.completions)
        if rows.enrollments or rows.completions:
            assert rows.user_id is not None
            plan.learners.add(rows.user_id)
        for row in rows.enrollments:
            package_id = row[2]
            assert package_id is not None and rows.user_id is not None
            if rows.user_id not in enrolled.get(package_id, ()):
                report.would_write["enrollments"] += 1
        pending_keys.extend(event_key(c[0]) for c in rows.completions)
        if len(pending_keys) >= 2000:
            new_events += flush()
        # Legacy statuses against the engine.
        marked = [r for r in rows.enrollments if (r[5] or "").strip().lower() == "completed"]
        if marked:
            # Recorded when it occurred: the legacy system has no other record time.
            event_rows: list[rules.EventRow] = [
                (c[0], c[1], c[2], c[3], None, c[3]) for c in rows.completions
            ]
            facts = rules.course_facts_from_rows(event_rows)
            for row in marked:
                assert row[2] is not None
                since = row[3] or planned[row[2]].legacy.created_at
                summary = status_rules[row[2]].summarize(facts, since)
                if summary.status != rules.EnrollmentStatus.COMPLETED:
                    tree = trees.get(row[2]) or trees.setdefault(
                        row[2], _tree(planned[row[2]], names)
                    )
                    evaluation = rules.evaluate(
                        tree,
                        [
                            rules.LearnerEvent(c[0], c[1], rules.EventKind(c[2]), c[3])
                            for c in rows.completions
                        ],
                        on_version_since=since,
                    )
                    report.add(
                        "status_mismatches",
                        enrollment_id=row[0],
                        user_id=rows.user_id,
                        package_id=row[2],
                        legacy_status=row[5],
                        legacy_completed_at=row[4],
                        computed_status=str(summary.status),
                        reason="; ".join(evaluation.why_not_complete()),
                    )
    new_events += flush()
    report.read["user_package_enrollments"] = source.count("user_package_enrollments")
    report.read["user_course_completions"] = source.count("user_course_completions")
    report.would_write["completion_events"] = new_events
    existing_users = _existing_usernames([username(u) for u in plan.learners])
    report.would_write["learners"] = len(plan.learners) - existing_users
    return plan


def _redacted(url: str) -> str:
    """Return the URL without its password, for reports."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


def _keys(table: str) -> dict[str, int]:
    return dict(LegacyKey.objects.filter(table=table).values_list("legacy_key", "object_id"))


def _enrolled_legacy_users(package_id: int | None) -> set[int]:
    if package_id is None:
        return set()
    from django.contrib.auth import get_user_model

    learner_ids = learning_selectors.open_enrollment_learner_ids(package_id)
    names = get_user_model().objects.filter(pk__in=learner_ids).values_list("username", flat=True)
    return {
        int(n.removeprefix("legacy-")) for n in names if n.startswith("legacy-") and n[7:].isdigit()
    }


def _existing_usernames(names: list[str]) -> int:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    found = 0
    iterator = iter(names)
    while chunk := list(islice(iterator, 2000)):
        found += User.objects.filter(username__in=chunk).count()
    return found


# --- the migration ------------------------------------------------------------------


def migration_actor() -> Any:
    """Return the account migrated records are attributed to, creating it if needed."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    user = User.objects.filter(username=MIGRATION_ACTOR).first()
    if user is None:
        user = accounts.create_user(
            actor=None, username=MIGRATION_ACTOR, role="admin", first_name="Legacy migration"
        )
    return user


def _remember(table: str, key: str, object_id: int, now: datetime) -> None:
    LegacyKey.objects.create(table=table, legacy_key=key, object_id=object_id, migrated_at=now)


def migrate(
    source: LegacySource,
    plan: Plan,
    *,
    progress: ProgressFn | None = None,
) -> Report:
    """Write the plan, all or nothing, through the services; return the report with
    what was written.

    Refuses (``UnplacedAnomalies``) while the plan's report has anomalies that
    block and the caller did not say to skip orphans.
    """
    report = plan.report
    blocking = report.unplaced()
    if blocking:
        raise UnplacedAnomalies(
            "The legacy data has rows the migration cannot place; fix them in the legacy "
            "database, or run again with --skip-orphans to leave them out (the report lists "
            "every row):",
            problems=[f"{a.title}: {len(a.rows)}" for a in blocking],
        )
    written = dict.fromkeys(WRITE_TABLES, 0)
    with transaction.atomic():
        actor = migration_actor()
        now = timezone.now()
        course_ids = _migrate_courses(actor, plan, written)
        package_ids = _migrate_packages(actor, plan, course_ids, written, now)
        learner_ids = _migrate_learners(actor, plan, written)
        enrollments: dict[int, dict[int, datetime]] = defaultdict(dict)

        def completions() -> Iterator[learning.ImportedCompletion]:
            for rows in _walk(source, plan, None, progress):
                for row in rows.enrollments:
                    assert rows.user_id is not None and row[2] is not None
                    package = plan.packages[row[2]].legacy
                    when = row[3] or package.created_at or now
                    enrollments[row[2]][learner_ids[rows.user_id]] = when
                for cid, course, kind, at in rows.completions:
                    assert rows.user_id is not None
                    yield learning.ImportedCompletion(
                        learner_id=learner_ids[rows.user_id],
                        course_id=course_ids[course],
                        kind=kind,
                        occurred_at=at,
                        external_id=event_key(cid),
                    )

        result = learning.import_completions(
            actor=actor, completions=completions(), notes=CHANGE_NOTES
        )
        written["completion_events"] = result.created
        for legacy_id, times in enrollments.items():
            package_id = package_ids[legacy_id]
            taken = learning_selectors.open_enrollment_learner_ids(package_id)
            new = {learner: at for learner, at in times.items() if learner not in taken}
            if not new:
                continue
            outcome = learning.bulk_enroll(
                actor=actor,
                package_id=package_id,
                learner_ids=sorted(new),
                enrolled_at=new,
                notes=CHANGE_NOTES,
            )
            written["enrollments"] += outcome.enrolled
            if progress is not None:
                progress("enrollments", outcome.enrolled)
    report.written = written
    return report


def _migrate_courses(actor: Actor, plan: Plan, written: dict[str, int]) -> dict[int, int]:
    codes = {course_code(c.id): c for c in plan.courses}
    ids = dict(Course.objects.filter(code__in=codes).values_list("code", "pk"))
    result: dict[int, int] = {}
    for code, course in codes.items():
        if code not in ids:
            created = catalog.create_course(
                actor=actor,
                code=code,
                name=course.name or code,
                description=course.description,
            )
            ids[code] = created.pk
            written["courses"] += 1
        result[course.id] = ids[code]
    return result


def _migrate_packages(
    actor: Actor,
    plan: Plan,
    course_ids: dict[int, int],
    written: dict[str, int],
    now: datetime,
) -> dict[int, int]:
    packages = _keys("package")
    groups = _keys("group")
    result: dict[int, int] = {}
    for legacy_id, planned in plan.packages.items():
        key = str(legacy_id)
        if key in packages:
            result[legacy_id] = packages[key]
            continue
        p = planned.legacy
        published_at = p.created_at or now
        version = packaging.create_package(
            actor=actor,
            name=p.name or f"Legacy package {legacy_id}",
            description=p.description,
            category=p.category,
            created_at=published_at,
        )
        for item in planned.items:
            if item.group is None:
                assert item.course is not None
                packaging.add_item(
                    actor=actor,
                    version_id=version.pk,
                    course_id=course_ids[item.course],
                    required=item.required,
                )
                continue
            g = item.group
            if g.name not in groups:
                gv = packaging.create_group(
                    actor=actor,
                    name=g.name,
                    kind=str(g.kind),
                    min_count=g.min_count,
                    description=g.description,
                )
                for course in g.courses:
                    packaging.add_group_item(
                        actor=actor,
                        group_version_id=gv.pk,
                        course_id=course_ids[course],
                        required=course in g.required_courses,
                    )
                packaging.publish_group_version(
                    actor=actor,
                    group_version_id=gv.pk,
                    change_notes=CHANGE_NOTES,
                    published_at=published_at,
                )
                groups[g.name] = gv.group_id
                _remember("group", g.name, gv.group_id, now)
                written["course_groups"] += 1
            packaging.add_item(
                actor=actor, version_id=version.pk, group_id=groups[g.name], required=item.required
            )
        packaging.publish_version(
            actor=actor,
            version_id=version.pk,
            change_notes=CHANGE_NOTES,
            published_at=published_at,
        )
        _remember("package", key, version.package_id, now)
        result[legacy_id] = version.package_id
        written["packages"] += 1
    return result


def _migrate_learners(actor: Actor, plan: Plan, written: dict[str, int]) -> dict[int, int]:
    users = plan.users or {}

    def learners() -> Iterator[accounts.NewLearner]:
        for legacy_id in sorted(plan.learners):
            user = users.get(legacy_id)
            yield accounts.NewLearner(
                username=username(legacy_id),
                first_name=user.first_name[:150] if user else "",
                last_name=user.last_name[:150] if user else "",
                email=user.email[:254] if user else "",
            )

    before = _existing_usernames([username(u) for u in plan.learners])
    ids = accounts.create_learners(actor=actor, learners=learners(), notes=CHANGE_NOTES)
    written["learners"] = len(plan.learners) - before
    return {legacy_id: ids[username(legacy_id)] for legacy_id in plan.learners}
