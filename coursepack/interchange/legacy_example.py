"""Build legacy databases in the seed's schema: the docs' example, tests' and the benchmark's.

The tables are exactly the seed's legacy design: ``packages`` (id, name,
description, created_at, updated_at), ``courses`` (id, name, description,
package_id), ``user_package_enrollments`` (id, user_id, package_id, enrolled_at,
completed_at, status) and ``user_course_completions`` (id, user_id, course_id,
enrollment_id, started_at, completed_at, status). There are no foreign keys: the
legacy data drifted, which is what the reconciliation report is for. A ``users``
table is optional (the seed has none).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

__all__ = ["LegacyData", "example", "example_mapping", "write_legacy"]

_DDL = (
    "CREATE TABLE packages (id INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL, "
    "description TEXT, created_at TIMESTAMP, updated_at TIMESTAMP)",
    "CREATE TABLE courses (id INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL, "
    "description TEXT, package_id INTEGER)",
    "CREATE TABLE user_package_enrollments (id INTEGER PRIMARY KEY, user_id INTEGER, "
    "package_id INTEGER, enrolled_at TIMESTAMP, completed_at TIMESTAMP, status VARCHAR(32))",
    "CREATE TABLE user_course_completions (id INTEGER PRIMARY KEY, user_id INTEGER, "
    "course_id INTEGER, enrollment_id INTEGER, started_at TIMESTAMP, completed_at TIMESTAMP, "
    "status VARCHAR(32))",
)
_USERS_DDL = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY, first_name VARCHAR(150), "
    "last_name VARCHAR(150), email VARCHAR(254))"
)


@dataclass
class LegacyData:
    """Rows of the legacy tables, as tuples in the tables' column order."""

    packages: Iterable[tuple[Any, ...]] = ()
    courses: Iterable[tuple[Any, ...]] = ()
    enrollments: Iterable[tuple[Any, ...]] = ()
    completions: Iterable[tuple[Any, ...]] = ()
    # None: no users table (as in the seed).
    users: Iterable[tuple[Any, ...]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _insert(conn: Any, engine: str, table: str, width: int, rows: Iterable[tuple[Any, ...]]) -> int:
    mark = "?" if engine == "sqlite" else "%s"
    sql = f"INSERT INTO {table} VALUES ({', '.join([mark] * width)})"
    n = 0
    iterator = iter(rows)
    cursor = conn.cursor()
    while batch := list(islice(iterator, 10_000)):
        cursor.executemany(sql, batch)
        n += len(batch)
    cursor.close()
    return n


def write_legacy(target: str | Path, data: LegacyData) -> dict[str, int]:
    """Create the legacy tables in ``target`` (a new SQLite file, or an empty
    PostgreSQL database given by URL) and fill them; return rows per table."""
    target = str(target)
    if target.startswith(("postgres://", "postgresql://")):
        import psycopg

        conn: Any = psycopg.connect(target)
        engine = "postgresql"
    else:
        path = Path(target.removeprefix("sqlite:///"))
        if path.exists():
            path.unlink()
        conn = sqlite3.connect(path)
        engine = "sqlite"
    try:
        cursor = conn.cursor()
        for ddl in _DDL:
            cursor.execute(ddl)
        if data.users is not None:
            cursor.execute(_USERS_DDL)
        cursor.close()
        counts = {
            "packages": _insert(conn, engine, "packages", 5, data.packages),
            "courses": _insert(conn, engine, "courses", 4, data.courses),
            "user_package_enrollments": _insert(
                conn, engine, "user_package_enrollments", 6, data.enrollments
            ),
            "user_course_completions": _insert(
                conn, engine, "user_course_completions", 7, data.completions
            ),
        }
        if data.users is not None:
            counts["users"] = _insert(conn, engine, "users", 4, data.users)
        conn.commit()
    finally:
        conn.close()
    return counts


def _t(text: str) -> str:
    # Legacy timestamps as the seed's MySQL would print them: naive, UTC.
    return text


def example() -> LegacyData:
    """Return the seed's example as a legacy database: three packages of courses,
    the Cybersecurity package with its English/Spanish editions (a language family
    the mapping names), a safety package whose emergency courses were a series,
    six learners, and a few rows of the kinds real legacy data has."""
    packages = [
        (
            1,
            "2024 Cybersecurity Training",
            "Annual security awareness",
            _t("2023-12-01 09:00:00"),
            _t("2024-01-15 09:00:00"),
        ),
        (
            2,
            "HR Compliance Package",
            "Conduct and harassment",
            _t("2023-12-01 10:00:00"),
            _t("2023-12-01 10:00:00"),
        ),
        (
            3,
            "Q1 2024 Safety Training",
            "Quarterly safety training for all employees",
            _t("2024-01-05 08:00:00"),
            _t("2024-01-05 08:00:00"),
        ),
    ]
    courses = [
        (1, "Phishing Awareness", "", 1),
        (2, "Password Security", "", 1),
        (3, "Data Protection Basics", "", 1),
        (4, "Cybersecurity Training - English", "", 1),
        (5, "Cybersecurity Training - Spanish", "", 1),
        (6, "Harassment Prevention", "", 2),
        (7, "Code of Conduct", "", 2),
        (8, "Workplace Safety Basics", "", 3),
        (9, "Fire Safety", "", 3),
        (10, "First Aid Basics", "", 3),
        # A course that was never put in a package.
        (11, "Legacy Induction Video", "", None),
    ]
    enrollments = [
        # id, user, package, enrolled_at, completed_at, status
        (1, 101, 1, "2024-01-08 09:00:00", "2024-01-20 16:00:00", "completed"),
        (2, 102, 1, "2024-01-08 09:00:00", "2024-01-22 11:00:00", "completed"),
        (3, 103, 1, "2024-01-09 09:00:00", None, "in_progress"),
        (4, 101, 2, "2023-12-04 09:00:00", "2023-12-10 12:00:00", "completed"),
        (5, 104, 2, "2023-12-04 09:00:00", None, "not_started"),
        (6, 101, 3, "2024-01-10 09:00:00", "2024-02-01 10:00:00", "completed"),
        (7, 105, 3, "2024-01-10 09:00:00", None, "in_progress"),
        # Marked completed, but the learner never did Password Security.
        (8, 106, 1, "2024-01-08 09:00:00", "2024-01-25 09:00:00", "completed"),
    ]
    completions = [
        # id, user, course, enrollment, started_at, completed_at, status
        (1, 101, 1, 1, "2024-01-10 09:00:00", "2024-01-10 10:00:00", "completed"),
        (2, 101, 2, 1, "2024-01-12 09:00:00", "2024-01-12 10:00:00", "completed"),
        (3, 101, 3, 1, "2024-01-15 09:00:00", "2024-01-15 10:00:00", "completed"),
        (4, 101, 4, 1, "2024-01-20 15:00:00", "2024-01-20 16:00:00", "completed"),
        (5, 102, 1, 2, "2024-01-09 09:00:00", "2024-01-09 10:00:00", "passed"),
        (6, 102, 2, 2, "2024-01-10 09:00:00", "2024-01-10 10:00:00", "completed"),
        (7, 102, 3, 2, "2024-01-11 09:00:00", "2024-01-11 10:00:00", "completed"),
        (8, 102, 5, 2, "2024-01-22 10:00:00", "2024-01-22 11:00:00", "completed"),
        # The same row twice (an old double submit).
        (9, 102, 5, 2, "2024-01-22 10:00:00", "2024-01-22 11:00:00", "completed"),
        (10, 103, 1, 3, "2024-01-11 09:00:00", "2024-01-11 10:00:00", "completed"),
        (11, 103, 2, 3, "2024-01-12 09:00:00", None, "in_progress"),
        (12, 101, 6, 4, "2023-12-05 09:00:00", "2023-12-05 10:00:00", "completed"),
        (13, 101, 7, 4, "2023-12-10 11:00:00", "2023-12-10 12:00:00", "completed"),
        (14, 101, 8, 6, "2024-01-11 09:00:00", "2024-01-11 10:00:00", "completed"),
        (15, 101, 9, 6, "2024-01-20 09:00:00", "2024-01-20 10:00:00", "completed"),
        (16, 101, 10, 6, "2024-02-01 09:00:00", "2024-02-01 10:00:00", "completed"),
        (17, 105, 8, 7, "2024-01-11 09:00:00", "2024-01-11 10:00:00", "completed"),
        (18, 105, 10, 7, "2024-01-12 09:00:00", "2024-01-12 10:00:00", "completed"),
        (19, 106, 1, 8, "2024-01-09 09:00:00", "2024-01-09 10:00:00", "completed"),
        (20, 106, 3, 8, "2024-01-10 09:00:00", "2024-01-10 10:00:00", "completed"),
        (21, 106, 4, 8, "2024-01-25 08:00:00", "2024-01-25 09:00:00", "completed"),
        # A completion of a course that was deleted from the legacy catalog.
        (22, 104, 99, None, "2023-12-06 09:00:00", "2023-12-06 10:00:00", "completed"),
    ]
    return LegacyData(packages, courses, enrollments, completions)


def example_mapping() -> str:
    """Return the mapping file of the example (YAML)."""
    return (
        "# Implicit groups of the legacy packages (legacy course ids).\n"
        "groups:\n"
        "  - name: Language Choice\n"
        "    kind: family\n"
        "    courses: [4, 5]\n"
        "  - name: Emergency Procedures\n"
        "    kind: series\n"
        "    courses: [9, 10]\n"
    )


# --- generated legacy databases of a given shape (benchmarks) ---------------------------


def generated(
    *,
    packages: int,
    courses_per_package: int,
    users: int,
    enrollments: int,
    completions: int,
    seed_time: datetime | None = None,
) -> LegacyData:
    """Return a consistent legacy database of the given shape, built lazily.

    Every user has ``enrollments // users`` packages (rounded up for the first
    ones); completions are spread over the courses of each user's packages, in
    user order, so about the requested number are produced.
    """
    start = seed_time or datetime(2023, 1, 1, tzinfo=UTC)

    def package_rows() -> Iterator[tuple[Any, ...]]:
        for p in range(1, packages + 1):
            at = (start + timedelta(hours=p)).strftime("%Y-%m-%d %H:%M:%S")
            yield (p, f"Package {p}", "", at, at)

    def course_rows() -> Iterator[tuple[Any, ...]]:
        for p in range(1, packages + 1):
            for k in range(courses_per_package):
                c = (p - 1) * courses_per_package + k + 1
                yield (c, f"Course {c}", "", p)

    per_user = max(1, enrollments // max(1, users))
    completions_per_enrollment = max(1, completions // max(1, enrollments))

    def user_packages(u: int) -> Sequence[int]:
        return [((u * 7 + j * 13) % packages) + 1 for j in range(per_user)]

    def enrollment_rows() -> Iterator[tuple[Any, ...]]:
        e = 0
        for u in range(1, users + 1):
            for p in dict.fromkeys(user_packages(u)):
                e += 1
                at = (start + timedelta(days=30, minutes=e % 50_000)).strftime("%Y-%m-%d %H:%M:%S")
                yield (e, u, p, at, None, "in_progress")

    def completion_rows() -> Iterator[tuple[Any, ...]]:
        c = 0
        for u in range(1, users + 1):
            for p in dict.fromkeys(user_packages(u)):
                for k in range(completions_per_enrollment):
                    c += 1
                    course = (p - 1) * courses_per_package + (k % courses_per_package) + 1
                    done = start + timedelta(days=40, minutes=c % 100_000)
                    text = done.strftime("%Y-%m-%d %H:%M:%S")
                    # A retake after the first round: a new row, a later time.
                    yield (c, u, course, None, text, text, "completed")

    return LegacyData(package_rows(), course_rows(), enrollment_rows(), completion_rows())
