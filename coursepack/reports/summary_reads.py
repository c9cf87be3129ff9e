"""Report reads from the summary rows (ADR 0027): a few rows per version, day or course.

The summary tables (``learning.summary_models``) are kept by the write path's
triggers and checked against a from-scratch aggregate by ``rebuild_statuses``. They
answer "as of now, as known now" over whole UTC days (or no bound); the selectors
(``reports.selectors``) decide when, and fall back to ``reports.exact`` otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.models import Exists, Model, OuterRef, QuerySet, Sum

from coursepack.learning.models import (
    CompletionDayCount,
    CompletionMonthCount,
    CourseCount,
    EnrollmentDayCount,
    EnrollmentState,
    EnrollmentStatus,
    LearnerCount,
    PackageCourseCount,
    VersionCount,
    VersionCourseCount,
)
from coursepack.packaging.models import PackageVersion
from coursepack.reports.exact import CourseCounts
from coursepack.reports.rows import (
    MAX_PERIODS,
    NO_PERIODS,
    Bucket,
    PeriodCounts,
    StatusCounts,
    bucket_for,
    period_start,
    periods_between,
)
from coursepack.reports.scope import ReportFilters, days_between, summary_scope

__all__ = [
    "SummaryRows",
    "as_day",
    "course_counts",
    "in_list",
    "learner_count",
    "listed_learners",
    "package_counts",
    "period_counts",
    "read_rows",
    "status_counts",
]

_DAY = timedelta(days=1)


# --- hot reads written once (ADR 0035; ADR 0036 amended, issue 19) ------------------
#
# The all-packages report page read about a dozen querysets of summary rows, each a few
# rows, and compiling them cost more than running them. Those reads are SQL text built
# once per shape (vendor, table, select list, which bounds), the package / version / days
# bound per request, run on the database the router picks for the model (the replica
# where a view reads from it), as the querysets did.

_texts: dict[tuple[Any, ...], str] = {}


@dataclass(frozen=True)
class SummaryRows:
    """Summary rows of one table with ``n > 0``: of the filters' package / version and
    with the date ``column`` in ``[first, stop)`` (None: no bound)."""

    model: type[Model]
    filters: ReportFilters
    column: str | None = None
    first: date | None = None
    stop: date | None = None

    def _where(self, using: str) -> str:
        """``"table" WHERE …`` of these rows (built once per shape)."""
        key = (
            connections[using].vendor,
            self.model,
            self.column,
            self.filters.package_id is not None,
            self.filters.version_id is not None,
            self.first is not None,
            self.stop is not None,
        )
        sql = _texts.get(key)
        if sql is None:
            where = ["n > 0"]
            if self.filters.package_id is not None:
                where.append("package_id = %s")
            if self.filters.version_id is not None:
                where.append("version_id = %s")
            if self.first is not None:
                where.append(f"{self.column} >= %s")
            if self.stop is not None:
                where.append(f"{self.column} < %s")
            table = connections[using].ops.quote_name(self.model._meta.db_table)
            sql = _texts[key] = f"{table} WHERE " + " AND ".join(where)
        return sql

    def _params(self, using: str) -> list[Any]:
        adapt = connections[using].ops.adapt_datefield_value
        params: list[Any] = [
            p for p in (self.filters.package_id, self.filters.version_id) if p is not None
        ]
        return params + [adapt(d) for d in (self.first, self.stop) if d is not None]

    def read(
        self, select: str, *, also: str = "", group: str = "", extra: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        """Run ``SELECT select FROM the rows [AND also] [GROUP BY group]``; ``extra``
        binds ``also``'s parameters."""
        using = router.db_for_read(self.model)
        sql = f"SELECT {select} FROM {self._where(using)}"
        if also:
            sql += f" AND {also}"
        if group:
            sql += f" GROUP BY {group}"
        return read_rows(self.model, sql, [*self._params(using), *extra])

    def ends(self) -> tuple[Any, Any]:
        """The least and greatest ``column`` of the rows as fetched (None, None: no
        rows): two scalar subqueries, each a walk of an index from its end to the first
        row (an aggregate of both would read them all)."""
        using = router.db_for_read(self.model)
        rows = self._where(using)
        first = f"SELECT {self.column} FROM {rows} ORDER BY {self.column} ASC LIMIT 1"
        last = f"SELECT {self.column} FROM {rows} ORDER BY {self.column} DESC LIMIT 1"
        params = self._params(using)
        with connections[using].cursor() as cursor:
            cursor.execute(f"SELECT ({first}), ({last})", [*params, *params])
            found: tuple[Any, Any] = cursor.fetchone()
        return found


def read_rows(model: type[Model], sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` (a read of ``model``'s table, written once) on the database the
    router picks for ``model``, as a queryset of it would, and return its rows."""
    with connections[router.db_for_read(model)].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def in_list(n: int) -> str:
    """``%s, %s, …``: ``n`` parameters of an ``IN`` list."""
    return ", ".join(["%s"] * n)


def as_day(value: date | str) -> date:
    """A day as fetched (SQLite returns days as text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def package_counts(
    filters: ReportFilters, first: date | None, stop: date | None
) -> dict[int, StatusCounts]:
    """Return ``package_report``'s counts per version from the summary rows, for the UTC
    days ``[first, stop)``: two queries over a few rows per version and day; with no
    bound, one over a few rows per version."""
    found: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if first is None and stop is None:
        every = (
            summary_scope(VersionCount.objects.all(), filters)
            .filter(n__gt=0)
            .values_list("version_id", "state", "status", "completed", "n")
        )
        for version_id, state, status, done, n in every:
            counts = found[version_id]
            if state == EnrollmentState.OPEN:
                counts["enrolled"] += n
                counts[status] += n
                if done:
                    counts["completed_in_range"] += n
            elif state == EnrollmentState.WITHDRAWN:
                counts["withdrawn"] += n
        return status_counts(found)
    begun = (
        summary_scope(EnrollmentDayCount.objects.all(), filters)
        .filter(days_between("day", first, stop))
        .values("version_id", "state", "status")
        .annotate(total=Sum("n"))
    )
    for row in begun:
        counts = found[row["version_id"]]
        if row["state"] == EnrollmentState.OPEN:
            counts["enrolled"] += row["total"]
            counts[row["status"]] += row["total"]
        elif row["state"] == EnrollmentState.WITHDRAWN:
            counts["withdrawn"] += row["total"]
    completed = (
        summary_scope(CompletionDayCount.objects.all(), filters)
        .filter(days_between("day", first, stop))
        .values("version_id")
        .annotate(total=Sum("n"))
    )
    for row in completed:
        found[row["version_id"]]["completed_in_range"] += row["total"]
    return status_counts(found)


def status_counts(found: dict[int, dict[str, int]]) -> dict[int, StatusCounts]:
    """Return summed counts per key (version or package) as StatusCounts."""
    return {
        version_id: StatusCounts(
            enrolled=c["enrolled"],
            withdrawn=c["withdrawn"],
            not_started=c[EnrollmentStatus.NOT_STARTED],
            in_progress=c[EnrollmentStatus.IN_PROGRESS],
            completed=c[EnrollmentStatus.COMPLETED],
            completed_in_range=c["completed_in_range"],
        )
        for version_id, c in found.items()
    }


def _choose(lo: date, hi: date, lo_exact: bool, hi_exact: bool) -> Bucket | None:
    """The period for the span from the first to the last moment, if every time of day
    those moments may have gives the same one (an exact end is the range's: its first
    microsecond, or for the end, its last)."""
    lo_at = datetime.combine(lo, time.min, tzinfo=UTC)
    hi_at = datetime.combine(hi, time.min, tzinfo=UTC)
    day_end = _DAY - timedelta(microseconds=1)
    if hi_exact:
        hi_at += day_end
    least = hi_at - (lo_at if lo_exact else lo_at + day_end)
    most = hi_at + (timedelta(0) if hi_exact else day_end) - lo_at
    bucket = bucket_for(max(least, timedelta(0)))
    return bucket if bucket == bucket_for(most) else None


def period_counts(
    filters: ReportFilters,
    first_day: date | None,
    stop_day: date | None,
    *,
    top: int | None = None,
    whole_up_to: int = 0,
) -> PeriodCounts | None:
    """Return the chart's counts from the completion summary rows (the current zone
    being UTC), or None when an open end of the range makes the choice of period depend
    on the first or last completion's time of day.

    The first and last day with a completion are two walks of an index on the day rows
    (one query);
    a chart by day or week reads the day rows of its range, a chart by month or year
    the month rows of the whole months in it and the day rows of a month cut by the
    range's ends (a few rows per version and month, however long the history).

    With ``top``, over every package (no package or version chosen), when more than
    ``max(top, whole_up_to)`` versions have completions,
    only the ``top`` versions with the most (ties in the order of the chart's series:
    package name, package, version number) keep their own counts and the others are
    added up per period in ``other``: the database sums each version's rows, every
    version's rows per period, and the kept versions' rows per period (by the unique
    key); the others are the difference (ADR 0036, "the chart folded by the database"),
    so the page reads a few rows per period instead of one per version and month
    (~10,000 at the full scale)."""
    ends = _first_and_last(SummaryRows(CompletionDayCount, filters, "day", first_day, stop_day))
    if ends is None:
        return NO_PERIODS
    data_first, data_last = ends
    lo = first_day if first_day is not None else data_first
    hi = stop_day - _DAY if stop_day is not None else data_last
    bucket = _choose(lo, hi, first_day is not None, stop_day is not None)
    if bucket is None:
        return None
    periods = periods_between(lo, hi, bucket)
    if len(periods) > MAX_PERIODS:
        bucket = _choose(data_first, data_last, False, False)
        if bucket is None:
            return None
        periods = periods_between(data_first, data_last, bucket)
    index = {day: i for i, day in enumerate(periods)}
    parts = _completion_parts(filters, first_day, stop_day, bucket)
    kept: list[int] | None = None
    other_versions = 0
    # Only every package's chart is folded: a package has a few versions, and reading
    # its rows whole is one query where folding them is two.
    if top is not None and filters.package_id is None and filters.version_id is None:
        totals = _version_totals(parts)
        if len(totals) > max(top, whole_up_to):
            kept = _most(totals, top)
            other_versions = len(totals) - len(kept)
    counts: dict[int, list[int]] = {}
    for version_id, day, total in _completions(parts, kept):
        slot = index.get(period_start(day, bucket))
        if slot is not None:
            counts.setdefault(version_id, [0] * len(periods))[slot] += total
    other: list[int] | None = None
    if kept is not None:
        # Every version's completions per period, less the kept ones'.
        other = [0] * len(periods)
        for day, total in _period_totals(parts):
            slot = index.get(period_start(day, bucket))
            if slot is not None:
                other[slot] += total
        for kept_counts in counts.values():
            other = [n - k for n, k in zip(other, kept_counts, strict=True)]
    return PeriodCounts(counts, bucket, periods, other, other_versions)


def _first_and_last(days: SummaryRows) -> tuple[date, date] | None:
    """The first and last day of ``days``, in one query (``SummaryRows.ends``)."""
    first, last = days.ends()
    if first is None or last is None:
        return None
    return as_day(first), as_day(last)


def _month_after(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _completion_parts(
    filters: ReportFilters, first_day: date | None, stop_day: date | None, bucket: Bucket
) -> list[SummaryRows]:
    """The summary rows of the completions over ``[first_day, stop_day)`` (n > 0): the
    day rows for a chart by day or week; for one by month or year the month rows of the
    whole months in the range and the day rows of the months its ends cut."""

    def by_day(first: date | None, stop: date | None) -> SummaryRows:
        return SummaryRows(CompletionDayCount, filters, "day", first, stop)

    if bucket in ("day", "week"):
        return [by_day(first_day, stop_day)]
    # The whole months in the range: [whole_from, whole_to).
    whole_from = first_day
    if first_day is not None and first_day.day != 1:
        whole_from = _month_after(first_day)
    whole_to = None if stop_day is None else stop_day.replace(day=1)
    if whole_from is not None and whole_to is not None and whole_from >= whole_to:
        return [by_day(first_day, stop_day)]
    parts = [SummaryRows(CompletionMonthCount, filters, "month", whole_from, whole_to)]
    if first_day is not None and whole_from != first_day:
        parts.append(by_day(first_day, whole_from))
    if stop_day is not None and whole_to != stop_day:
        parts.append(by_day(whole_to, stop_day))
    return parts


def _completions(
    parts: list[SummaryRows], kept: list[int] | None = None
) -> list[tuple[int, date, int]]:
    """(version, day or first day of a month, completions) of the rows ``parts``, summed
    by the database; with ``kept``, of those versions only (by the unique key's
    (version, day or month) order)."""
    if kept is not None and not kept:
        return []
    found: list[tuple[int, date, int]] = []
    for rows in parts:
        column = rows.column
        also = "" if kept is None else f"version_id IN ({in_list(len(kept))})"
        # Tuples: all time by month is ~10,000 rows at the full scale.
        found += [
            (version_id, as_day(day), total)
            for version_id, day, total in rows.read(
                f"version_id, {column}, SUM(n)",
                also=also,
                group=f"version_id, {column}",
                extra=() if kept is None else tuple(kept),
            )
        ]
    return found


def _period_totals(parts: list[SummaryRows]) -> list[tuple[date, int]]:
    """(day or first day of a month, completions of every version) of the rows
    ``parts``, summed by the database: a row per day or month."""
    found: list[tuple[date, int]] = []
    for rows in parts:
        column = rows.column
        found += [
            (as_day(day), total) for day, total in rows.read(f"{column}, SUM(n)", group=str(column))
        ]
    return found


def _version_totals(parts: list[SummaryRows]) -> dict[int, int]:
    """Each version's completions in the rows ``parts``, summed by the database."""
    totals: dict[int, int] = defaultdict(int)
    for rows in parts:
        for version_id, total in rows.read("version_id, SUM(n)", group="version_id"):
            totals[version_id] += total
    return totals


def _most(totals: dict[int, int], top: int) -> list[int]:
    """The ``top`` versions of ``totals`` with the most completions; among equal totals
    the first in the chart's order (package name, package, version number), as the
    chart ranks its series."""
    ranked = sorted(totals.values(), reverse=True)
    least = ranked[top - 1]
    sure = [v for v, total in totals.items() if total > least]
    tied = [v for v, total in totals.items() if total == least]
    if len(sure) + len(tied) > top:
        tied = list(
            PackageVersion.objects.filter(pk__in=tied)
            .order_by("package__name", "package_id", "version_number")
            .values_list("pk", flat=True)[: top - len(sure)]
        )
    return sure + tied


def course_counts(
    filters: ReportFilters | None = None, course_ids: list[int] | None = None
) -> CourseCounts:
    """Return the all-time counts of ``course_ids`` (None: every course): for the
    learners with an open enrollment in the filters' version, else package, from one
    summary row per (version or package, course); with neither, of everyone, from one
    row per course."""
    model: type[Model] = CourseCount
    where, params = "", []
    if filters is not None and filters.version_id is not None:
        model, where, params = VersionCourseCount, " WHERE version_id = %s", [filters.version_id]
    elif filters is not None and filters.package_id is not None:
        model, where, params = PackageCourseCount, " WHERE package_id = %s", [filters.package_id]
    if course_ids is not None:
        if not course_ids:
            return {}
        where += f"{' AND' if where else ' WHERE'} course_id IN ({in_list(len(course_ids))})"
        params += course_ids
    sql = _COURSE_COUNTS_SQL.format(table=model._meta.db_table, where=where)
    return {
        course_id: (learners, failed, voided)
        for course_id, learners, failed, voided in read_rows(model, sql, params)
    }


# A scope's course rows (ADR 0032), written once (ADR 0036 amended: compiling the
# queryset took ~1 ms of a package's report page).
_COURSE_COUNTS_SQL = "SELECT course_id, learners, failed, voided FROM {table}{where}"


def listed_learners() -> QuerySet[Any]:
    """Return the learners with any enrollment, as users: a probe of one summary row per
    learner, by the usernames' index (the queryset ``exact.learner_rows`` runs as SQL
    written once when given no learners)."""
    counted = LearnerCount.objects.filter(learner_id=OuterRef("pk"), n__gt=0)
    return get_user_model().objects.filter(Exists(counted))


def learner_count() -> int:
    """Return how many learners have any enrollment: one summary row per learner."""
    ((found,),) = SummaryRows(LearnerCount, ReportFilters()).read("COUNT(*)")
    return int(found)
