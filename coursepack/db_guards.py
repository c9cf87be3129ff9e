"""Database triggers that make published history immutable, on SQLite and PostgreSQL.

The service layer already refuses these changes with typed errors; the triggers
are the second wall, so that raw SQL cannot rewrite history either:

- a published, scheduled or archived package version never changes, except for
  the status moves the publish workflow makes (scheduled → published/archived,
  published → archived, with the archive stamp) — and is never deleted;
- a published group version never changes and is never deleted;
- the items of any non-draft version are never inserted, updated or deleted;
- version numbers are handed out gaplessly and versions are born as drafts;
  a version's number and owner never change afterwards (not even a draft's,
  which would open a gap or a duplicate);
- completion events, enrollment moves, the publish log and the audit log are
  append-only.

The triggers are (re)installed after every ``migrate`` (``install``), because
SQLite rebuilds a table — and drops its triggers — when a migration alters it.

Tests that end by emptying the database (``flush``) may do so inside
``bypass_for_flush()``: on SQLite the DELETE guards consult a function this
process registers on its own connections; a connection without it (the
``sqlite3`` shell) cannot delete guarded rows at all. On PostgreSQL ``flush``
truncates, which row triggers do not see.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

_bypass = threading.Event()

_RELEASED_VERSION_COLUMNS = (
    "id",
    "package_id",
    "version_number",
    "name",
    "description",
    "revision",
    "based_on_id",
    "created_at",
    "created_by_id",
    "published_at",
    "published_by_id",
    "effective_from",
    "change_notes",
)
_ALLOWED_VERSION_MOVES = (
    "(OLD.status = 'scheduled' AND NEW.status IN ('published', 'archived'))"
    " OR (OLD.status = 'published' AND NEW.status = 'archived')"
)
_APPEND_ONLY_TABLES = (
    "audit_auditevent",
    "packaging_publishrecord",
    "learning_completionevent",
    "learning_enrollmentmove",
    "learning_dueextension",
    "learning_exemption",
    "learning_exemptionrevocation",
    "learning_equivalence",
    "learning_equivalencechange",
)
# (version table, parent column, item table, item's version column)
_VERSIONED = (
    ("packaging_packageversion", "package_id", "packaging_packageversionitem", "version_id"),
    # A version's due and validity rules are content too (the version-table triggers
    # this entry repeats are identical, so installing them twice changes nothing).
    ("packaging_packageversion", "package_id", "packaging_versionlifecycle", "version_id"),
    (
        "packaging_coursegroupversion",
        "group_id",
        "packaging_coursegroupitem",
        "group_version_id",
    ),
)

IMMUTABLE_MESSAGE = "coursepack: published history is immutable"
IDENTITY_MESSAGE = "coursepack: a version keeps its number and its package or group"


@contextmanager
def bypass_for_flush() -> Iterator[None]:
    """Let this process empty guarded tables (test teardown only)."""
    _bypass.set()
    try:
        yield
    finally:
        _bypass.clear()


def register_sqlite_functions(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Give a new SQLite connection the function the DELETE guards consult."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "cp_guard_bypass", 0, lambda: 1 if _bypass.is_set() else 0
        )


def _unchanged(columns: tuple[str, ...], same: str) -> str:
    return " AND ".join(f"NEW.{c} {same} OLD.{c}" for c in columns)


def _sqlite_statements() -> list[str]:
    stmts: list[str] = []
    msg = IMMUTABLE_MESSAGE

    def trigger(name: str, when_op: str, table: str, condition: str, message: str = msg) -> None:
        stmts.append(f"DROP TRIGGER IF EXISTS {name}")
        stmts.append(
            f"CREATE TRIGGER {name} BEFORE {when_op} ON {table} FOR EACH ROW "
            f"WHEN {condition} BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )

    # Package versions: only the workflow's status moves, never content.
    trigger(
        "cp_package_version_update",
        "UPDATE",
        "packaging_packageversion",
        f"OLD.status <> 'draft' AND NOT (({_ALLOWED_VERSION_MOVES}) AND "
        f"{_unchanged(_RELEASED_VERSION_COLUMNS, 'IS')})",
    )
    # Group versions: nothing changes once published.
    trigger(
        "cp_group_version_update",
        "UPDATE",
        "packaging_coursegroupversion",
        "OLD.status <> 'draft'",
    )
    for version_table, parent, item_table, item_fk in _VERSIONED:
        trigger(
            f"cp_{version_table}_delete",
            "DELETE",
            version_table,
            "OLD.status <> 'draft' AND cp_guard_bypass() = 0",
        )
        trigger(
            f"cp_{version_table}_insert",
            "INSERT",
            version_table,
            f"NEW.status <> 'draft' OR NEW.version_number <> 1 + COALESCE("
            f"(SELECT MAX(version_number) FROM {version_table} WHERE {parent} = NEW.{parent}), 0)",
            "coursepack: versions are created as drafts with the next version number",
        )
        trigger(
            f"cp_{version_table}_identity",
            "UPDATE",
            version_table,
            f"NEW.version_number IS NOT OLD.version_number OR NEW.{parent} IS NOT OLD.{parent}",
            IDENTITY_MESSAGE,
        )
        status_of = f"(SELECT status FROM {version_table} WHERE id = %s)"
        trigger(
            f"cp_{item_table}_insert",
            "INSERT",
            item_table,
            f"{status_of % ('NEW.' + item_fk)} <> 'draft'",
        )
        trigger(
            f"cp_{item_table}_update",
            "UPDATE",
            item_table,
            f"{status_of % ('OLD.' + item_fk)} <> 'draft' OR {status_of % ('NEW.' + item_fk)} <> 'draft'",
        )
        trigger(
            f"cp_{item_table}_delete",
            "DELETE",
            item_table,
            f"{status_of % ('OLD.' + item_fk)} <> 'draft' AND cp_guard_bypass() = 0",
        )
    for table in _APPEND_ONLY_TABLES:
        trigger(f"cp_{table}_update", "UPDATE", table, "1")
        trigger(f"cp_{table}_delete", "DELETE", table, "cp_guard_bypass() = 0")
    return stmts


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\nEND $$"
    )


def _pg_raise(message: str = IMMUTABLE_MESSAGE) -> str:
    return f"RAISE EXCEPTION '{message}' USING ERRCODE = 'integrity_constraint_violation';"


def _postgresql_statements() -> list[str]:
    stmts: list[str] = []

    def trigger(name: str, ops: str, table: str, body: str) -> None:
        stmts.append(_pg_function(name, body))
        stmts.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        stmts.append(
            f"CREATE TRIGGER {name} BEFORE {ops} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
        )

    trigger(
        "cp_package_version_update",
        "UPDATE",
        "packaging_packageversion",
        f"IF OLD.status <> 'draft' AND NOT (({_ALLOWED_VERSION_MOVES}) AND "
        f"{_unchanged(_RELEASED_VERSION_COLUMNS, 'IS NOT DISTINCT FROM')}) THEN "
        f"{_pg_raise()} END IF; RETURN NEW;",
    )
    trigger(
        "cp_group_version_update",
        "UPDATE",
        "packaging_coursegroupversion",
        f"IF OLD.status <> 'draft' THEN {_pg_raise()} END IF; RETURN NEW;",
    )
    for version_table, parent, item_table, item_fk in _VERSIONED:
        trigger(
            f"cp_{version_table}_delete",
            "DELETE",
            version_table,
            f"IF OLD.status <> 'draft' THEN {_pg_raise()} END IF; RETURN OLD;",
        )
        trigger(
            f"cp_{version_table}_insert",
            "INSERT",
            version_table,
            # Two concurrent inserts may read the same MAX; the unique
            # (parent, version_number) constraint then refuses the second.
            f"IF NEW.status <> 'draft' OR NEW.version_number <> 1 + COALESCE("
            f"(SELECT MAX(version_number) FROM {version_table} WHERE {parent} = NEW.{parent}), 0) "
            f"THEN {_pg_raise('coursepack: versions are created as drafts with the next version number')} "
            f"END IF; RETURN NEW;",
        )
        trigger(
            f"cp_{version_table}_identity",
            "UPDATE",
            version_table,
            f"IF NEW.version_number IS DISTINCT FROM OLD.version_number "
            f"OR NEW.{parent} IS DISTINCT FROM OLD.{parent} THEN {_pg_raise(IDENTITY_MESSAGE)} "
            f"END IF; RETURN NEW;",
        )
        status_of = f"(SELECT status FROM {version_table} WHERE id = %s)"
        trigger(
            f"cp_{item_table}_write",
            "INSERT OR UPDATE OR DELETE",
            item_table,
            f"IF TG_OP IN ('UPDATE', 'DELETE') AND {status_of % ('OLD.' + item_fk)} <> 'draft' "
            f"THEN {_pg_raise()} END IF; "
            f"IF TG_OP IN ('INSERT', 'UPDATE') AND {status_of % ('NEW.' + item_fk)} <> 'draft' "
            f"THEN {_pg_raise()} END IF; "
            f"IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW;",
        )
    for table in _APPEND_ONLY_TABLES:
        trigger(f"cp_{table}_append_only", "UPDATE OR DELETE", table, f"{_pg_raise()} RETURN NULL;")
    return stmts


def statements(vendor: str) -> list[str]:
    """Return the SQL that installs every guard on a database of this vendor."""
    if vendor == "sqlite":
        return _sqlite_statements()
    if vendor == "postgresql":
        return _postgresql_statements()
    raise NotImplementedError(f"Coursepack supports SQLite and PostgreSQL, not {vendor}")


def install(using: str = "default", **kwargs: Any) -> None:
    """Install (or re-install) every guard on the database ``using``."""
    from django.db import connections

    connection = connections[using]
    with connection.cursor() as cursor:
        for sql in statements(connection.vendor):
            cursor.execute(sql)
