"""Exact report aggregates: counted from the enrollments and events themselves.

What the summary rows (``reports.summary_reads``) cannot answer is counted here: a
range not on whole UTC days, distinct learners over a range or a package, and every
report on a past timeline (worked out from the events as the transcripts show them).
Every function but the timeline ones runs a fixed number of ``GROUP BY`` queries
whatever the number of rows; the timeline ones read every enrollment in scope.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet
from django.db.models.functions import Trunc
from django.utils import timezone

from coursepack import statements
from coursepack.learning.models import CompletionEvent, Enrollment, EnrollmentStatus, EventKind
from coursepack.reports.rows import (
    MAX_PERIODS,
    NO_PERIODS,
    Bucket,
    LearnerRow,
    PeriodCounts,
    StatusCounts,
    bucket_for,
    period_start,
    periods_between,
)
from coursepack.reports.scope import (
    OPEN,
    ROW,
    Answer,
    ReportFilters,
    answers,
    chosen_sql,
    enrollments_in_scope,
    in_range,
    kept,
    kept_course_events,
    range_sql,
    within,
)

__all__ = [
    "CHUNK",
    "COURSES_PER_READ",
    "FEW_IN_RANGE",
    "CourseCounts",
    "ProbedLearners",
    "course_aggregates",
    "course_counts",
    "course_counts_in_steps",
    "learner_count",
    "learner_count_queryset",
    "learner_rows",
    "listed_learners",
    "listed_learners_queryset",
    "package_counts",
    "period_counts",
    "timeline_learner_rows",
    "timeline_package_counts",
    "timeline_period_counts",
]

# course id -> (learners completed, failed attempts, events voided)
CourseCounts = dict[int, tuple[int, int, int]]


# --- per package and per version ------------------------------------------------


def package_counts(filters: ReportFilters) -> dict[int, StatusCounts]:
    """Return ``package_report``'s counts per version from the enrollments (one query)."""
    enrolled = in_range("enrolled_at", filters)
    open_enrolled = OPEN & enrolled
    rows = (
        enrollments_in_scope(filters)
        .values("version_id")
        .annotate(
            enrolled=Count(ROW, filter=open_enrolled),
            withdrawn=Count(ROW, filter=Q(withdrawn_at__isnull=False) & enrolled),
            not_started=Count(ROW, filter=open_enrolled & Q(status=EnrollmentStatus.NOT_STARTED)),
            in_progress=Count(ROW, filter=open_enrolled & Q(status=EnrollmentStatus.IN_PROGRESS)),
            completed=Count(ROW, filter=open_enrolled & Q(status=EnrollmentStatus.COMPLETED)),
            completed_in_range=Count(
                ROW,
                filter=OPEN & Q(completed_at__isnull=False) & in_range("completed_at", filters),
            ),
        )
        .order_by()
    )
    return {
        row["version_id"]: StatusCounts(
            enrolled=row["enrolled"],
            withdrawn=row["withdrawn"],
            not_started=row["not_started"],
            in_progress=row["in_progress"],
            completed=row["completed"],
            completed_in_range=row["completed_in_range"],
        )
        for row in rows
    }


def _timeline_counts(entries: Iterable[Answer], filters: ReportFilters) -> StatusCounts:
    """Count enrollments as ``package_counts`` does, from transcript rows."""
    counts = {"enrolled": 0, "withdrawn": 0, "completed_in_range": 0}
    by_status: dict[str, int] = defaultdict(int)
    for e in entries:
        is_open = e.withdrawn_at is None
        if within(e.enrolled_at, filters):
            if is_open:
                counts["enrolled"] += 1
                by_status[str(e.progress_status)] += 1
            else:
                counts["withdrawn"] += 1
        if is_open and within(e.completed_at, filters):
            counts["completed_in_range"] += 1
    return StatusCounts(
        not_started=by_status[EnrollmentStatus.NOT_STARTED],
        in_progress=by_status[EnrollmentStatus.IN_PROGRESS],
        completed=by_status[EnrollmentStatus.COMPLETED],
        **counts,
    )


def timeline_package_counts(filters: ReportFilters, now: datetime) -> dict[int, StatusCounts]:
    """Return the same counts on the filters' timeline, as the transcripts show the
    enrollments (under the version each was on then)."""
    by_version: dict[int, list[Answer]] = defaultdict(list)
    for _, entry in answers(filters, now):
        by_version[entry.version_id].append(entry)
    return {v: _timeline_counts(rows, filters) for v, rows in by_version.items()}


# --- per course --------------------------------------------------------------------


def course_counts(
    filters: ReportFilters, course_ids: list[int] | None, *, among: list[int] | None = None
) -> CourseCounts:
    """Return, per course with events in scope, the learners who completed it, failed
    attempts and voided events, counted from the events (one query).

    ``course_ids`` (None: every course) narrows the events to those courses and to the
    learners with an open enrollment in the chosen package / version; ``among`` narrows
    the events to those courses only (a part of every course's count). On a timeline,
    only events recorded by ``known_at`` that occurred by ``as_of`` count, voided means
    voided by a void recorded by ``known_at``, and the learners are those with an
    enrollment open then.

    On a timeline whose answers were worked out within ``answers_kept()``, a chosen
    package's courses are counted from the events their batches read (the same events,
    known at the same moment), not read again.
    """
    if filters.on_timeline and course_ids is not None and among is None:
        seen = kept_course_events(filters)
        if seen is not None and seen.courses is not None and seen.courses.issuperset(course_ids):
            return seen.counts(course_ids, filters.start, filters.end)
    events = CompletionEvent.objects.exclude(kind=EventKind.VOID).filter(
        in_range("occurred_at", filters)
    )
    voided = Q(voided_by__isnull=False)
    scope = enrollments_in_scope(filters).filter(OPEN)
    if filters.on_timeline:
        as_of, known_at = filters.moments(timezone.now())
        events = events.filter(recorded_at__lte=known_at, occurred_at__lte=as_of)
        # An event has at most one void (``voids`` is one-to-one): joined once, where
        # a probe for it was written into each of the three counts.
        voided = Q(voided_by__isnull=False, voided_by__recorded_at__lte=known_at)
        cutoff = min(as_of, known_at)
        scope = enrollments_in_scope(replace(filters, version_id=None)).filter(
            Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gt=cutoff),
            Q(superseded_at__isnull=True) | Q(superseded_at__gt=cutoff),
            enrolled_at__lte=cutoff,
        )
    if course_ids is not None:
        events = events.filter(
            course_id__in=course_ids,
            learner_id__in=scope.values("learner_id"),
        )
    elif filters.learners is not None:
        events = events.filter(learner_id__in=filters.learners.values("pk"))
    if among is not None:
        events = events.filter(course_id__in=among)
    return course_aggregates(events, voided)


#: How many courses each read of ``course_counts_in_steps`` counts on SQLite. There, the
#: whole organisation's course table on a timeline at the full scale took 40 s in one
#: statement and 34 s in reads of 100 courses (1.4 s each); on PostgreSQL one statement
#: took 7 s, reads of 100 courses 15 s (docs/benchmarks.md).
COURSES_PER_READ = 100


def course_counts_in_steps(
    filters: ReportFilters, courses: list[int], done: Callable[[int], None]
) -> CourseCounts:
    """Return ``course_counts(filters, None)`` of ``courses``, calling ``done(n)`` as each
    ``n`` of them is counted: an export job's progress over every course on a timeline.
    On SQLite the events are read ``COURSES_PER_READ`` courses at a time (faster than
    one statement there, and the job's progress moves); on PostgreSQL in one statement,
    which it runs twice as fast as reads by course (and may hold counts of courses not
    in ``courses``, as ``course_counts`` does)."""
    if connections[router.db_for_read(CompletionEvent)].vendor != "sqlite":
        counts = course_counts(filters, None)
        done(len(courses))
        return counts
    counts = {}
    for start in range(0, len(courses), COURSES_PER_READ):
        chunk = courses[start : start + COURSES_PER_READ]
        counts.update(course_counts(filters, None, among=chunk))
        done(len(chunk))
    return counts


def course_aggregates(events: QuerySet[CompletionEvent], voided: Q) -> CourseCounts:
    """Return per course of ``events`` the learners who completed it, failed attempts
    and voided events (``voided``: the condition an event is voided by), in one query."""
    counted = ~voided
    rows = (
        events.values("course_id")
        .annotate(
            learners_completed=Count(
                "learner_id",
                distinct=True,
                filter=counted & Q(kind__in=[EventKind.COMPLETED, EventKind.PASSED]),
            ),
            failed_attempts=Count("id", filter=counted & Q(kind=EventKind.FAILED)),
            events_voided=Count("id", filter=voided),
        )
        .order_by()
    )
    return {
        row["course_id"]: (
            row["learners_completed"],
            row["failed_attempts"],
            row["events_voided"],
        )
        for row in rows
    }


# --- per learner ---------------------------------------------------------------------


def _learner_scope(filters: ReportFilters) -> QuerySet[Enrollment]:
    return enrollments_in_scope(filters).filter(in_range("enrolled_at", filters))


#: Below this many enrollments begun in a range, its learners are read from them (by the
#: index ``enrollment_enrolled_learner``) rather than by walking every username.
FEW_IN_RANGE = 5000


def listed_learners_queryset(filters: ReportFilters) -> QuerySet[Any]:
    """Return the learners with an enrollment in scope (begun in the range), as users
    by username: found by walking the usernames' index and probing each learner's
    enrollments, so a page costs its learners, not every enrollment.

    A range with few enrollments begun in it (fewer than :data:`FEW_IN_RANGE`,
    counted from the index on ``enrolled_at`` up to that many) would make the walk read
    every username to find them: its learners are taken from those enrollments instead.
    """
    scope = _learner_scope(filters)
    if _few_in_range(filters):
        return get_user_model().objects.filter(pk__in=scope.values("learner_id"))
    mine = scope.filter(learner_id=OuterRef("pk"))
    return get_user_model().objects.filter(Exists(mine))


def _few_in_range(filters: ReportFilters) -> bool:
    """Whether the filters have a range with fewer than :data:`FEW_IN_RANGE`
    enrollments begun in it (counted up to that many)."""
    if filters.start is None and filters.end is None:
        return False
    return _learner_scope(filters).order_by()[:FEW_IN_RANGE].count() < FEW_IN_RANGE


@dataclass(frozen=True)
class ProbedLearners:
    """The learners of ``listed_learners_queryset`` by its usernames' walk, as SQL
    written once: ``scope`` is the conditions on their enrollments (``c``) after the
    learner's, ``params`` its parameters."""

    scope: str
    params: list[Any]


def listed_learners(filters: ReportFilters) -> QuerySet[Any] | ProbedLearners:
    """Return :func:`listed_learners_queryset`'s learners: as SQL written once
    (ADR 0036 amended: compiling the queryset took ~1 ms of a report page) when they
    are found by the usernames' walk and the filters name no manager's people, else
    as the queryset."""
    if filters.learners is not None or _few_in_range(filters):
        return listed_learners_queryset(filters)
    db = connections[router.db_for_read(Enrollment)]
    chosen, ids = chosen_sql(filters, "c.package_id", "c.version_id")
    bounds, moments = range_sql("c.enrolled_at", filters, db.ops.adapt_datetimefield_value)
    return ProbedLearners(scope=chosen + bounds, params=[*ids, *moments])


#: Learners read per query when :func:`learner_rows` streams every one (the exports).
CHUNK = 2000


# Learners by username with a row of theirs in ``rows`` (``c``, the learner ``c.learner``
# = u.id), meeting ``scope``: a page of them, or the next chunk after a username, written
# once (ADR 0035; ADR 0036 amended). Those with any enrollment (a summary row each, ADR
# 0027) are ``summary_reads.listed_learners`` ordered by username; those with an
# enrollment in a report's scope ``listed_learners_queryset``'s walk of the usernames.
_LEARNERS_SQL = (
    "SELECT u.id, u.username, u.first_name, u.last_name FROM auth_user u "
    "WHERE {after}EXISTS(SELECT 1 FROM {rows} WHERE c.learner_id = u.id{scope}) "
    "ORDER BY u.username ASC LIMIT %s OFFSET %s"
)
_AFTER_SQL = "u.username > %s AND "
_COUNTED_SQL = "learning_learnercount c", " AND c.n > 0"
_ENROLLED_SQL = "learning_enrollment c", ""


def _learners_page(
    probed: ProbedLearners | None, after: str | None, offset: int, size: int
) -> list[tuple[Any, ...]]:
    """(id, username, first name, last name) of ``size`` learners by username, from
    ``offset`` or after the username ``after``: those with any enrollment (``probed``
    None), or those ``probed`` finds."""
    user = get_user_model()
    using = router.db_for_read(user)
    if probed is None:
        rows, scope = _COUNTED_SQL
        params: list[Any] = []
    else:
        rows, scope = _ENROLLED_SQL[0], probed.scope
        params = list(probed.params)
    key = (probed is None, scope, after is None)
    sql = _learners_texts.get(key)
    if sql is None:
        sql = _learners_texts[key] = _LEARNERS_SQL.format(
            after="" if after is None else _AFTER_SQL, rows=rows, scope=scope
        )
    params = [*([] if after is None else [after]), *params, size, offset]
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


_learners_texts: dict[tuple[bool, str, bool], str] = {}


def learner_rows(
    filters: ReportFilters,
    listed: QuerySet[Any] | ProbedLearners | None,
    *,
    offset: int = 0,
    limit: int | None = None,
) -> Iterator[LearnerRow]:
    """Yield ``learner_rows``'s rows for the ``listed`` learners (users, or found as SQL
    written once; None: those with any enrollment, from their summary rows, as SQL
    written once), by username:
    each chunk of learners, then their enrollments in scope counted by learner.

    Two queries per page; without a limit, two per :data:`CHUNK` learners, each chunk
    after the first found from the last username (not an offset), so the whole list
    streams in constant memory.
    """
    users = None
    probed = listed if isinstance(listed, ProbedLearners) else None
    if isinstance(listed, QuerySet):
        users = listed.order_by("username").values_list("pk", "username", "first_name", "last_name")
    after: str | None = None
    left = limit
    while left is None or left > 0:
        size = CHUNK if left is None else min(CHUNK, left)
        chunk: list[tuple[Any, ...]]
        if users is None:
            chunk = _learners_page(probed, after, offset if after is None else 0, size)
        elif after is None:
            chunk = list(users[offset : offset + size])
        else:
            chunk = list(users.filter(username__gt=after)[:size])
        if not chunk:
            return
        counts = learner_counts(filters, [pk for pk, *_ in chunk])
        for pk, username, first_name, last_name in chunk:
            row = counts.get(pk)
            if row is None:  # its enrollments deleted between the two queries
                continue
            enrollments, withdrawn, not_started, in_progress, completed, last = row
            yield LearnerRow(
                learner_id=pk,
                username=username,
                full_name=f"{first_name} {last_name}".strip(),
                enrollments=enrollments,
                withdrawn=withdrawn,
                not_started=not_started,
                in_progress=in_progress,
                completed=completed,
                last_completed_at=last,
            )
        if len(chunk) < size:
            return
        after = chunk[-1][1]
        if left is not None:
            left -= size


# (enrollments, withdrawn, not started, in progress, completed, last completed at)
LearnerCounts = tuple[int, int, int, int, int, datetime | None]


def learner_counts_queryset(filters: ReportFilters, learner_ids: list[int]) -> QuerySet[Any]:
    """The learners' enrollments in scope counted by learner, as a queryset (what
    :func:`learner_counts` runs as SQL written once where it can)."""
    return (
        _learner_scope(filters)
        .filter(learner_id__in=learner_ids)
        .values_list("learner_id")
        .annotate(
            enrollments=Count(ROW, filter=OPEN),
            withdrawn=Count(ROW, filter=Q(withdrawn_at__isnull=False)),
            not_started=Count(ROW, filter=OPEN & Q(status=EnrollmentStatus.NOT_STARTED)),
            in_progress=Count(ROW, filter=OPEN & Q(status=EnrollmentStatus.IN_PROGRESS)),
            completed=Count(ROW, filter=OPEN & Q(status=EnrollmentStatus.COMPLETED)),
            last_completed_at=Max("completed_at", filter=OPEN),
        )
        .order_by()
    )


# The counts of a page of learners, written once (ADR 0035's hot statements; ADR 0036
# amended: compiling the queryset took ~2 ms of a report page, its SQL ~0.3 ms). The
# same aggregates as ``learner_counts_queryset``, over the same columns (those of the
# covering index ``enrollment_report_counts`` and the learner), portable as CASE.
_OPEN_SQL = "e.withdrawn_at IS NULL AND e.superseded_at IS NULL"
_LEARNER_COUNTS_SQL = (
    "SELECT e.learner_id, "
    f"COUNT(CASE WHEN {_OPEN_SQL} THEN e.version_id END), "
    "COUNT(CASE WHEN e.withdrawn_at IS NOT NULL THEN e.version_id END), "
    f"COUNT(CASE WHEN {_OPEN_SQL} AND e.status = %s THEN e.version_id END), "
    f"COUNT(CASE WHEN {_OPEN_SQL} AND e.status = %s THEN e.version_id END), "
    f"COUNT(CASE WHEN {_OPEN_SQL} AND e.status = %s THEN e.version_id END), "
    f"MAX(CASE WHEN {_OPEN_SQL} THEN e.completed_at END) "
    "FROM learning_enrollment e WHERE e.learner_id IN ({learners}){scope} "
    "GROUP BY e.learner_id"
)


def learner_counts(filters: ReportFilters, learner_ids: list[int]) -> dict[int, LearnerCounts]:
    """Return the enrollments in scope of ``learner_ids`` counted by learner (learners
    with none are left out): one query, SQL written once unless the filters name a
    manager's people (then the queryset, ``learner_counts_queryset``)."""
    if not learner_ids:
        return {}
    if filters.learners is not None:
        return {row[0]: row[1:] for row in learner_counts_queryset(filters, learner_ids)}
    # The database the router picks for enrollments (a replica's, where the view reads
    # from one), as the queryset would.
    db = connections[router.db_for_read(Enrollment)]
    chosen, ids = chosen_sql(filters, "e.package_id", "e.version_id")
    bounds, moments = range_sql("e.enrolled_at", filters, db.ops.adapt_datetimefield_value)
    params: list[Any] = [
        EnrollmentStatus.NOT_STARTED.value,
        EnrollmentStatus.IN_PROGRESS.value,
        EnrollmentStatus.COMPLETED.value,
        *learner_ids,
        *ids,
        *moments,
    ]
    sql = _LEARNER_COUNTS_SQL.format(
        learners=", ".join(["%s"] * len(learner_ids)), scope=chosen + bounds
    )
    completed_at = statements.columns(Enrollment, ["completed_at"])
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        learner_id: (*counts, statements.from_row(completed_at, [last])[0])
        for learner_id, *counts, last in rows
    }


def learner_count_queryset(filters: ReportFilters) -> QuerySet[Any]:
    """The learners with an enrollment in scope, without repeats, as a queryset (what
    :func:`learner_count` counts with SQL written once where it can)."""
    return _learner_scope(filters).values("learner_id").distinct()


# How many learners have an enrollment in scope, written once (ADR 0036 amended:
# compiling the queryset's count took ~1.5 ms of a package's report page). The same
# statement the queryset's count runs: its distinct learners, counted.
_LEARNER_COUNT_SQL = (
    "SELECT COUNT(*) FROM (SELECT DISTINCT e.learner_id FROM learning_enrollment e{where}) d"
)


def learner_count(filters: ReportFilters) -> int:
    """Return how many learners have an enrollment in scope (one query; with a package
    or version and no range, from the index ``enrollment_package_learner`` alone), SQL
    written once unless the filters name a manager's people (then the queryset)."""
    if filters.learners is not None:
        return learner_count_queryset(filters).count()
    db = connections[router.db_for_read(Enrollment)]
    chosen, ids = chosen_sql(filters, "e.package_id", "e.version_id")
    bounds, moments = range_sql("e.enrolled_at", filters, db.ops.adapt_datetimefield_value)
    conditions = (chosen + bounds).removeprefix(" AND ")
    sql = _LEARNER_COUNT_SQL.format(where=f" WHERE {conditions}" if conditions else "")
    with db.cursor() as cursor:
        cursor.execute(sql, [*ids, *moments])
        (count,) = cursor.fetchone()
    return int(count)


def timeline_learner_rows(filters: ReportFilters) -> list[LearnerRow]:
    """Return every learner's row on the filters' timeline, by username (made once per
    page: its count and its page of rows read the same)."""
    return kept("timeline learner rows", filters, lambda: _timeline_learner_rows(filters))


def _timeline_learner_rows(filters: ReportFilters) -> list[LearnerRow]:
    by_learner: dict[int, list[Answer]] = defaultdict(list)
    for learner_id, entry in answers(filters, timezone.now()):
        if within(entry.enrolled_at, filters):
            by_learner[learner_id].append(entry)
    names = {
        pk: (username, f"{first} {last}".strip())
        for pk, username, first, last in get_user_model()
        .objects.filter(statements.ids_in("pk", by_learner))
        .values_list("pk", "username", "first_name", "last_name")
    }
    rows = []
    for learner_id, entries in by_learner.items():
        username, full_name = names[learner_id]
        open_ones = [e for e in entries if e.withdrawn_at is None]
        statuses = [str(e.progress_status) for e in open_ones]
        completed = [e.completed_at for e in open_ones if e.completed_at is not None]
        rows.append(
            LearnerRow(
                learner_id=learner_id,
                username=username,
                full_name=full_name,
                enrollments=len(open_ones),
                withdrawn=len(entries) - len(open_ones),
                not_started=statuses.count(EnrollmentStatus.NOT_STARTED),
                in_progress=statuses.count(EnrollmentStatus.IN_PROGRESS),
                completed=statuses.count(EnrollmentStatus.COMPLETED),
                last_completed_at=max(completed, default=None),
            )
        )
    rows.sort(key=lambda r: (r.username, r.learner_id))
    return rows


# --- completions over time ------------------------------------------------------------


def _chart_periods(
    filters: ReportFilters, data_first: datetime, data_last: datetime, zone: tzinfo
) -> tuple[list[date], Bucket]:
    """The chart's periods: the range's, its open ends closed by the first or last
    completion, or the span of the data when the range has too many."""
    first: datetime = filters.start or data_first
    last: datetime = data_last if filters.end is None else filters.end - timedelta(microseconds=1)
    bucket = bucket_for(last - first)
    periods = periods_between(
        timezone.localtime(first, zone).date(), timezone.localtime(last, zone).date(), bucket
    )
    if len(periods) > MAX_PERIODS:
        # An absurdly wide range: chart the span of the data instead.
        bucket = bucket_for(data_last - data_first)
        periods = periods_between(
            timezone.localtime(data_first, zone).date(),
            timezone.localtime(data_last, zone).date(),
            bucket,
        )
    return periods, bucket


def period_counts(filters: ReportFilters, zone: tzinfo) -> PeriodCounts:
    """Return the completions of open enrollments per version and period, from the
    enrollments' ``completed_at`` in ``zone`` (two queries)."""
    completed = (
        enrollments_in_scope(filters)
        .filter(OPEN, completed_at__isnull=False)
        .filter(in_range("completed_at", filters))
    )
    bounds = completed.aggregate(first=Min("completed_at"), last=Max("completed_at"))
    if bounds["first"] is None:
        return NO_PERIODS
    periods, bucket = _chart_periods(filters, bounds["first"], bounds["last"], zone)
    index = {day: i for i, day in enumerate(periods)}
    counts: dict[int, list[int]] = {}
    rows = (
        completed.annotate(period=Trunc("completed_at", bucket, tzinfo=zone))
        .values("version_id", "period")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        period: datetime | date = row["period"]
        day = timezone.localtime(period, zone).date() if isinstance(period, datetime) else period
        slot = index.get(day)
        if slot is not None:
            counts.setdefault(row["version_id"], [0] * len(periods))[slot] += row["n"]
    return PeriodCounts(counts, bucket, periods)


def timeline_period_counts(filters: ReportFilters, zone: tzinfo) -> PeriodCounts:
    """Return the same on the filters' timeline, as the transcripts show the completions."""
    moments: dict[int, list[datetime]] = defaultdict(list)
    for _, entry in answers(filters, timezone.now()):
        if entry.withdrawn_at is None and within(entry.completed_at, filters):
            assert entry.completed_at is not None
            moments[entry.version_id].append(entry.completed_at)
    every = [m for found in moments.values() for m in found]
    if not every:
        return NO_PERIODS
    periods, bucket = _chart_periods(filters, min(every), max(every), zone)
    index = {day: i for i, day in enumerate(periods)}
    counts: dict[int, list[int]] = {}
    for version_id, found in moments.items():
        for moment in found:
            slot = index.get(period_start(timezone.localtime(moment, zone).date(), bucket))
            if slot is not None:
                counts.setdefault(version_id, [0] * len(periods))[slot] += 1
    return PeriodCounts(counts, bucket, periods)
