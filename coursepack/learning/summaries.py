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

``check`` compares the rows with a from-scratch aggregate of the enrollments;
``rebuild`` replaces them with it. ``rebuild_statuses`` calls both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = [
    "SummaryDrift",
    "check",
    "day_sql",
    "drop_triggers",
    "install",
    "no_day_sql",
    "rebuild",
    "statements",
    "suspended",
]

_NO_DAY = "'0001-01-01'"
_TABLES = (
    "learning_enrollmentdaycount",
    "learning_completiondaycount",
    "learning_standingcount",
    "learning_learnercount",
    "learning_versioncount",
    "learning_completionmonthcount",
    "learning_packagecoursecount",
    "learning_versioncoursecount",
)
# The columns whose change can change a row's keys.
_WATCHED = (
    "learner_id",
    "version_id",
    "package_id",
    "enrolled_at",
    "withdrawn_at",
    "superseded_at",
    "status",
    "completed_at",
    "period_number",
    "previous_period_id",
    "overdue_since",
    "expires_at",
)


def _day(vendor: str, moment: str) -> str:
    if vendor == "postgresql":
        return f"COALESCE(({moment} AT TIME ZONE 'UTC')::date, DATE {_NO_DAY})"
    return f"COALESCE(date({moment}), {_NO_DAY})"


def _no_day(vendor: str) -> str:
    return f"DATE {_NO_DAY}" if vendor == "postgresql" else _NO_DAY


def day_sql(vendor: str, moment: str) -> str:
    """Return the SQL of the UTC day of ``moment`` (NO_DAY for none), as the summary
    keys store it."""
    return _day(vendor, moment)


def no_day_sql(vendor: str) -> str:
    """Return the SQL of the day stored for no moment."""
    return _no_day(vendor)


def _state(r: str) -> str:
    return (
        f"CASE WHEN {r}.withdrawn_at IS NOT NULL THEN 'withdrawn' "
        f"WHEN {r}.superseded_at IS NOT NULL THEN 'superseded' ELSE 'open' END"
    )


def _open(r: str) -> str:
    return f"{r}.withdrawn_at IS NULL AND {r}.superseded_at IS NULL"


def _waiting(r: str) -> str:
    """A later period not complete yet: counted under its previous period's dates."""
    return f"{r}.period_number > 1 AND {r}.status <> 'completed'"


@dataclass(frozen=True)
class _Key:
    table: str
    columns: tuple[str, ...]
    # Unique key columns (the upsert's conflict target).
    unique: tuple[str, ...]
    # The counted columns.
    values: tuple[str, ...] = ("n",)


_DAY_KEY = _Key(
    "learning_enrollmentdaycount",
    ("version_id", "package_id", "day", "state", "status"),
    ("version_id", "day", "state", "status"),
)
_VERSION_KEY = _Key(
    "learning_versioncount",
    ("version_id", "package_id", "state", "status", "completed"),
    ("version_id", "state", "status", "completed"),
)
_COMPLETION_KEY = _Key(
    "learning_completiondaycount", ("version_id", "package_id", "day"), ("version_id", "day")
)
_COMPLETION_MONTH_KEY = _Key(
    "learning_completionmonthcount",
    ("version_id", "package_id", "month"),
    ("version_id", "month"),
)
_STANDING_KEY = _Key(
    "learning_standingcount",
    (
        "version_id",
        "package_id",
        "status",
        "later",
        "overdue_day",
        "expires_day",
        "previous_version_id",
        "previous_expires_day",
    ),
    (
        "version_id",
        "status",
        "later",
        "overdue_day",
        "expires_day",
        "previous_version_id",
        "previous_expires_day",
    ),
)

# Every enrollment of a learner, whatever its state: the reports' learners table.
_LEARNER_KEY = _Key("learning_learnercount", ("learner_id",), ("learner_id",))


_DONE_KINDS = "('completed', 'passed')"
# A void of a void (if one were ever recorded) changes no count.
_VOIDS_A_FACT = (
    "(SELECT t.kind FROM learning_completionevent t WHERE t.id = NEW.voids_id) <> 'void'"
)
_FAILED = "'failed'"
_COURSE_DAY_KEY = _Key(
    "learning_coursedaycount",
    ("course_id", "day"),
    ("course_id", "day"),
    ("completions", "failed", "voided"),
)
_COURSE_LEARNER_KEY = _Key(
    "learning_courselearnercount",
    ("course_id", "learner_id"),
    ("course_id", "learner_id"),
    ("completions", "failed", "voided"),
)
# What the learners with an open enrollment in a package (a version) did per course: an
# enrollment opening adds its learner's course rows, closing takes them off; an event
# changes the rows of its learner's open enrollments (one per package at most).
_PACKAGE_COURSE_KEY = _Key(
    "learning_packagecoursecount",
    ("package_id", "course_id"),
    ("package_id", "course_id"),
    ("learners", "failed", "voided"),
)
_VERSION_COURSE_KEY = _Key(
    "learning_versioncoursecount",
    ("version_id", "course_id"),
    ("version_id", "course_id"),
    ("learners", "failed", "voided"),
)
_SCOPES = ((_PACKAGE_COURSE_KEY, "package_id"), (_VERSION_COURSE_KEY, "version_id"))
_COURSE_KEY = _Key(
    "learning_coursecount", ("course_id",), ("course_id",), ("learners", "failed", "voided")
)


def _one_if(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def _event_statements(vendor: str) -> tuple[list[str], list[str]]:
    """The statements counting an inserted event (NEW): (when it is not a void, when
    it voids an earlier event). Events are append-only; nothing else changes them."""
    done = f"NEW.kind IN {_DONE_KINDS}"
    failed = f"NEW.kind = {_FAILED}"
    learner_counted = (
        "EXISTS (SELECT 1 FROM learning_courselearnercount c WHERE c.course_id = NEW.course_id "
        "AND c.learner_id = NEW.learner_id AND c.completions > 0)"
    )
    fact = [
        f"INSERT INTO learning_coursedaycount (course_id, day, completions, failed, voided) "
        f"SELECT NEW.course_id, {_day(vendor, 'NEW.occurred_at')}, {_one_if(done)}, "
        f"{_one_if(failed)}, 0 WHERE 1 = 1 ON CONFLICT (course_id, day) DO UPDATE SET "
        "completions = learning_coursedaycount.completions + excluded.completions, "
        "failed = learning_coursedaycount.failed + excluded.failed",
        # First count the learner for the course if this is their first standing completion.
        f"INSERT INTO learning_coursecount (course_id, learners, failed, voided) "
        f"SELECT NEW.course_id, {_one_if(f'{done} AND NOT {learner_counted}')}, "
        f"{_one_if(failed)}, 0 WHERE 1 = 1 ON CONFLICT (course_id) DO UPDATE SET "
        "learners = learning_coursecount.learners + excluded.learners, "
        "failed = learning_coursecount.failed + excluded.failed",
        # The same for the learner's open enrollments' packages and versions.
        *(
            f"INSERT INTO {key.table} ({column}, course_id, learners, failed, voided) "
            f"SELECT e.{column}, NEW.course_id, {_one_if(f'{done} AND NOT {learner_counted}')}, "
            f"{_one_if(failed)}, 0 FROM learning_enrollment e "
            f"WHERE e.learner_id = NEW.learner_id AND {_open('e')} "
            f"ON CONFLICT ({column}, course_id) DO UPDATE SET "
            f"learners = {key.table}.learners + excluded.learners, "
            f"failed = {key.table}.failed + excluded.failed"
            for key, column in _SCOPES
        ),
        "INSERT INTO learning_courselearnercount (course_id, learner_id, completions, failed, "
        f"voided) SELECT NEW.course_id, NEW.learner_id, {_one_if(done)}, {_one_if(failed)}, 0 "
        "WHERE 1 = 1 ON CONFLICT (course_id, learner_id) DO UPDATE SET "
        "completions = learning_courselearnercount.completions + excluded.completions, "
        "failed = learning_courselearnercount.failed + excluded.failed",
    ]
    target = "(SELECT {} FROM learning_completionevent t WHERE t.id = NEW.voids_id)"
    t_done = target.format(_one_if(f"t.kind IN {_DONE_KINDS}"))
    t_failed = target.format(_one_if(f"t.kind = {_FAILED}"))
    # After the learner's row is updated: 1 if that was their last standing completion.
    uncounted = (
        "COALESCE((SELECT "
        + _one_if(f"t.kind IN {_DONE_KINDS} AND c.completions = 0")
        + " FROM learning_completionevent t JOIN learning_courselearnercount c "
        "ON c.course_id = t.course_id AND c.learner_id = t.learner_id "
        "WHERE t.id = NEW.voids_id), 0)"
    )
    void = [
        f"UPDATE learning_coursedaycount SET completions = completions - {t_done}, "
        f"failed = failed - {t_failed}, voided = voided + 1 "
        f"WHERE (course_id, day) IN (SELECT t.course_id, {_day(vendor, 't.occurred_at')} "
        "FROM learning_completionevent t WHERE t.id = NEW.voids_id)",
        f"UPDATE learning_courselearnercount SET completions = completions - {t_done}, "
        f"failed = failed - {t_failed}, voided = voided + 1 "
        "WHERE (course_id, learner_id) IN (SELECT t.course_id, t.learner_id "
        "FROM learning_completionevent t WHERE t.id = NEW.voids_id)",
        # Then uncount the learner whose last standing completion that was.
        f"UPDATE learning_coursecount SET learners = learners - {uncounted}, "
        f"failed = failed - {t_failed}, voided = voided + 1 "
        "WHERE course_id = (SELECT t.course_id FROM learning_completionevent t "
        "WHERE t.id = NEW.voids_id)",
        *(
            f"UPDATE {key.table} SET learners = learners - {uncounted}, "
            f"failed = failed - {t_failed}, voided = voided + 1 "
            f"WHERE ({column}, course_id) IN (SELECT e.{column}, t.course_id "
            "FROM learning_completionevent t JOIN learning_enrollment e "
            f"ON e.learner_id = t.learner_id WHERE t.id = NEW.voids_id AND {_open('e')})"
            for key, column in _SCOPES
        ),
    ]
    return fact, void


def _day_values(vendor: str, r: str) -> list[str]:
    return [
        f"{r}.version_id",
        f"{r}.package_id",
        _day(vendor, f"{r}.enrolled_at"),
        _state(r),
        f"{r}.status",
    ]


def _version_values(r: str) -> list[str]:
    return [
        f"{r}.version_id",
        f"{r}.package_id",
        _state(r),
        f"{r}.status",
        f"({r}.completed_at IS NOT NULL)",
    ]


def _completion_values(vendor: str, r: str) -> list[str]:
    return [f"{r}.version_id", f"{r}.package_id", _day(vendor, f"{r}.completed_at")]


def _month(vendor: str, moment: str) -> str:
    if vendor == "postgresql":
        return f"date_trunc('month', {moment} AT TIME ZONE 'UTC')::date"
    return f"date({moment}, 'start of month')"


def _completion_month_values(vendor: str, r: str) -> list[str]:
    return [f"{r}.version_id", f"{r}.package_id", _month(vendor, f"{r}.completed_at")]


def _scope_delta(r: str, sign: str, scopes: tuple[tuple[_Key, str], ...] = _SCOPES) -> list[str]:
    """Add (``sign`` '+') or take off ('-') the course rows of ``r``'s learner to or from
    its package's and version's course rows (or only ``scopes``'), if ``r`` is open: an
    upsert of each of the learner's course rows (read by the index on learner)."""
    minus = "0 - " if sign == "-" else ""
    return [
        f"INSERT INTO {key.table} ({column}, course_id, learners, failed, voided) "
        f"SELECT {r}.{column}, c.course_id, {minus}{_one_if('c.completions > 0')}, "
        f"{minus}c.failed, {minus}c.voided FROM learning_courselearnercount c "
        f"WHERE c.learner_id = {r}.learner_id AND {_open(r)} "
        f"ON CONFLICT ({column}, course_id) DO UPDATE SET "
        f"learners = {key.table}.learners + excluded.learners, "
        f"failed = {key.table}.failed + excluded.failed, "
        f"voided = {key.table}.voided + excluded.voided"
        for key, column in scopes
    ]


def _scope_changed(vendor: str, column: str) -> str:
    """Whether an update moves a row between the course rows of one scope (``column``:
    package or version): its learner or scope, or whether it is open, changed. A move
    to another version of the same package leaves the package's rows alone."""
    same = " IS NOT DISTINCT FROM " if vendor == "postgresql" else " IS "
    return (
        "NOT ("
        + " AND ".join(
            [
                *(f"NEW.{c}{same}OLD.{c}" for c in ("learner_id", column)),
                "(NEW.withdrawn_at IS NULL) = (OLD.withdrawn_at IS NULL)",
                "(NEW.superseded_at IS NULL) = (OLD.superseded_at IS NULL)",
            ]
        )
        + ")"
    )


def _scope_moves(vendor: str) -> list[tuple[str, str, list[str]]]:
    """Per scope: (its column, when an update moves its rows, the statements that do)."""
    return [
        (
            column,
            _scope_changed(vendor, column),
            [
                *_scope_delta("OLD", "-", ((key, column),)),
                *_scope_delta("NEW", "+", ((key, column),)),
            ],
        )
        for key, column in _SCOPES
    ]


def _standing_values(
    vendor: str, r: str, prev_version: str | None = None, prev_expires: str | None = None
) -> list[str]:
    """The standing key of row ``r``; its previous period's version and expiry are read
    from the table unless given (the previous period's old or new values)."""
    if prev_version is None:
        prev_version = (
            f"(SELECT p.version_id FROM learning_enrollment p WHERE p.id = {r}.previous_period_id)"
        )
    if prev_expires is None:
        prev_expires = (
            f"(SELECT p.expires_at FROM learning_enrollment p WHERE p.id = {r}.previous_period_id)"
        )
    later = f"({r}.period_number > 1)"
    return [
        f"{r}.version_id",
        f"{r}.package_id",
        f"{r}.status",
        later,
        _day(vendor, f"{r}.overdue_since"),
        _day(vendor, f"{r}.expires_at"),
        f"CASE WHEN {_waiting(r)} THEN COALESCE({prev_version}, 0) ELSE 0 END",
        f"CASE WHEN {_waiting(r)} THEN {_day(vendor, prev_expires)} ELSE {_no_day(vendor)} END",
    ]


def _add(key: _Key, values: list[str], where: str, source: str = "") -> str:
    cols = ", ".join((*key.columns, "n"))
    vals = ", ".join((*values, "1"))
    return (
        f"INSERT INTO {key.table} ({cols}) SELECT {vals} {source} WHERE {where} "
        f"ON CONFLICT ({', '.join(key.unique)}) DO UPDATE SET n = {key.table}.n + 1"
    )


def _take(key: _Key, values: list[str], where: str, source: str = "") -> str:
    if source:
        # Row values from a query (a successor period): at most one row (a period has one).
        cols = ", ".join(key.unique)
        picked = [v for c, v in zip(key.columns, values, strict=True) if c in key.unique]
        return (
            f"UPDATE {key.table} SET n = n - 1 WHERE ({cols}) IN "
            f"(SELECT {', '.join(picked)} {source} WHERE {where})"
        )
    match = " AND ".join(
        f"{c} = {v}" for c, v in zip(key.columns, values, strict=True) if c in key.unique
    )
    return f"UPDATE {key.table} SET n = n - 1 WHERE {match} AND ({where})"


def _remove_old(vendor: str) -> list[str]:
    return [
        _take(_DAY_KEY, _day_values(vendor, "OLD"), "1 = 1"),
        _take(
            _COMPLETION_KEY,
            _completion_values(vendor, "OLD"),
            f"{_open('OLD')} AND OLD.completed_at IS NOT NULL",
        ),
        _take(_STANDING_KEY, _standing_values(vendor, "OLD"), _open("OLD")),
        _take(_LEARNER_KEY, ["OLD.learner_id"], "1 = 1"),
        _take(_VERSION_KEY, _version_values("OLD"), "1 = 1"),
        _take(
            _COMPLETION_MONTH_KEY,
            _completion_month_values(vendor, "OLD"),
            f"{_open('OLD')} AND OLD.completed_at IS NOT NULL",
        ),
    ]


def _add_new(vendor: str) -> list[str]:
    return [
        _add(_DAY_KEY, _day_values(vendor, "NEW"), "1 = 1"),
        _add(
            _COMPLETION_KEY,
            _completion_values(vendor, "NEW"),
            f"{_open('NEW')} AND NEW.completed_at IS NOT NULL",
        ),
        _add(_STANDING_KEY, _standing_values(vendor, "NEW"), _open("NEW")),
        _add(_LEARNER_KEY, ["NEW.learner_id"], "1 = 1"),
        _add(_VERSION_KEY, _version_values("NEW"), "1 = 1"),
        _add(
            _COMPLETION_MONTH_KEY,
            _completion_month_values(vendor, "NEW"),
            f"{_open('NEW')} AND NEW.completed_at IS NOT NULL",
        ),
    ]


def _move_successor(vendor: str) -> list[str]:
    """Move the successor of a period whose version or expiry changed to its new key."""
    source = "FROM learning_enrollment s"
    where = f"s.previous_period_id = NEW.id AND {_open('s')} AND {_waiting('s')}"
    return [
        _take(
            _STANDING_KEY,
            _standing_values(vendor, "s", "OLD.version_id", "OLD.expires_at"),
            where,
            source,
        ),
        _add(
            _STANDING_KEY,
            _standing_values(vendor, "s", "NEW.version_id", "NEW.expires_at"),
            where,
            source,
        ),
    ]


def _changed(vendor: str) -> str:
    if vendor == "postgresql":
        return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _WATCHED)
    return " OR ".join(f"NOT (NEW.{c} IS OLD.{c})" for c in _WATCHED)


def _sqlite_statements() -> list[str]:
    stmts: list[str] = []
    body = {
        "INSERT": [*_add_new("sqlite"), *_scope_delta("NEW", "+")],
        "UPDATE": [*_remove_old("sqlite"), *_add_new("sqlite")],
        "DELETE": [*_remove_old("sqlite"), *_scope_delta("OLD", "-")],
    }
    for op, parts in body.items():
        name = f"cp_enrollment_summaries_{op.lower()}"
        when = f" WHEN {_changed('sqlite')}" if op == "UPDATE" else ""
        stmts.append(f"DROP TRIGGER IF EXISTS {name}")
        stmts.append(
            f"CREATE TRIGGER {name} AFTER {op} ON learning_enrollment FOR EACH ROW{when} "
            f"BEGIN {'; '.join(parts)}; END"
        )
    fact, void = _event_statements("sqlite")
    for name, when, parts in (
        ("cp_event_summaries_fact", "NEW.kind <> 'void'", fact),
        ("cp_event_summaries_void", f"NEW.kind = 'void' AND {_VOIDS_A_FACT}", void),
    ):
        stmts.append(f"DROP TRIGGER IF EXISTS {name}")
        stmts.append(
            f"CREATE TRIGGER {name} AFTER INSERT ON learning_completionevent FOR EACH ROW "
            f"WHEN {when} BEGIN {'; '.join(parts)}; END"
        )
    # Apart from the other keys: a status change (every completion) moves no course row.
    for column, when, parts in _scope_moves("sqlite"):
        name = f"cp_enrollment_summaries_{column.removesuffix('_id')}_courses"
        stmts.append(f"DROP TRIGGER IF EXISTS {name}")
        stmts.append(
            f"CREATE TRIGGER {name} AFTER UPDATE ON learning_enrollment FOR EACH ROW "
            f"WHEN {when} BEGIN {'; '.join(parts)}; END"
        )
    name = "cp_enrollment_summaries_successor"
    stmts.append(f"DROP TRIGGER IF EXISTS {name}")
    stmts.append(
        f"CREATE TRIGGER {name} AFTER UPDATE OF version_id, expires_at ON learning_enrollment "
        f"FOR EACH ROW WHEN NOT (NEW.version_id IS OLD.version_id AND "
        f"NEW.expires_at IS OLD.expires_at) "
        f"BEGIN {'; '.join(_move_successor('sqlite'))}; END"
    )
    return stmts


def _postgresql_statements() -> list[str]:
    vendor = "postgresql"
    name = "cp_enrollment_summaries"
    body = (
        "IF TG_OP = 'UPDATE' AND NOT (" + _changed(vendor) + ") THEN RETURN NEW; END IF;\n"
        "IF TG_OP IN ('UPDATE', 'DELETE') THEN " + "; ".join(_remove_old(vendor)) + "; END IF;\n"
        "IF TG_OP IN ('INSERT', 'UPDATE') THEN " + "; ".join(_add_new(vendor)) + "; END IF;\n"
        "IF TG_OP = 'INSERT' THEN " + "; ".join(_scope_delta("NEW", "+")) + "; END IF;\n"
        "IF TG_OP = 'DELETE' THEN "
        + "; ".join(_scope_delta("OLD", "-"))
        + "; END IF;\n"
        + "".join(
            f"IF TG_OP = 'UPDATE' THEN IF {when} THEN {'; '.join(parts)}; END IF; END IF;\n"
            for _, when, parts in _scope_moves(vendor)
        )
        + "IF TG_OP = 'UPDATE' AND (NEW.version_id IS DISTINCT FROM OLD.version_id "
        "OR NEW.expires_at IS DISTINCT FROM OLD.expires_at) THEN "
        + "; ".join(_move_successor(vendor))
        + "; END IF;\n"
        "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW;"
    )
    fact, void = _event_statements(vendor)
    events = "cp_event_summaries"
    event_body = (
        f"IF NEW.kind = 'void' THEN {'; '.join(void)}; ELSE {'; '.join(fact)}; END IF; RETURN NEW;"
    )
    return [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\nEND;\n$$",
        f"DROP TRIGGER IF EXISTS {name} ON learning_enrollment",
        f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE OR DELETE ON learning_enrollment "
        f"FOR EACH ROW EXECUTE FUNCTION {name}()",
        f"CREATE OR REPLACE FUNCTION {events}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{event_body}\nEND;\n$$",
        f"DROP TRIGGER IF EXISTS {events} ON learning_completionevent",
        # AFTER: a bulk insert of events and their voids counts each void after its target.
        f"CREATE TRIGGER {events} AFTER INSERT ON learning_completionevent "
        f"FOR EACH ROW EXECUTE FUNCTION {events}()",
    ]


def statements(vendor: str) -> list[str]:
    """Return the SQL that installs the summary triggers on a database of this vendor."""
    if vendor == "sqlite":
        return _sqlite_statements()
    if vendor == "postgresql":
        return _postgresql_statements()
    raise NotImplementedError(f"Coursepack supports SQLite and PostgreSQL, not {vendor}")


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
