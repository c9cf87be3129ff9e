"""Reading the legacy tables (the seed's schema) with plain DB-API, and the keys
legacy rows are known by in Coursepack."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from coursepack.interchange.errors import LegacySourceError

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


def start_evidence(started_at: datetime | None) -> str:
    """Return the evidence note that keeps a legacy completion row's ``started_at`` on
    the event it becomes (empty when the row has no start time)."""
    if started_at is None:
        return ""
    return f"Legacy attempt started {started_at.isoformat()}"


def redacted(url: str) -> str:
    """Return the URL without its password, for reports and the audit log."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


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
