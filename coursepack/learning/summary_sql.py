"""The SQL of the summary triggers: the summary tables' keys, the change each write of an
enrollment or an event makes to them (live, or as a delta row in a deferred block: ADR
0037), and the trigger statements of each engine. ``summaries`` installs them, checks
and rebuilds the rows, and runs the deferred blocks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

_NO_DAY = "'0001-01-01'"
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
    # Whether a deferred block collects this table's changes as delta rows (``deferred``).
    deferrable: bool = True

    @property
    def delta_table(self) -> str:
        """The session's temporary table of this table's deltas (PostgreSQL)."""
        return f"cp_delta_{self.table.removeprefix('learning_')}"


@dataclass(frozen=True)
class _Change:
    """Add ``deltas`` (one SQL expression per value column of ``key``) to the row of
    ``key`` whose key columns are ``values``, once for each row ``source`` (a FROM
    clause, or none) and ``where`` select.

    Written live — an upsert when the row may not exist yet (``creates``), else an
    UPDATE of the existing row — or, in a deferred block, as one INSERT of delta rows
    into the table's temporary delta table, which the block's end folds in. One
    definition renders both, so the two trigger bodies cannot say different things.
    """

    key: _Key
    values: tuple[str, ...]
    deltas: tuple[str, ...]
    where: str = "1 = 1"
    source: str = ""
    creates: bool = True

    def sql(self, *, deferred: bool = False) -> str:
        """Return the statement: live, or (``deferred``, for a deferrable table) the
        INSERT of its delta rows."""
        key = self.key
        cols = ", ".join((*key.columns, *key.values))
        select = (
            f"SELECT {', '.join((*self.values, *self.deltas))} {self.source} WHERE {self.where}"
        )
        if deferred and key.deferrable:
            table = f"pg_temp.{key.delta_table}"
            if self.source:
                return f"INSERT INTO {table} ({cols}) {select}"
            # PL/pgSQL: a row's condition tested as an expression, with no statement run
            # when it does not hold (a deferred block's triggers run only on PostgreSQL).
            row = f"INSERT INTO {table} ({cols}) VALUES ({', '.join((*self.values, *self.deltas))})"
            return row if self.where == "1 = 1" else f"IF {self.where} THEN {row}; END IF"
        changed = [(v, d) for v, d in zip(key.values, self.deltas, strict=True) if d != "0"]
        if self.creates:
            sets = ", ".join(f"{v} = {key.table}.{v} + excluded.{v}" for v, _ in changed)
            return f"INSERT INTO {key.table} ({cols}) {select} ON CONFLICT ({', '.join(key.unique)}) DO UPDATE SET {sets}"
        sets = ", ".join(f"{v} = {v} + ({d})" for v, d in changed)
        by_column = dict(zip(key.columns, self.values, strict=True))
        if self.source:
            # Row values from a query: every row it selects (at most one per key here).
            picked = ", ".join(by_column[c] for c in key.unique)
            return (
                f"UPDATE {key.table} SET {sets} WHERE ({', '.join(key.unique)}) IN "
                f"(SELECT {picked} {self.source} WHERE {self.where})"
            )
        match = " AND ".join(f"{c} = {by_column[c]}" for c in key.unique)
        return f"UPDATE {key.table} SET {sets} WHERE {match} AND ({self.where})"


def _sql(changes: list[_Change], *, deferred: bool = False) -> list[str]:
    return [change.sql(deferred=deferred) for change in changes]


def _minus(expression: str) -> str:
    return f"0 - ({expression})"


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
# Kept live in a deferred block too: the event statements read it (whether an event is
# the learner's first standing completion of the course), and so do an enrollment's
# course deltas; its key is one learner's, rarely written twice in a transaction.
_COURSE_LEARNER_KEY = _Key(
    "learning_courselearnercount",
    ("course_id", "learner_id"),
    ("course_id", "learner_id"),
    ("completions", "failed", "voided"),
    deferrable=False,
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
# Pairs of a learner's consecutive standing completions of a course, by the days of the
# earlier and the later: a range's distinct learners are its completions less its pairs.
_COURSE_REPEAT_KEY = _Key(
    "learning_courserepeatcount",
    ("course_id", "previous_day", "day"),
    ("course_id", "previous_day", "day"),
)


def _neighbour(of: str, seen: str, *, before: bool) -> str:
    """The SQL of the id of the standing completion (completed or passed, not voided) of
    ``of``'s learner and course just before (``before``) or after ``of`` in the order of
    (``occurred_at``, id); NULL if none.

    Only events with an id below ``seen``, and voids below it, are looked at: those
    the triggers have counted by the time they count the event ``seen`` names. On
    PostgreSQL an AFTER row trigger of a statement inserting many events sees all of
    them; its rows are counted in the order of their ids, as on SQLite.
    """
    side, order = ("<", "DESC") if before else (">", "ASC")
    return (
        "(SELECT p.id FROM learning_completionevent p "
        f"WHERE p.learner_id = {of}.learner_id AND p.course_id = {of}.course_id "
        f"AND p.kind IN {_DONE_KINDS} AND p.id < {seen} AND p.id <> {of}.id "
        f"AND (p.occurred_at, p.id) {side} ({of}.occurred_at, {of}.id) "
        "AND NOT EXISTS (SELECT 1 FROM learning_completionevent w "
        f"WHERE w.voids_id = p.id AND w.id < {seen}) "
        f"ORDER BY p.occurred_at {order}, p.id {order} LIMIT 1)"
    )


# On PostgreSQL the trigger function looks the completion's course and day and its
# neighbours' days up once, into these variables (``_neighbours_into``), and its pair
# changes are writes of those keys: +0.2 ms an event, where the lookups repeated in
# each statement added 0.4-0.6 ms (docs/benchmarks.md). SQLite's trigger bodies have no
# variables: there each statement looks them up.
_VARIABLES = ("cp_course", "cp_day", "cp_before", "cp_after")
_DECLARED = "DECLARE cp_course bigint; cp_day date; cp_before date; cp_after date;"


def _neighbours_into(of: str, where: str, tables: tuple[str, ...]) -> str:
    """PL/pgSQL: set ``_VARIABLES`` to ``of``'s course and day and its neighbours' days
    when ``where`` holds (each NULL otherwise, a neighbour's when there is none)."""

    def day(moment: str) -> str:  # NULL stays NULL (``_day`` stores a missing one)
        return f"(({moment}) AT TIME ZONE 'UTC')::date"

    def moment(before: bool) -> str:
        found = _neighbour(of, "NEW.id", before=before)
        return f"(SELECT q.occurred_at FROM learning_completionevent q WHERE q.id = {found})"

    values = (f"{of}.course_id", day(f"{of}.occurred_at"), day(moment(True)), day(moment(False)))
    source = f" FROM {', '.join(tables)}" if tables else ""
    return f"SELECT {', '.join(values)} INTO {', '.join(_VARIABLES)}{source} WHERE {where}"


def _repeats(vendor: str, of: str, sign: int, where: str, tables: tuple[str, ...]) -> list[_Change]:
    """The pair changes of ``of`` (a standing completion) joining (``sign`` 1) or leaving
    (-1) its learner's completions of its course, with its neighbours ``b`` (before)
    and ``a`` (after): the pair (b, a) it splits or rejoins, and its own two pairs.
    ``tables``: the FROM items ``of`` and ``where`` need besides the neighbours."""
    if vendor == "postgresql":
        course, day, before, after = _VARIABLES
        return [
            _Change(
                _COURSE_REPEAT_KEY,
                (course, first, then),
                (str(delta),),
                " AND ".join(f"{v} IS NOT NULL" for v in (course, first, then)),
                creates=delta > 0,
            )
            for first, then, delta in (
                (before, after, -sign),
                (before, day, sign),
                (day, after, sign),
            )
        ]
    seen = "NEW.id"
    events = "learning_completionevent"

    def day_of(r: str) -> str:
        return _day(vendor, f"{r}.occurred_at")

    def pair(first: str, then: str, delta: int) -> _Change:
        ends = [r for r in ("b", "a") if r in (first, then)]
        on = " AND ".join(f"{r}.id = {_neighbour(of, seen, before=r == 'b')}" for r in ends)
        return _Change(
            _COURSE_REPEAT_KEY,
            (f"{of}.course_id", day_of(first), day_of(then)),
            (str(delta),),
            f"{where} AND {on}",
            "FROM " + ", ".join((*tables, *(f"{events} {r}" for r in ends))),
            creates=delta > 0,
        )

    return [pair("b", "a", -sign), pair("b", of, sign), pair(of, "a", sign)]


def _one_if(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def _event_statements(vendor: str) -> tuple[list[_Change], list[_Change]]:
    """The changes counting an inserted event (NEW): (when it is not a void, when it
    voids an earlier event). Events are append-only; nothing else changes them."""
    done = f"NEW.kind IN {_DONE_KINDS}"
    failed = f"NEW.kind = {_FAILED}"
    learner_counted = (
        "EXISTS (SELECT 1 FROM learning_courselearnercount c WHERE c.course_id = NEW.course_id "
        "AND c.learner_id = NEW.learner_id AND c.completions > 0)"
    )
    first = _one_if(f"{done} AND NOT {learner_counted}")
    fact = [
        _Change(
            _COURSE_DAY_KEY,
            ("NEW.course_id", _day(vendor, "NEW.occurred_at")),
            (_one_if(done), _one_if(failed), "0"),
        ),
        # First count the learner for the course if this is their first standing completion.
        _Change(_COURSE_KEY, ("NEW.course_id",), (first, _one_if(failed), "0")),
        # The same for the learner's open enrollments' packages and versions.
        *(
            _Change(
                key,
                (f"e.{column}", "NEW.course_id"),
                (first, _one_if(failed), "0"),
                f"e.learner_id = NEW.learner_id AND {_open('e')}",
                "FROM learning_enrollment e",
            )
            for key, column in _SCOPES
        ),
        _Change(
            _COURSE_LEARNER_KEY,
            ("NEW.course_id", "NEW.learner_id"),
            (_one_if(done), _one_if(failed), "0"),
        ),
        # A completion joins its learner's completions of the course: its pairs.
        *_repeats(vendor, "NEW", 1, done, ()),
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
    voided = "t.id = NEW.voids_id"
    events = "FROM learning_completionevent t"
    void = [
        _Change(
            _COURSE_DAY_KEY,
            ("t.course_id", _day(vendor, "t.occurred_at")),
            (_minus(t_done), _minus(t_failed), "1"),
            voided,
            events,
            creates=False,
        ),
        _Change(
            _COURSE_LEARNER_KEY,
            ("t.course_id", "t.learner_id"),
            (_minus(t_done), _minus(t_failed), "1"),
            voided,
            events,
            creates=False,
        ),
        # Then uncount the learner whose last standing completion that was.
        _Change(
            _COURSE_KEY,
            ("t.course_id",),
            (_minus(uncounted), _minus(t_failed), "1"),
            voided,
            events,
            creates=False,
        ),
        *(
            _Change(
                key,
                (f"e.{column}", "t.course_id"),
                (_minus(uncounted), _minus(t_failed), "1"),
                f"{voided} AND {_open('e')}",
                f"{events} JOIN learning_enrollment e ON e.learner_id = t.learner_id",
                creates=False,
            )
            for key, column in _SCOPES
        ),
        # A voided completion leaves its learner's completions of the course.
        *_repeats(
            vendor,
            "t",
            -1,
            f"{voided} AND t.kind IN {_DONE_KINDS}",
            ("learning_completionevent t",),
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


def _scope_delta(
    r: str, sign: str, scopes: tuple[tuple[_Key, str], ...] = _SCOPES
) -> list[_Change]:
    """Add (``sign`` '+') or take off ('-') the course rows of ``r``'s learner to or from
    its package's and version's course rows (or only ``scopes``'), if ``r`` is open: an
    upsert of each of the learner's course rows (read by the index on learner)."""

    def signed(expression: str) -> str:
        return _minus(expression) if sign == "-" else expression

    return [
        _Change(
            key,
            (f"{r}.{column}", "c.course_id"),
            (signed(_one_if("c.completions > 0")), signed("c.failed"), signed("c.voided")),
            f"c.learner_id = {r}.learner_id AND {_open(r)}",
            "FROM learning_courselearnercount c",
        )
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


def _scope_moves(vendor: str) -> list[tuple[str, str, list[_Change]]]:
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


def _add(key: _Key, values: list[str], where: str, source: str = "") -> _Change:
    return _Change(key, tuple(values), ("1",), where, source)


def _take(key: _Key, values: list[str], where: str, source: str = "") -> _Change:
    # With a source (a successor period): at most one row, a period has one successor.
    return _Change(key, tuple(values), ("-1",), where, source, creates=False)


def _each_summary(
    vendor: str, row: str, change: Callable[[_Key, list[str], str], _Change]
) -> list[_Change]:
    """``change`` (``_take`` or ``_add``) of every summary row that ``row`` (``OLD`` or
    ``NEW``) counts in."""
    completed = f"{_open(row)} AND {row}.completed_at IS NOT NULL"
    return [
        change(_DAY_KEY, _day_values(vendor, row), "1 = 1"),
        change(_COMPLETION_KEY, _completion_values(vendor, row), completed),
        change(_STANDING_KEY, _standing_values(vendor, row), _open(row)),
        change(_LEARNER_KEY, [f"{row}.learner_id"], "1 = 1"),
        change(_VERSION_KEY, _version_values(row), "1 = 1"),
        change(_COMPLETION_MONTH_KEY, _completion_month_values(vendor, row), completed),
    ]


def _remove_old(vendor: str) -> list[_Change]:
    return _each_summary(vendor, "OLD", _take)


def _add_new(vendor: str) -> list[_Change]:
    return _each_summary(vendor, "NEW", _add)


def _move_successor(vendor: str) -> list[_Change]:
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
            f"BEGIN {'; '.join(_sql(parts))}; END"
        )
    fact, void = _event_statements("sqlite")
    for name, when, changes in (
        ("cp_event_summaries_fact", "NEW.kind <> 'void'", fact),
        ("cp_event_summaries_void", f"NEW.kind = 'void' AND {_VOIDS_A_FACT}", void),
    ):
        stmts.append(f"DROP TRIGGER IF EXISTS {name}")
        stmts.append(
            f"CREATE TRIGGER {name} AFTER INSERT ON learning_completionevent FOR EACH ROW "
            f"WHEN {when} BEGIN {'; '.join(_sql(changes))}; END"
        )
    # Apart from the other keys: a status change (every completion) moves no course row.
    for column, when, changes in _scope_moves("sqlite"):
        name = f"cp_enrollment_summaries_{column.removesuffix('_id')}_courses"
        stmts.append(f"DROP TRIGGER IF EXISTS {name}")
        stmts.append(
            f"CREATE TRIGGER {name} AFTER UPDATE ON learning_enrollment FOR EACH ROW "
            f"WHEN {when} BEGIN {'; '.join(_sql(changes))}; END"
        )
    name = "cp_enrollment_summaries_successor"
    stmts.append(f"DROP TRIGGER IF EXISTS {name}")
    stmts.append(
        f"CREATE TRIGGER {name} AFTER UPDATE OF version_id, expires_at ON learning_enrollment "
        f"FOR EACH ROW WHEN NOT (NEW.version_id IS OLD.version_id AND "
        f"NEW.expires_at IS OLD.expires_at) "
        f"BEGIN {'; '.join(_sql(_move_successor('sqlite')))}; END"
    )
    return stmts


#: The setting a deferred block sets for its transaction (``SET LOCAL``).
_SETTING = "coursepack.summaries"
_DEFERRED_NOW = f"current_setting('{_SETTING}', true) = 'deferred'"


def _enrollment_body(*, deferred: bool) -> str:
    """The PL/pgSQL statements counting the enrollment row change, live or deferred."""
    vendor = "postgresql"

    def run(changes: list[_Change]) -> str:
        return "; ".join(_sql(changes, deferred=deferred))

    return (
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {run(_remove_old(vendor))}; END IF;\n"
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {run(_add_new(vendor))}; END IF;\n"
        f"IF TG_OP = 'INSERT' THEN {run(_scope_delta('NEW', '+'))}; END IF;\n"
        f"IF TG_OP = 'DELETE' THEN {run(_scope_delta('OLD', '-'))}; END IF;\n"
        + "".join(
            f"IF TG_OP = 'UPDATE' THEN IF {when} THEN {run(changes)}; END IF; END IF;\n"
            for _, when, changes in _scope_moves(vendor)
        )
        + "IF TG_OP = 'UPDATE' AND (NEW.version_id IS DISTINCT FROM OLD.version_id "
        f"OR NEW.expires_at IS DISTINCT FROM OLD.expires_at) THEN "
        f"{run(_move_successor(vendor))}; END IF;\n"
    )


def _postgresql_statements() -> list[str]:
    vendor = "postgresql"
    name = "cp_enrollment_summaries"
    body = (
        "IF TG_OP = 'UPDATE' AND NOT (" + _changed(vendor) + ") THEN RETURN NEW; END IF;\n"
        f"IF {_DEFERRED_NOW} THEN\n{_enrollment_body(deferred=True)}"
        f"ELSE\n{_enrollment_body(deferred=False)}END IF;\n"
        "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW;"
    )
    fact, void = _event_statements(vendor)

    def either(changes: list[_Change]) -> str:
        return (
            f"IF {_DEFERRED_NOW} THEN {'; '.join(_sql(changes, deferred=True))}; "
            f"ELSE {'; '.join(_sql(changes))}; END IF"
        )

    events = "cp_event_summaries"
    looked_up = (
        _neighbours_into("NEW", f"NEW.kind IN {_DONE_KINDS}", ()),
        _neighbours_into(
            "t",
            f"t.id = NEW.voids_id AND t.kind IN {_DONE_KINDS}",
            ("learning_completionevent t",),
        ),
    )
    # As on SQLite, a void of a void (the services refuse one) changes no count.
    event_body = (
        f"IF NEW.kind = 'void' THEN IF {_VOIDS_A_FACT} THEN {looked_up[1]}; {either(void)}; "
        f"END IF; ELSE {looked_up[0]}; {either(fact)}; END IF; RETURN NEW;"
    )
    return [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\nEND;\n$$",
        f"DROP TRIGGER IF EXISTS {name} ON learning_enrollment",
        f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE OR DELETE ON learning_enrollment "
        f"FOR EACH ROW EXECUTE FUNCTION {name}()",
        f"CREATE OR REPLACE FUNCTION {events}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"{_DECLARED}\n"
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
