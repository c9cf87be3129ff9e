"""A package's standing counts as of t from the standing summary rows (ADR 0027): the
rows decide every period whose standing the day columns settle; the periods on a compared
moment's day, and the special ones, are read exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.models import Q, QuerySet
from django.utils import timezone

from coursepack import rules
from coursepack.learning import summaries
from coursepack.learning.models import Enrollment
from coursepack.learning.standing_terms import (
    STANDING_FILTERS,
    Columns,
    lapsed_periods,
    recount_lapsed,
    standing_thresholds,
    whole_exemption,
    whole_exemption_packages,
)
from coursepack.learning.summary_models import NO_DAY
from coursepack.packaging import selectors as packaging
from coursepack.packaging.models import PackageVersion, VersionStatus

__all__ = [
    "standing_counts",
    "standing_counts_by_package",
]


class _DayColumns(Columns):
    """The standing summary rows' columns: moments as UTC days (``NO_DAY`` for none).

    A comparison of a day with a moment's day decides the comparison of the moments
    only when the two days differ; ``standing_counts`` leaves the rows on a compared
    moment's day out and reads those periods exactly.
    """

    version = "version_id"
    previous_version = "previous_version_id"
    _fields = {
        "overdue": "overdue_day",
        "expires": "expires_day",
        "previous_expires": "previous_expires_day",
    }

    def __init__(self) -> None:
        super().__init__(exemptions=False)

    def later(self) -> Q:
        return Q(later=True)

    def isnull(self, name: str) -> Q:
        return Q(**{self._fields[name]: NO_DAY})

    def cmp(self, name: str, op: str, moment: datetime) -> Q:
        column, day = self._fields[name], _utc_day(moment)
        if op in ("lt", "lte"):
            return Q(**{f"{column}__lt": day}) & ~Q(**{column: NO_DAY})
        return Q(**{f"{column}__gt": day})


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _on_days(package_ids: list[int], column: str, days: list[date]) -> Q:
    """Return whether a period of these packages has the moment in ``column`` on one
    of the UTC ``days``.

    The packages are named in every day's term, not once beside them all: each term
    is then a range of the ``(package, column)`` index, which SQLite reads term by
    term ("multi-index OR"); with the package beside an ``OR`` of ranges it would
    rather walk every period of the package by another index on the package.
    """
    found = Q(pk__in=[])
    for day in days:
        start = datetime.combine(day, time.min, tzinfo=UTC)
        found |= Q(
            **{
                "package_id__in": package_ids,
                f"{column}__gte": start,
                f"{column}__lt": start + timedelta(days=1),
            }
        )
    return found


def standing_counts(
    package_id: int,
    *,
    now: datetime | None = None,
    expiring_within_days: int = 30,
    lapsed: list[Enrollment] | None = None,
) -> dict[str, int]:
    """Return, for one package, how many open periods are in each standing as of now.

    See :func:`standing_counts_by_package`. ``expiring`` counts the current ones
    expiring within N days.
    """
    found = standing_counts_by_package(
        [package_id], now=now, expiring_within_days=expiring_within_days, lapsed=lapsed
    )
    return found[package_id]


def _standings(
    status: str,
    later: bool,
    overdue: Any,
    expires: Any,
    version_id: int,
    previous_version_id: int | None,
    previous_expires: Any,
    *,
    lt: Callable[[Any, datetime], bool],
    gt: Callable[[Any, datetime], bool],
    now: datetime,
    within: timedelta,
    rules_of: dict[int, rules.CertificationRule],
) -> list[str]:
    """Return the standings of one open period that is not exempt: ``standing_q`` in
    Python, over exact moments or (``lt``/``gt`` on days) a summary row's days."""
    days = timedelta(days=1)
    done = status == "completed"
    if not rules_of:
        # No version of the package expires (as ``standing_q``'s first branch).
        if done:
            return ["current"]
        if later:
            return []
        return ["overdue"] if lt(overdue, now) else [status]
    own = rules_of.get(version_id)
    before = rules_of.get(previous_version_id) if previous_version_id else None
    found = []
    if done:
        if expires is None or expires == NO_DAY:
            return ["current"]
        if own is not None:
            if gt(expires, now + own.window_days * days):
                found.append("current")
            elif gt(expires, now):
                found.append("due_for_recertification")
            elif gt(expires, now - own.grace_days * days):
                found.append("overdue")
            else:
                found.append("expired")
        if gt(expires, now) and not gt(expires, now + within):
            found.append("expiring")
        return found
    if later:
        if gt(previous_expires, now):
            found.append("due_for_recertification")
        elif before is not None and previous_expires not in (None, NO_DAY):
            if gt(previous_expires, now - before.grace_days * days):
                found.append("overdue")
            else:
                found.append("expired")
        return found
    return ["overdue"] if lt(overdue, now) else [status]


class _Undecided:
    """Which summary rows (and periods) their days cannot decide as of ``now``.

    ``_standings`` compares one moment of a period, by the kind of period, with a few
    moments: a first period not complete its due-from moment with now; a complete
    period its expiry with now, now + N days and its version's window and grace; a
    later period not complete yet its previous period's expiry with now and that
    version's grace. A day decides such a comparison unless it is the day of the
    moment compared with; only then is the period read with its exact moments.
    """

    def __init__(
        self, now: datetime, within: timedelta, rules_of: dict[int, rules.CertificationRule]
    ) -> None:
        self._days: dict[datetime, date] = {}
        self._rules = rules_of
        days = timedelta(days=1)
        self.overdue_days = {self.day(now)}
        common = {self.day(now), self.day(now + within)}
        self._expires = {
            v: common | {self.day(now + c.window_days * days), self.day(now - c.grace_days * days)}
            for v, c in rules_of.items()
        }
        self._common = common
        self._previous = {
            v: {self.day(now), self.day(now - c.grace_days * days)} for v, c in rules_of.items()
        }
        self._now = {self.day(now)}

    def day(self, moment: datetime) -> date:
        """Return the UTC day of ``moment`` (remembered: the same few are asked often)."""
        found = self._days.get(moment)
        if found is None:
            found = self._days[moment] = _utc_day(moment)
        return found

    @staticmethod
    def kind(status: str, later: bool) -> str:
        """Return which moment decides a period: its expiry, its previous period's, or
        its due-from moment."""
        if status == "completed":
            return "expires"
        return "previous" if later else "overdue"

    def expires_days(self, version_id: int) -> set[date]:
        return self._expires.get(version_id, self._common)

    def previous_days(self, version_id: int | None) -> set[date]:
        return self._previous.get(version_id or 0, self._now)

    def period(self, row: tuple[Any, ...]) -> bool:
        """Return whether the period (``_standings``' arguments, exact moments) is on a
        day its summary row cannot decide."""
        status, later, due_from, expiry, version_id, prev_v, prev_expiry = row
        kind = self.kind(status, later)
        if kind == "expires":
            return expiry is not None and self.day(expiry) in self.expires_days(version_id)
        if kind == "previous":
            return prev_expiry is not None and self.day(prev_expiry) in self.previous_days(prev_v)
        return due_from is not None and self.day(due_from) in self.overdue_days


def standing_counts_by_package(
    package_ids: list[int],
    *,
    now: datetime | None = None,
    expiring_within_days: int = 30,
    versions: dict[int, int] | None = None,
    lapsed: list[Enrollment] | None = None,
) -> dict[int, dict[str, int]]:
    """Return, for each package, how many open periods are in each standing as of now.

    Answered from the standing summary rows (ADR 0027) in a handful of small queries
    whatever the number of periods or packages: a row is decided by its key alone
    unless the one moment its standing depends on falls on the day of a moment it is
    compared with (``_Undecided``); the periods of those rows (the rows say which
    days), and those with a whole-enrollment exemption in force (which the rows do not
    know of), are read one by one with their cached fields, each set through its own
    index. The cached fields are exact as of now for every state that depends only on
    dates. The verdicts are ``standing_q``'s, held equal to it by the property tests.

    ``versions``: every released version of the packages, with its package, if the
    caller has read them (the report page's package table); else one query reads them.
    ``lapsed``: ``lapsed_periods(package_ids, now)``, if the caller has read it (the
    standing page, for its counts and its list).
    """
    if not package_ids:
        return {}
    moment = now or timezone.now()
    within = timedelta(days=expiring_within_days)
    package_of = (
        dict(
            PackageVersion.objects.filter(package_id__in=package_ids)
            .exclude(status=VersionStatus.DRAFT)
            .values_list("pk", "package_id")
        )
        if versions is None
        else versions
    )
    rules_of = {
        v: c for v, (_, c) in packaging.lifecycle_rules(list(package_of)).items() if c is not None
    }
    # Each package's verdicts use its own versions' rules, as ``standing_q`` does.
    package_rules: dict[int, dict[int, rules.CertificationRule]] = {p: {} for p in package_ids}
    for version_id, rule in rules_of.items():
        package_rules[package_of[version_id]][version_id] = rule
    counts = {p: dict.fromkeys(STANDING_FILTERS, 0) for p in package_ids}
    undecided = _Undecided(moment, within, rules_of)

    def day_lt(day: date, t: datetime) -> bool:
        return day != NO_DAY and day < undecided.day(t)

    def day_gt(day: date, t: datetime) -> bool:
        return day > undecided.day(t)

    def exact_lt(value: datetime | None, t: datetime) -> bool:
        return value is not None and value < t

    def exact_gt(value: datetime | None, t: datetime) -> bool:
        return value is not None and value > t

    # Where a day falls among the compared days (``_Placement``) is all a decided
    # row's standings depend on: the database groups the rows by it, so a year of due
    # dates (~1,000 rows) comes back as a few dozen.
    placement = _Placement(
        sorted({undecided.day(t) for t in standing_thresholds(moment, within, rules_of)})
    )
    overdue_on: set[date] = set()
    expires_on: set[date] = set()
    previous_on: set[date] = set()

    def counted(row: tuple[Any, ...]) -> list[str] | None:
        """Return the standings of a grouped row, or None if its days cannot decide it
        (then note which periods step 2 reads: those with that moment on that day)."""
        package_id, status, later, version_id, prev_v, *places = row
        overdue, expires, prev_exp = (placement.day(p) for p in places)
        kind = undecided.kind(status, later)
        if kind == "overdue" and overdue in undecided.overdue_days:
            overdue_on.add(overdue)
            return None
        if kind == "expires" and expires in undecided.expires_days(version_id):
            expires_on.add(expires)
            return None
        if kind == "previous" and prev_exp in undecided.previous_days(prev_v):
            previous_on.add(prev_exp)
            return None
        return _standings(
            status, later, overdue, expires, version_id, prev_v, prev_exp,
            lt=day_lt, gt=day_gt, now=moment, within=within,
            rules_of=package_rules[package_id],
        )  # fmt: skip

    # 1. The summary rows, grouped by placement.
    for *row, n in placement.summary_rows(package_ids):
        for name in counted(tuple(row)) or ():
            counts[row[0]][name] += n
    # 2. The periods with a whole-enrollment exemption in force, grouped the same way:
    # counted exempt, and no longer under what their summary row said (if it decided).
    for *row, n in placement.exempt_rows(package_ids, moment):
        counts[row[0]]["exempt"] += n
        for name in counted(tuple(row)) or ():
            counts[row[0]][name] -= n
    # 3. The periods on the undecided days, one by one (exempt ones counted above).
    for package_id, ex, period in _on_day_periods(
        package_ids, moment, overdue_on, expires_on, previous_on
    ).values():
        # A period found by its day whose other moments decide it was counted by its row.
        if not ex and undecided.period(period):
            for name in _standings(
                *period, lt=exact_lt, gt=exact_gt, now=moment, within=within,
                rules_of=package_rules[package_id],
            ):  # fmt: skip
                counts[package_id][name] += 1
    # 4. The periods whose cache counts an exemption that has ended (usually none).
    by_package: dict[int, list[Enrollment]] = {}
    for e in lapsed_periods(package_ids, moment) if lapsed is None else lapsed:
        by_package.setdefault(e.package_id, []).append(e)
    for package_id, periods in by_package.items():
        recount_lapsed(package_id, periods, counts[package_id], moment, within)
    return counts


def _special_periods(which: Q, now: datetime) -> dict[int, tuple[int, bool, tuple[Any, ...]]]:
    """Return the open periods matching ``which``: pk -> (package, whether a whole
    exemption is in force as of ``now``, the arguments of ``_standings`` before its
    keywords, with exact moments).

    ``which`` selects by a small indexed set and is scoped to the packages already:
    with a condition on the package beside it, SQLite would rather scan the package's
    periods by the package's index.
    """
    rows = _raw(
        Enrollment.objects.filter(which, withdrawn_at__isnull=True, superseded_at__isnull=True)
        .annotate(ex=whole_exemption(now))
        .values_list(
            "pk",
            "package_id",
            "ex",
            "status",
            "period_number",
            "overdue_since",
            "expires_at",
            "version_id",
            "previous_period__version_id",
            "previous_period__expires_at",
        )
        .order_by()
    )
    return {
        pk: (
            package_id,
            bool(ex),
            (
                status,
                number > 1,
                _as_moment(due_from),
                _as_moment(expiry),
                version_id,
                prev_v,
                _as_moment(prev_expiry),
            ),
        )
        for pk, package_id, ex, status, number, due_from, expiry, version_id, prev_v, prev_expiry in rows
    }


def _raw(rows: QuerySet[Any, Any]) -> list[tuple[Any, ...]]:
    """Return a ``values_list`` query's rows as the database driver gives them: without
    Django's converters, which cost more than the query over a thousand rows (SQLite
    gives days and moments as ISO text; see ``_as_date`` and ``_as_moment``)."""
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:
        return []
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _as_moment(value: datetime | str | None) -> datetime | None:
    # SQLite: naive UTC (text, or parsed by the driver), as Django stores it with USE_TZ.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _on_day_periods(
    package_ids: list[int],
    now: datetime,
    overdue: set[date],
    expires: set[date],
    previous: set[date],
) -> dict[int, tuple[int, bool, tuple[Any, ...]]]:
    """Return the open periods due from, or expiring on, one of the given UTC days, and
    the later periods not complete yet whose previous period expires on one of
    ``previous``: one indexed range query per kind of moment that has a day (the
    summary rows say which), never a scan of the package."""
    found: dict[int, tuple[int, bool, tuple[Any, ...]]] = {}
    if overdue:
        found |= _special_periods(_on_days(package_ids, "overdue_since", sorted(overdue)), now)
    if expires:
        found |= _special_periods(_on_days(package_ids, "expires_at", sorted(expires)), now)
    if previous:
        # A later period is in its previous period's package.
        expiring = Enrollment.objects.filter(
            _on_days(package_ids, "expires_at", sorted(previous))
        ).values("pk")
        found |= _special_periods(
            Q(period_number__gt=1, previous_period_id__in=expiring) & ~Q(status="completed"), now
        )
    return found


class _Placement:
    """Where a day falls among the sorted compared days ``marks``: -1 for no day, 2i
    before ``marks[i]`` (after the one before), 2i + 1 on it, 2 len(marks) after all.

    The database groups rows by the placements of their days (one ``CASE`` each), and
    ``day`` gives back a day of each placement: the day itself on a mark, else one
    strictly between the same marks (a placement that has a row has such a day).
    """

    def __init__(self, marks: list[date]) -> None:
        self.marks = marks

    def day(self, place: int) -> date:
        if place < 0:
            return NO_DAY
        at, on = divmod(place, 2)
        if on:
            return self.marks[at]
        if at < len(self.marks):
            return self.marks[at] - timedelta(days=1)
        return self.marks[-1] + timedelta(days=1) if self.marks else date(2000, 1, 1)

    def _case(self, column: str, params: list[Any]) -> str:
        adapt = connection.ops.adapt_datefield_value
        parts = [f"WHEN {column} = %s THEN -1"]
        params.append(adapt(NO_DAY))
        for at, mark in enumerate(self.marks):
            parts.append(f"WHEN {column} < %s THEN {2 * at}")
            parts.append(f"WHEN {column} = %s THEN {2 * at + 1}")
            params += [adapt(mark), adapt(mark)]
        return f"CASE {' '.join(parts)} ELSE {2 * len(self.marks)} END"

    def _grouped(
        self, select: str, days: tuple[str, str, str], rest: str, params: list[Any]
    ) -> list[tuple[Any, ...]]:
        cases: list[Any] = []
        columns = ", ".join(self._case(d, cases) for d in days)
        sql = f"SELECT {select}, {columns}, {rest.format(group=', '.join(str(i) for i in range(1, 9)))}"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*cases, *params])
            return [
                (p, s, bool(later), v, pv, *rest_)
                for p, s, later, v, pv, *rest_ in cursor.fetchall()
            ]

    def summary_rows(self, package_ids: list[int]) -> list[tuple[Any, ...]]:
        """Return the standing summary rows of the packages grouped by placement:
        (package, status, later, version, previous version, placements of the
        due-from, expiry and previous expiry days, n)."""
        marks = ", ".join(["%s"] * len(package_ids))
        return self._grouped(
            "package_id, status, later, version_id, previous_version_id",
            ("overdue_day", "expires_day", "previous_expires_day"),
            f"SUM(n) FROM learning_standingcount WHERE package_id IN ({marks}) AND n <> 0 "
            "GROUP BY {group}",
            list(package_ids),
        )

    def exempt_rows(self, package_ids: list[int], now: datetime) -> list[tuple[Any, ...]]:
        """Return the open periods of the packages with a whole-enrollment exemption in
        force as of ``now``, grouped as ``summary_rows`` (the same key expressions as
        the summary triggers).

        The periods are found from the exemptions first (their package checked in
        Python), then grouped by their ids. With the package in the SQL, PostgreSQL
        without statistics of the package's periods (a package just filled, before
        autovacuum analyses it) read the package's periods through its index once per
        exemption: 50 exemptions x 5,000 periods, 65-82 ms (docs/benchmarks.md).
        """
        wanted = set(package_ids)
        ids = sorted(
            {pk for pk, package_id in whole_exemption_packages(now) if package_id in wanted}
        )
        if not ids:
            return []
        vendor = connection.vendor
        waiting = "e.period_number > 1 AND e.status <> 'completed'"
        return self._grouped(
            f"e.package_id, e.status, e.period_number > 1, e.version_id, "
            f"CASE WHEN {waiting} THEN COALESCE(p.version_id, 0) ELSE 0 END",
            (
                summaries.day_sql(vendor, "e.overdue_since"),
                summaries.day_sql(vendor, "e.expires_at"),
                f"CASE WHEN {waiting} THEN {summaries.day_sql(vendor, 'p.expires_at')} "
                f"ELSE {summaries.no_day_sql(vendor)} END",
            ),
            "COUNT(*) FROM learning_enrollment e "
            "LEFT JOIN learning_enrollment p ON p.id = e.previous_period_id "
            "WHERE e.withdrawn_at IS NULL AND e.superseded_at IS NULL "
            f"AND e.id IN ({', '.join(['%s'] * len(ids))}) GROUP BY {{group}}",
            ids,
        )
