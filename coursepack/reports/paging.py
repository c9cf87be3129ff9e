"""Summary reads for one page of a report table (issue 19, ADR 0027 amended).

``reports.summary_reads`` answers a whole table; a page shows a few dozen rows of it
and the totals of all of them, so it reads here only the page's rows, and the totals
added up by the database: what it reads is proportional to what it shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import connection, connections, router
from django.db.models import Model, Q, Sum

from coursepack.learning.models import (
    CompletionDayCount,
    CompletionEvent,
    CourseCount,
    CourseDayCount,
    EnrollmentDayCount,
    EnrollmentState,
    EventKind,
    VersionCount,
)
from coursepack.packaging.models import PackageVersion
from coursepack.reports.exact import CourseCounts, course_aggregates
from coursepack.reports.rows import StatusCounts
from coursepack.reports.scope import (
    ReportFilters,
    days_between,
    in_range,
    range_sql,
    summary_scope,
    whole_days,
)
from coursepack.reports.summary_reads import SummaryRows, in_list, read_rows, status_counts

__all__ = ["course_counts_in_range", "course_counts_of", "package_counts_of", "total_counts"]

# The key of the totals in ``_fold``: every version together.
_ALL = 0


def package_counts_of(
    filters: ReportFilters, package_ids: list[int], first: date | None, stop: date | None
) -> dict[int, StatusCounts]:
    """Return ``summary_reads.package_counts`` for the versions of ``package_ids`` only:
    their summary rows, by the index that starts with the package (no range) or, over a
    range, by each version's key."""
    if not package_ids:
        return {}
    if first is None and stop is None:
        every = SummaryRows(VersionCount, filters).read(
            "version_id, state, status, completed, n",
            also=f"package_id IN ({in_list(len(package_ids))})",
            extra=tuple(package_ids),
        )
        return _fold(every, [])
    # By the packages' versions, not by ``package_id``: each version's days in the range
    # are one range of the unique key (version, day, ...), where the index on (package,
    # version) reads every day of the packages to keep the range's (ADR 0036 amended:
    # 4 ms instead of 13 ms for a year of 20 packages at the full scale).
    versions = PackageVersion.objects.filter(package_id__in=package_ids).values("pk")
    begun = (
        summary_scope(EnrollmentDayCount.objects.all(), filters)
        .filter(days_between("day", first, stop), version_id__in=versions)
        .values_list("version_id", "state", "status")
        .annotate(total=Sum("n"))
    )
    completed = (
        summary_scope(CompletionDayCount.objects.all(), filters)
        .filter(days_between("day", first, stop), package_id__in=package_ids)
        .values_list("version_id")
        .annotate(total=Sum("n"))
    )
    return _fold(((v, state, status, False, n) for v, state, status, n in begun), completed)


def total_counts(filters: ReportFilters, first: date | None, stop: date | None) -> StatusCounts:
    """Return the counts of every version in scope added up (what ``overall`` adds up
    from ``summary_reads.package_counts``), summed by the database: a few rows."""
    if first is None and stop is None:
        every = SummaryRows(VersionCount, filters).read(
            "state, status, completed, SUM(n)", group="state, status, completed"
        )
        found = _fold(((_ALL, state, status, done, n) for state, status, done, n in every), [])
        return found.get(_ALL, StatusCounts())
    begun = (
        summary_scope(EnrollmentDayCount.objects.all(), filters)
        .filter(days_between("day", first, stop))
        .values_list("state", "status")
        .annotate(total=Sum("n"))
    )
    completed = (
        summary_scope(CompletionDayCount.objects.all(), filters)
        .filter(days_between("day", first, stop))
        .aggregate(total=Sum("n"))["total"]
    )
    found = _fold(
        ((_ALL, state, status, False, n) for state, status, n in begun),
        [(_ALL, completed)] if completed else [],
    )
    return found.get(_ALL, StatusCounts())


def _fold(
    rows: Iterable[tuple[int, str, str, bool, int]], completed: Iterable[tuple[int, int]]
) -> dict[int, StatusCounts]:
    """Add up summary rows (key, state, status, completed or not, n) and completions
    in the range (key, n) into counts per key, as ``summary_reads.package_counts``
    does: ``completed`` of a row counts "completed in range" when there is no range."""
    found: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, state, status, done, n in rows:
        counts = found[key]
        if state == EnrollmentState.OPEN:
            counts["enrolled"] += n
            counts[status] += n
            if done:
                counts["completed_in_range"] += n
        elif state == EnrollmentState.WITHDRAWN:
            counts["withdrawn"] += n
    for key, n in completed:
        found[key]["completed_in_range"] += n
    return status_counts(found)


def course_counts_of(course_ids: list[int]) -> CourseCounts:
    """Return the all-time counts of ``course_ids``, from their summary rows (one each)."""
    if not course_ids:
        return {}
    sql = _COURSE_COUNTS_SQL.format(courses=in_list(len(course_ids)))
    return {
        course_id: (learners, failed, voided)
        for course_id, learners, failed, voided in read_rows(CourseCount, sql, course_ids)
    }


# The page's courses' summary rows, written once (ADR 0035; ADR 0036 amended).
_COURSE_COUNTS_SQL = (
    "SELECT course_id, learners, failed, voided FROM learning_coursecount "
    "WHERE course_id IN ({courses})"
)


def course_counts_in_range(filters: ReportFilters, course_ids: list[int]) -> CourseCounts:
    """Return ``exact.course_counts(filters, None)`` for ``course_ids`` only: the
    learners who completed, failed attempts and voided events of those courses' events
    in the range (of the viewer's people), as known now. Over whole UTC days of
    everyone's events, two reads of the courses' summary rows (ADR 0040); else one query
    over the page's courses' events (a course's counts depend on its own events alone)."""
    if filters.on_timeline:
        raise ValueError("on a timeline, count with exact.course_counts")
    if not course_ids:
        return {}
    days = whole_days(filters)  # None for a manager's people, or a range cut in a day
    if days is not None:
        return _course_counts_of_days(course_ids, *days)
    if filters.learners is None and _engine_of(CompletionEvent) == "postgresql":
        return _course_counts_in_range_sql(filters, course_ids)
    events = CompletionEvent.objects.exclude(kind=EventKind.VOID).filter(
        in_range("occurred_at", filters), course_id__in=course_ids
    )
    if filters.learners is not None:
        events = events.filter(learner_id__in=filters.learners.values("pk"))
    return course_aggregates(events, _voided())


# ``_course_counts_of_days`` in one statement, so that the day rows and the pairs are
# read at one moment: read apart, a completion committed between the two reads would
# count its pair and not itself.
_COURSE_DAYS_SQL = (
    "SELECT course_id, SUM(completions), SUM(failed), SUM(voided), 0 "
    "FROM learning_coursedaycount WHERE course_id IN ({courses}){days} GROUP BY course_id "
    "UNION ALL SELECT course_id, 0, 0, 0, SUM(n) "
    "FROM learning_courserepeatcount WHERE course_id IN ({courses}){pairs} GROUP BY course_id"
)


def _course_counts_of_days(
    course_ids: list[int], first: date | None, stop: date | None
) -> CourseCounts:
    """``course_counts_in_range`` over whole UTC days ``[first, stop)``, from the summary
    rows (ADR 0040): the completions, failed attempts and voided events of each course
    by day, less the pairs of one learner's consecutive completions both in the range
    (a learner with k completions in it has k - 1 such pairs, and counts once)."""
    ops = connections[router.db_for_read(CourseDayCount)].ops
    days, pairs, on_days, on_pairs = "", "", [], []
    if first is not None:
        days, pairs = days + " AND day >= %s", pairs + " AND previous_day >= %s"
        on_days.append(ops.adapt_datefield_value(first))
        on_pairs.append(ops.adapt_datefield_value(first))
    if stop is not None:
        days, pairs = days + " AND day < %s", pairs + " AND day < %s"
        on_days.append(ops.adapt_datefield_value(stop))
        on_pairs.append(ops.adapt_datefield_value(stop))
    courses = in_list(len(course_ids))
    sql = _COURSE_DAYS_SQL.format(courses=courses, days=days, pairs=pairs)
    found: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    params = [*course_ids, *on_days, *course_ids, *on_pairs]
    for course_id, *counts in read_rows(CourseDayCount, sql, params):
        totals = found[course_id]
        for i, n in enumerate(counts):
            totals[i] += int(n or 0)
    return {
        course_id: (completions - repeats, failed, voided)
        for course_id, (completions, failed, voided, repeats) in found.items()
    }


def _engine_of(model: type[Model]) -> str:
    """The vendor of the database the router reads ``model`` from."""
    return connections[router.db_for_read(model)].vendor


def _voided() -> Q:
    """The condition that an event is voided (another event voids it), in the form each
    engine reads fastest for a range's events. PostgreSQL merged the range's events with
    the voids' unique index (107 ms for the course table over a year at the full scale);
    as membership of the voids' targets it hashes them once (~50,000 voids: 54 ms).
    SQLite probes that index per event faster (52 ms, against 97 ms as membership)."""
    if connection.vendor == "postgresql":
        return Q(pk__in=CompletionEvent.objects.filter(voids__isnull=False).values("voids_id"))
    return Q(voided_by__isnull=False)


# ``course_aggregates`` of the page's courses' events in a range, on PostgreSQL, written
# once (ADR 0036, amended): each event's "voided" is decided once, in a materialised
# step, where the queryset's three aggregates each test membership of the ~50,000 voids'
# targets (a hashed subplan apiece: 164 ms for the course table over a year at the full
# scale, against 107 ms this way).
_COURSE_COUNTS_IN_RANGE_SQL = (
    "WITH r AS MATERIALIZED (SELECT e.course_id, e.learner_id, e.kind, "
    "e.id IN (SELECT v.voids_id FROM learning_completionevent v "
    "WHERE v.voids_id IS NOT NULL) AS voided "
    "FROM learning_completionevent e "
    "WHERE e.kind <> %s AND e.course_id IN ({courses}){range}) "
    "SELECT course_id, "
    "COUNT(DISTINCT learner_id) FILTER (WHERE NOT voided AND kind IN (%s, %s)), "
    "COUNT(*) FILTER (WHERE NOT voided AND kind = %s), "
    "COUNT(*) FILTER (WHERE voided) "
    "FROM r GROUP BY course_id"
)


def _course_counts_in_range_sql(filters: ReportFilters, course_ids: list[int]) -> CourseCounts:
    """``course_counts_in_range`` of everyone's events, as SQL written once."""
    bounds, moments = range_sql("e.occurred_at", filters)
    params: list[Any] = [
        EventKind.VOID.value,
        *course_ids,
        *moments,
        EventKind.COMPLETED.value,
        EventKind.PASSED.value,
        EventKind.FAILED.value,
    ]
    sql = _COURSE_COUNTS_IN_RANGE_SQL.format(courses=in_list(len(course_ids)), range=bounds)
    return {
        course_id: (learners, failed, voided)
        for course_id, learners, failed, voided in read_rows(CompletionEvent, sql, params)
    }
