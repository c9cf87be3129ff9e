"""The enrollment summary rows: the triggers that keep them, their check and rebuild.

Three tables (``summary_models``) count the enrollments by key. Row triggers on
``learning_enrollment`` take a row's old key off (UPDATE, DELETE) and add its new
key (INSERT, UPDATE) in the statement that changes the row, so the summaries are
written by the same write path as the status cache — the same statement of the
same transaction, whichever service (or bulk insert) made it — and take their row
locks after the enrollments', at the end of ADR 0009's lock order.

A later period not complete yet is counted under its previous period's version and
expiry; when that period's expiry or version changes, its successor is moved to its
new key by the same trigger.

On PostgreSQL the triggers run BEFORE each row, so that a statement changing two
linked periods sees the periods already processed and the row being processed as it
was (AFTER row triggers there would see the whole statement's result). On SQLite
the AFTER row triggers run row by row, which comes to the same.

On PostgreSQL a bulk write runs in a ``deferred`` block (ADR 0037): the triggers
insert each change as a delta row into a temporary table of the session, and the
block's end adds them up into the summary rows, once per key.

``check`` compares the rows with a from-scratch aggregate of the enrollments;
``rebuild`` replaces them with it. ``rebuild_statuses`` calls both. The triggers' SQL
(the keys and each write's changes) is written by ``summary_sql``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.transaction import TransactionManagementError

from coursepack.learning.summary_sql import (
    _COMPLETION_KEY,
    _COMPLETION_MONTH_KEY,
    _COURSE_DAY_KEY,
    _COURSE_KEY,
    _COURSE_LEARNER_KEY,
    _COURSE_REPEAT_KEY,
    _DAY_KEY,
    _DONE_KINDS,
    _FAILED,
    _LEARNER_KEY,
    _SCOPES,
    _SETTING,
    _STANDING_KEY,
    _VERSION_KEY,
    _completion_month_values,
    _completion_values,
    _day,
    _day_values,
    _Key,
    _open,
    _standing_values,
    _version_values,
    day_sql,
    no_day_sql,
    statements,
)

__all__ = [
    "SummaryDrift",
    "check",
    "day_sql",
    "deferred",
    "drop_triggers",
    "fold",
    "install",
    "no_day_sql",
    "rebuild",
    "statements",
    "suspended",
]


def install(using: str = "default", **kwargs: Any) -> None:
    """(Re)install the triggers (after every migrate: SQLite drops a rebuilt table's)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        for sql in statements(connection.vendor):
            cursor.execute(sql)


# --- from scratch ------------------------------------------------------------------


def _scratch_queries(vendor: str, *, stored_tallies: bool = False) -> dict[str, tuple[_Key, str]]:
    """The from-scratch aggregate of each table: (key, SELECT key..., counts...).

    The package and version course rows add up each open enrollment's learner's course
    rows: counted from the events (a check), or with ``stored_tallies`` read from
    ``learning_courselearnercount`` (a rebuild, which replaces that table first).
    """

    def query(values: list[str], where: str, joins: str = "") -> str:
        return (
            f"SELECT {', '.join(values)}, COUNT(*) FROM learning_enrollment e {joins} "
            f"WHERE {where} GROUP BY {', '.join(values)}"
        )

    standing = _standing_values(vendor, "e", "p.version_id", "p.expires_at")
    events = (
        "FROM learning_completionevent e LEFT JOIN learning_completionevent v "
        "ON v.voids_id = e.id WHERE e.kind <> 'void'"
    )
    kept = "v.id IS NULL"
    done = f"e.kind IN {_DONE_KINDS}"
    day = _day(vendor, "e.occurred_at")
    tallies = (
        f"SELECT e.course_id, e.learner_id, {_count(f'{done} AND {kept}')} AS completions, "
        f"{_count(f'e.kind = {_FAILED} AND {kept}')} AS failed, "
        f"{_count('v.id IS NOT NULL')} AS voided {events} GROUP BY e.course_id, e.learner_id"
    )
    return {
        _DAY_KEY.table: (_DAY_KEY, query(_day_values(vendor, "e"), "1 = 1")),
        _COMPLETION_KEY.table: (
            _COMPLETION_KEY,
            query(
                _completion_values(vendor, "e"),
                f"{_open('e')} AND e.completed_at IS NOT NULL",
            ),
        ),
        _STANDING_KEY.table: (
            _STANDING_KEY,
            query(
                standing,
                _open("e"),
                "LEFT JOIN learning_enrollment p ON p.id = e.previous_period_id",
            ),
        ),
        _LEARNER_KEY.table: (_LEARNER_KEY, query(["e.learner_id"], "1 = 1")),
        _VERSION_KEY.table: (_VERSION_KEY, query(_version_values("e"), "1 = 1")),
        _COURSE_DAY_KEY.table: (
            _COURSE_DAY_KEY,
            f"SELECT e.course_id, {day}, {_count(f'{done} AND {kept}')}, "
            f"{_count(f'e.kind = {_FAILED} AND {kept}')}, {_count('v.id IS NOT NULL')} "
            f"{events} GROUP BY e.course_id, {day}",
        ),
        _COURSE_LEARNER_KEY.table: (_COURSE_LEARNER_KEY, tallies),
        _COURSE_REPEAT_KEY.table: (
            _COURSE_REPEAT_KEY,
            "SELECT course_id, previous_day, day, COUNT(*) FROM (SELECT e.course_id, "
            f"LAG({day}) OVER (PARTITION BY e.learner_id, e.course_id "
            f"ORDER BY e.occurred_at, e.id) AS previous_day, {day} AS day "
            f"{events} AND {done} AND {kept}) r "
            "WHERE previous_day IS NOT NULL GROUP BY course_id, previous_day, day",
        ),
        _COURSE_KEY.table: (
            _COURSE_KEY,
            f"SELECT e.course_id, COUNT(DISTINCT CASE WHEN {done} AND {kept} THEN e.learner_id END), "
            f"{_count(f'e.kind = {_FAILED} AND {kept}')}, {_count('v.id IS NOT NULL')} "
            f"{events} GROUP BY e.course_id",
        ),
        _COMPLETION_MONTH_KEY.table: (
            _COMPLETION_MONTH_KEY,
            query(
                _completion_month_values(vendor, "e"),
                f"{_open('e')} AND e.completed_at IS NOT NULL",
            ),
        ),
        # Last: a rebuild reads the learner course rows replaced above.
        **{
            key.table: (
                key,
                f"SELECT e.{column}, c.course_id, {_count('c.completions > 0')}, "
                f"SUM(c.failed), SUM(c.voided) FROM learning_enrollment e JOIN "
                f"{'learning_courselearnercount' if stored_tallies else f'({tallies})'} c "
                f"ON c.learner_id = e.learner_id WHERE {_open('e')} "
                f"GROUP BY e.{column}, c.course_id",
            )
            for key, column in _SCOPES
        },
    }


def _count(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _normal(value: Any) -> Any:
    # SQLite returns days as text and booleans as integers; PostgreSQL as date / bool.
    if isinstance(value, bool):
        return int(value)
    return str(value) if not isinstance(value, int) else value


Counts = dict[tuple[Any, ...], tuple[int, ...]]


def _rows(cursor: Any, sql: str, key: _Key) -> Counts:
    cursor.execute(sql)
    width = len(key.columns)
    found = {}
    for row in cursor.fetchall():
        counts = tuple(int(n) for n in row[width:])
        if any(counts):
            found[tuple(map(_normal, row[:width]))] = counts
    return found


@dataclass
class SummaryDrift:
    """Keys whose stored count differs from the enrollments', per summary table."""

    # table -> {key: (stored counts, counted counts)}
    tables: dict[str, dict[tuple[Any, ...], tuple[tuple[int, ...], tuple[int, ...]]]] = field(
        default_factory=dict
    )

    @property
    def drifted(self) -> int:
        """Return how many keys differ, over every table."""
        return sum(len(keys) for keys in self.tables.values())


def check(using: str = "default") -> SummaryDrift:
    """Compare the summary rows with a from-scratch aggregate of the enrollments.

    Reads the two in one transaction, so that on PostgreSQL (repeatable read is not
    needed: a concurrent writer holds the audit chain) a caller holding the chain
    lock sees one moment.
    """
    connection: BaseDatabaseWrapper = connections[using]
    drift = SummaryDrift()
    fold(using)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for table, (key, sql) in _scratch_queries(connection.vendor).items():
            stored_sql = f"SELECT {', '.join((*key.columns, *key.values))} FROM {table}"
            stored, counted = _rows(cursor, stored_sql, key), _rows(cursor, sql, key)
            zero = (0,) * len(key.values)
            differ = {
                k: (stored.get(k, zero), counted.get(k, zero))
                for k in set(stored) | set(counted)
                if stored.get(k, zero) != counted.get(k, zero)
            }
            if differ:
                drift.tables[table] = differ
    return drift


def rebuild(using: str = "default", tables: tuple[str, ...] | None = None) -> None:
    """Replace every summary row (or only those of ``tables``) with the from-scratch
    aggregate (in the caller's transaction, which should hold the audit chain so no
    write interleaves)."""
    connection = connections[using]
    fold(using)  # or the deltas collected so far would be added to the new rows
    with connection.cursor() as cursor:
        # A migration older than a table's own (0007 fills the first ones) rebuilds
        # only the tables that exist by then; the later one fills its own.
        existing = set(connection.introspection.table_names(cursor))
        queries = _scratch_queries(connection.vendor, stored_tallies=True)
        for table, (key, sql) in queries.items():
            if table not in existing or (tables is not None and table not in tables):
                continue
            cursor.execute(f"DELETE FROM {table}")
            columns = ", ".join((*key.columns, *key.values))
            cursor.execute(f"INSERT INTO {table} ({columns}) {sql}")


_TRIGGERS = (
    ("cp_enrollment_summaries_insert", "learning_enrollment"),
    ("cp_enrollment_summaries_update", "learning_enrollment"),
    ("cp_enrollment_summaries_delete", "learning_enrollment"),
    ("cp_enrollment_summaries_successor", "learning_enrollment"),
    ("cp_enrollment_summaries_package_courses", "learning_enrollment"),
    ("cp_enrollment_summaries_version_courses", "learning_enrollment"),
    ("cp_enrollment_summaries", "learning_enrollment"),
    ("cp_event_summaries_fact", "learning_completionevent"),
    ("cp_event_summaries_void", "learning_completionevent"),
    ("cp_event_summaries", "learning_completionevent"),
)


def drop_triggers(using: str = "default", **kwargs: Any) -> None:
    """Drop the summary triggers (a migration that rebuilds a summary table on SQLite
    must: the triggers name it; ``migrate`` installs them again at its end)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        for name, table in _TRIGGERS:
            on = f" ON {table}" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}{on}")


@contextmanager
def suspended(using: str = "default") -> Iterator[None]:
    """Leave the summaries alone during a bulk load of raw rows (the benchmark data
    generator), then count them from scratch once and put the triggers back."""
    drop_triggers(using)
    try:
        yield
    finally:
        with transaction.atomic(using=using):
            rebuild(using=using)
        install(using=using)


# --- deferred: bulk writes on PostgreSQL ---------------------------------------------

_KEYS = (
    _DAY_KEY,
    _VERSION_KEY,
    _COMPLETION_KEY,
    _COMPLETION_MONTH_KEY,
    _STANDING_KEY,
    _LEARNER_KEY,
    _COURSE_DAY_KEY,
    _COURSE_KEY,
    _COURSE_LEARNER_KEY,
    _COURSE_REPEAT_KEY,
    *(key for key, _ in _SCOPES),
)
_DEFERRED_KEYS = tuple(key for key in _KEYS if key.deferrable)
# How deep in deferred blocks each connection is (an attribute of the connection).
_DEPTH = "_coursepack_summaries_deferred"


def _depth(connection: BaseDatabaseWrapper) -> int:
    return int(getattr(connection, _DEPTH, 0))


@contextmanager
def deferred(using: str = "default") -> Iterator[None]:
    """Collect the summary changes of the writes in this block and apply them once, at
    its end, grouped by key: for bulk writes (ADR 0037).

    On PostgreSQL every change of a summary row that a transaction has already changed
    walks that row's dead versions, so many writes counted under the same key (a bulk
    enrolment into one version, an import of many events of one course) cost the
    square of their number. In the block, the triggers insert each change as a delta
    row into a temporary table of the session instead (``learning_courselearnercount``
    excepted: the triggers read it, and its key is one learner's); the end folds each
    table in with one grouped upsert in key order, so each summary row is written once.

    Runs inside the caller's transaction (``transaction.atomic``), and blocks nest: only
    the outermost one folds. The summaries are exact again when the block ends — also
    when an exception leaves it, since the writes it counted stay unless a rollback
    takes them and their deltas away together — but not inside it: a summary read in
    the block (a report, the standing counts) does not see the block's writes; call
    ``fold`` first (``check`` and ``rebuild`` do). On SQLite, which updates a row in
    place, it changes nothing.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        raise TransactionManagementError(
            "summaries.deferred() runs inside the caller's transaction: open one with "
            "transaction.atomic() first."
        )
    depth = _depth(connection)
    outermost = depth == 0 and connection.vendor == "postgresql"
    setattr(connection, _DEPTH, depth + 1)
    try:
        if outermost:
            with connection.cursor() as cursor:
                _create_delta_tables(cursor)
                cursor.execute("SELECT set_config(%s, 'deferred', true)", [_SETTING])
        yield
    finally:
        setattr(connection, _DEPTH, depth)
        # A failed transaction is rolled back with its deltas: nothing to fold.
        if outermost and _usable(connection):
            with connection.cursor() as cursor:
                _fold(cursor)
                cursor.execute("SELECT set_config(%s, '', true)", [_SETTING])


def fold(using: str = "default") -> None:
    """Apply the summary changes a deferred block has collected so far (a no-op outside
    one, and on SQLite): before a summary read inside the block, or every so many rows
    of a very long one, so its delta tables stay small."""
    connection = connections[using]
    if connection.vendor == "postgresql" and _depth(connection):
        with connection.cursor() as cursor:
            _fold(cursor)


def _usable(connection: BaseDatabaseWrapper) -> bool:
    from psycopg import pq

    raw = connection.connection
    return (
        not connection.needs_rollback
        and raw is not None
        and raw.info.transaction_status != pq.TransactionStatus.INERROR
    )


def _create_delta_tables(cursor: Any) -> None:
    """Create the session's delta tables that do not exist yet: each a deferrable
    table's key and value columns, no constraint, no index (temporary tables are
    private to the session and not WAL-logged). A rolled-back transaction that created
    them drops them again."""
    cursor.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema() "
        "AND relname = ANY(%s)",
        [[key.delta_table for key in _DEFERRED_KEYS]],
    )
    existing = {name for (name,) in cursor.fetchall()}
    for key in _DEFERRED_KEYS:
        if key.delta_table not in existing:
            columns = ", ".join((*key.columns, *key.values))
            cursor.execute(
                f"CREATE TEMPORARY TABLE {key.delta_table} AS SELECT {columns} "
                f"FROM {key.table} WITH NO DATA"
            )


def _fold_sql(key: _Key) -> str:
    """One grouped upsert of a delta table into its summary table, in key order (the
    order every fold locks the rows in). A column of the key outside the unique key
    (the package of a version) is the same in every delta row of a group."""
    others = [c for c in key.columns if c not in key.unique]
    columns = ", ".join((*key.unique, *others, *key.values))
    select = ", ".join(
        (*key.unique, *(f"MIN({c})" for c in others), *(f"SUM({v})" for v in key.values))
    )
    unique = ", ".join(key.unique)
    sets = ", ".join(f"{v} = {key.table}.{v} + excluded.{v}" for v in key.values)
    return (
        f"INSERT INTO {key.table} ({columns}) SELECT {select} FROM pg_temp.{key.delta_table} "
        f"GROUP BY {unique} ORDER BY {unique} ON CONFLICT ({unique}) DO UPDATE SET {sets}"
    )


def _fold(cursor: Any) -> None:
    for key in _DEFERRED_KEYS:
        cursor.execute(_fold_sql(key))
    # TRUNCATE, not DELETE: deleted rows would stay for every later fold of the same
    # transaction to read again.
    cursor.execute("TRUNCATE " + ", ".join(f"pg_temp.{key.delta_table}" for key in _DEFERRED_KEYS))
