"""Report reads: enrollment and completion counts, computed by the database.

The public face of the reports: every page, export and API call reads through the
functions here. Each runs a fixed number of queries whatever the number of
enrollments or events, and answers from the first of:

* the summary rows (``reports.summary_reads``, ADR 0027), kept by the write path's
  triggers, for "as of now, as known now" over whole UTC days or no bound;
* exact aggregates of the status cache and events (``reports.exact``): ``GROUP BY``
  queries, never a Python loop over enrollments, for what the summaries cannot say;
* on a past timeline (``ReportFilters.as_of`` / ``known_at``), the enrollments worked
  out from the events as the transcripts show them, so "completed in a range" agrees
  with the transcripts for the same timeline; that path reads every enrollment in scope.

Filters and their scoping are in ``reports.scope``; the row types in ``reports.rows``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections, router
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from coursepack import statements
from coursepack.catalog.models import Course
from coursepack.packaging import selectors as packaging
from coursepack.packaging.models import Package, PackageVersion, VersionStatus
from coursepack.reports import exact, paging, summary_reads
from coursepack.reports.exact import CourseCounts
from coursepack.reports.rows import (
    MAX_PERIODS,
    Bucket,
    CompletionSeries,
    CompletionsOverTime,
    CourseRow,
    LearnerRow,
    PackageRow,
    PeriodCounts,
    StatusCounts,
    VersionRow,
)
from coursepack.reports.scope import (
    FilterChoices,
    ReportFilters,
    chosen_sql,
    filter_choices,
    heard,
    make_filters,
    whole_days,
)

__all__ = [
    "MAX_PERIODS",
    "Bucket",
    "CompletionSeries",
    "CompletionsOverTime",
    "CoursePage",
    "CourseRow",
    "FilterChoices",
    "LearnerRow",
    "PackagePage",
    "PackageRow",
    "ReportFilters",
    "StatusCounts",
    "VersionRow",
    "completions_over_time",
    "course_page",
    "course_report",
    "course_steps",
    "filter_choices",
    "learner_count",
    "learner_rows",
    "make_filters",
    "overall",
    "package_choices",
    "package_report",
    "package_report_page",
    "version_choices",
]


# --- per package and per version ------------------------------------------------


def _active_version_ids(package_ids: list[int], now: datetime) -> set[int]:
    """The version in effect at ``now`` of each package, in one query, SQL written once
    (``_IN_EFFECT_SQL``; ADR 0036 amended: the queryset took ~2 ms of a version's
    report page to compile).

    The same rule as ``packaging.selectors.active_version``, for many packages.
    """
    if not package_ids:
        return set()
    db = connections[router.db_for_read(PackageVersion)]
    at = db.ops.adapt_datetimefield_value(now)
    sql = _IN_EFFECT_SQL.format(packages=summary_reads.in_list(len(package_ids)))
    active: dict[int, int] = {}
    with db.cursor() as cursor:
        cursor.execute(sql, [*package_ids, *(s.value for s in packaging.RELEASED), at, at])
        for package_id, version_id in cursor.fetchall():
            active.setdefault(package_id, version_id)
    return set(active.values())


# The released versions in effect at a moment, newest first per package: the queryset
# ``packaging.selectors.active_version`` filters by, for many packages.
_IN_EFFECT_SQL = (
    "SELECT v.package_id, v.id FROM packaging_packageversion v "
    "WHERE v.package_id IN ({packages}) AND v.status IN (%s, %s, %s) "
    "AND v.effective_from <= %s AND (v.archived_at IS NULL OR v.archived_at > %s) "
    "ORDER BY v.package_id ASC, v.version_number DESC"
)


def package_report(filters: ReportFilters, *, now: datetime | None = None) -> list[PackageRow]:
    """Return the enrollment counts of every package with a released version, per version.

    The time range applies to two things:

    * ``enrolled``, ``withdrawn``, ``not_started``, ``in_progress`` and
      ``completed`` count the enrollments whose ``enrolled_at`` is in the range
      (their status is the current one);
    * ``completed_in_range`` counts the open enrollments whose ``completed_at``
      is in the range, whenever they were enrolled ("how many completed in Q1?").

    Enrollments count under the version they are pinned to now (a learner moved
    at publish counts under the new version). Drafts are never listed: nobody is
    enrolled in one. Three queries; over whole UTC days (or no bound) they read the
    summary rows (a few per version and day, ADR 0027), else the enrollments.

    On a timeline (``filters.as_of`` / ``known_at``) the same counts are of the
    enrollments as the transcripts show them for those two times: on record then,
    under the version they were on then, withdrawn if withdrawn by then; version
    states are as of ``as_of``.
    """
    moment, counts = _version_counts(filters, now or timezone.now())
    return _package_rows(filters, moment, counts)


def _version_counts(
    filters: ReportFilters, now: datetime
) -> tuple[datetime, dict[int, StatusCounts]]:
    """Return the moment the version states are taken at, and the counts per version,
    from the summary rows where they answer, else exactly (see ``package_report``)."""
    if filters.on_timeline:
        as_of, _ = filters.moments(now)
        return as_of, exact.timeline_package_counts(filters, now)
    days = whole_days(filters)
    if days is not None:
        return now, summary_reads.package_counts(filters, *days)
    return now, exact.package_counts(filters)


@dataclass(frozen=True)
class PackagePage:
    """One page of ``package_report``, with what the page says of every package."""

    rows: list[PackageRow]
    # The counts of every package in scope added up (``overall`` of the whole report).
    totals: StatusCounts
    # How many packages the whole report lists.
    package_count: int
    # With a package or version chosen (one package, all of it on the page): the
    # released versions in scope, which the course table's courses come from.
    version_ids: list[int] | None = None


def package_report_page(
    filters: ReportFilters,
    *,
    offset: int,
    limit: int,
    now: datetime | None = None,
    choices: list[tuple[int, str]] | None = None,
) -> PackagePage:
    """Return the packages ``[offset, offset + limit)`` of :func:`package_report`, and
    the totals and number of packages of the whole report.

    The same numbers as ``package_report``; only the page's versions are loaded and
    their states worked out. Over whole UTC days (or no bound) only the page's summary
    rows are read, and the totals are summed by the database (``reports.paging``);
    otherwise every version's counts are counted as ``package_report`` does and the
    page's picked out.

    ``choices``: :func:`package_choices`, if the caller has read it: with no package
    or version chosen, the report lists exactly those packages, in that order.
    """
    now = now or timezone.now()
    one_package = filters.package_id is not None or filters.version_id is not None
    # One package at most: its released versions, read once, say whether it is listed.
    versions = _version_list(filters) if one_package else None
    if versions is not None:
        packages = list(dict.fromkeys(v[1] for v in versions))
    elif choices is not None:
        packages = [package_id for package_id, _ in choices]
    else:
        packages = _listed_packages(filters)
    shown = packages[offset : offset + limit]
    days = None if filters.on_timeline else whole_days(filters)
    if days is not None:
        counts = paging.package_counts_of(filters, shown, *days)
        if versions is not None and shown:
            # The one package is on this page: the totals are its versions' counts.
            totals = StatusCounts()
            for version in versions:
                totals += counts.get(version[0], StatusCounts())
        else:
            totals = paging.total_counts(filters, *days)
        moment = now
    else:
        moment, counts = _version_counts(filters, now)
        totals = StatusCounts()
        released = (
            _released(filters).values_list("pk", flat=True)
            if versions is None
            else [v[0] for v in versions]
        )
        for version_id in released:
            totals += counts.get(version_id, StatusCounts())
    rows = (
        _package_rows(filters, moment, counts, package_ids=shown, versions=versions)
        if shown
        else []
    )
    return PackagePage(
        rows=rows,
        totals=totals,
        package_count=len(packages),
        version_ids=None if versions is None else [v[0] for v in versions],
    )


def _listed_packages(filters: ReportFilters) -> list[int]:
    """The ids of the packages ``package_report`` lists, in its order (by name)."""
    released = _released(filters).filter(package_id=OuterRef("pk"))
    return list(
        Package.objects.filter(Exists(released)).order_by("name", "pk").values_list("pk", flat=True)
    )


def _released(filters: ReportFilters) -> QuerySet[PackageVersion]:
    """The released (not draft) versions of the chosen package / version."""
    versions = PackageVersion.objects.exclude(status=VersionStatus.DRAFT)
    if filters.package_id is not None:
        versions = versions.filter(package_id=filters.package_id)
    if filters.version_id is not None:
        versions = versions.filter(pk=filters.version_id)
    return versions


def _package_rows(
    filters: ReportFilters,
    now: datetime,
    counts: dict[int, StatusCounts],
    *,
    package_ids: list[int] | None = None,
    versions: list[tuple[Any, ...]] | None = None,
) -> list[PackageRow]:
    """Return the released versions in scope (of ``package_ids`` only, if given), per
    package, with their counts. The versions are read as tuples, one query
    (``_version_list``; ``versions``: already read); with no version chosen they are
    every released version of their packages, so the one in effect is found among them
    (``_active_version_ids`` asks the database otherwise)."""
    version_list = _version_list(filters, package_ids) if versions is None else versions
    if filters.version_id is None:
        active = _in_effect_among(version_list, now)
    else:
        active = _active_version_ids(sorted({v[1] for v in version_list}), now)
    packages: dict[int, tuple[str, str]] = {}
    by_package: dict[int, list[VersionRow]] = {}
    no_counts = StatusCounts()
    for pk, package_id, package_name, category, number, name, status, start, end in version_list:
        packages[package_id] = (package_name, category)
        by_package.setdefault(package_id, []).append(
            VersionRow(
                version_id=pk,
                version_number=number,
                name=name,
                state=packaging.state_of(status, start, end, active=pk in active, now=now),
                counts=counts.get(pk, no_counts),
            )
        )
    report = []
    for package_id, version_rows in by_package.items():
        totals = StatusCounts()
        for row in version_rows:
            totals += row.counts
        package_name, category = packages[package_id]
        report.append(
            PackageRow(
                package_id=package_id,
                name=package_name,
                category=category,
                totals=totals,
                versions=tuple(version_rows),
            )
        )
    return report


def _version_list(
    filters: ReportFilters, package_ids: list[int] | None = None
) -> list[tuple[Any, ...]]:
    """The released versions in scope (of ``package_ids`` only, if given) as tuples (id,
    package, package name, category, version number, name, status, effective from,
    archived at), by package name, package and version number."""
    where, chosen = chosen_sql(filters, "v.package_id", "v.id")
    params: list[Any] = [VersionStatus.DRAFT.value, *chosen]
    if package_ids is not None:
        where += f" AND v.package_id IN ({summary_reads.in_list(len(package_ids))})"
        params += package_ids
    moments = statements.columns(PackageVersion, ["effective_from", "archived_at"])
    return [
        (*row[:7], *statements.from_row(moments, row[7:]))
        for row in summary_reads.read_rows(
            PackageVersion, _VERSION_LIST_SQL.format(where=where), params
        )
    ]


# The report's hot reads of versions, packages and courses, written once (ADR 0035;
# ADR 0036 amended): the same rows, in the same order, as the querysets they replace.
_VERSION_LIST_SQL = (
    "SELECT v.id, v.package_id, p.name, p.category, v.version_number, v.name, v.status, "
    "v.effective_from, v.archived_at "
    "FROM packaging_packageversion v INNER JOIN packaging_package p ON p.id = v.package_id "
    "WHERE v.status <> %s{where} ORDER BY p.name ASC, v.package_id ASC, v.version_number ASC"
)
_SERIES_SQL = (
    "SELECT v.id, p.name, v.version_number "
    "FROM packaging_packageversion v INNER JOIN packaging_package p ON p.id = v.package_id "
    "WHERE v.id IN ({versions}) ORDER BY p.name ASC, v.package_id ASC, v.version_number ASC"
)
_PACKAGE_CHOICES_SQL = (
    "SELECT p.id, p.name FROM packaging_package p WHERE EXISTS(SELECT 1 "
    "FROM packaging_packageversion v WHERE v.status <> %s AND v.package_id = p.id) "
    "ORDER BY p.name ASC, p.id ASC"
)
_COURSE_PAGE_SQL = (
    "SELECT id, code, name FROM catalog_course{among} ORDER BY code ASC LIMIT %s OFFSET %s"
)
_COURSE_COUNT_SQL = "SELECT COUNT(*) FROM catalog_course{among}"


def _in_effect_among(versions: list[tuple[Any, ...]], now: datetime) -> set[int]:
    """The version in effect at ``now`` of each package, among ``versions`` (id,
    package, ..., version number at [4], status at [6], effective from, archived at; by
    package and version number): the newest released one in effect, the rule of
    ``_active_version_ids``."""
    active: dict[int, int] = {}
    for pk, package_id, _, _, _, _, status, start, end in reversed(versions):
        if (
            package_id not in active
            and status in packaging.RELEASED
            and start is not None
            and start <= now
            and (end is None or end > now)
        ):
            active[package_id] = pk
    return set(active.values())


def overall(report: list[PackageRow]) -> StatusCounts:
    """Return the counts of every package in ``report`` added up."""
    totals = StatusCounts()
    for package in report:
        totals += package.totals
    return totals


# --- per course --------------------------------------------------------------------


def _report_course_ids(
    filters: ReportFilters, version_ids: list[int] | None = None
) -> list[int] | None:
    """The courses in the chosen package's (or version's) released versions (their ids:
    ``version_ids``, if already read); None for all."""
    if filters.package_id is None and filters.version_id is None:
        return None
    if version_ids is None:
        version_ids = list(_released(filters).values_list("pk", flat=True))
    found: set[int] = set()
    for version_id in version_ids:
        found |= packaging.version_course_ids(version_id)
    return sorted(found)


def course_report(filters: ReportFilters) -> list[CourseRow]:
    """Return, per course, the learners who completed it, failed attempts and voided events.

    The time range applies to the events' ``occurred_at`` (when the learner
    completed, passed or failed). With a package or version chosen, only the
    courses in its released versions are listed, and only the events of learners
    with an open enrollment in it are counted; without, every catalog course is
    listed. Voided events are never counted as completions or failures; they are
    counted, by the time they occurred, in ``events_voided``. Two queries, plus
    the requirement trees of the chosen versions; with no range, two queries over
    one summary row per course, or per (package or version, course) (ADRs 0027, 0032).

    On a timeline, only events recorded by ``known_at`` that occurred by ``as_of``
    count, voided means voided by a void recorded by ``known_at``, and the learners
    are those with an enrollment open then.
    """
    course_ids = _report_course_ids(filters)
    courses = _listed_courses(course_ids)
    return _course_rows(filters, course_ids, list(courses.values_list("pk", "code", "name")))


@dataclass(frozen=True)
class CoursePage:
    """One page of ``course_report``, and how many courses the whole report lists."""

    rows: list[CourseRow]
    course_count: int


def course_page(
    filters: ReportFilters, *, offset: int, limit: int, version_ids: list[int] | None = None
) -> CoursePage:
    """Return the courses ``[offset, offset + limit)`` of :func:`course_report`, by code,
    with the same numbers, and how many courses it lists. ``version_ids``: the released
    versions in scope of a chosen package or version, if the caller read them
    (``PackagePage.version_ids``).

    Only the page's courses are counted: from their summary rows (no range, package or
    version), or from the page's courses' events (a package or version, a range, a
    manager's people). On a timeline over every course, the counts are those of
    ``course_report`` (one aggregate of the events in scope).
    """
    course_ids = _report_course_ids(filters, version_ids)
    # Every course, or the report's: the page and the count written once.
    among, ids = "", []
    if course_ids is not None:
        among, ids = f" WHERE id IN ({summary_reads.in_list(len(course_ids))})", course_ids
    shown: list[tuple[Any, ...]] = (
        summary_reads.read_rows(Course, _COURSE_PAGE_SQL.format(among=among), [*ids, limit, offset])
        if course_ids is None or course_ids
        else []
    )
    # A first page that is not full holds every course: no need to count them.
    whole = (offset == 0 and len(shown) < limit) or course_ids == []
    if whole:
        count = len(shown)
    else:
        ((count,),) = summary_reads.read_rows(Course, _COURSE_COUNT_SQL.format(among=among), ids)
    return CoursePage(
        rows=_course_rows(filters, course_ids, shown, paged=True),
        course_count=count,
    )


def course_steps(filters: ReportFilters) -> int:
    """Return how many steps the course table reports to an export's progress as it
    counts (``scope.answers_heard``): on a timeline over every course, each course
    (``exact.course_counts_in_steps``); else none (the counting is one short read)."""
    if filters.on_timeline and filters.package_id is None and filters.version_id is None:
        return Course.objects.count()
    return 0


def _listed_courses(course_ids: list[int] | None) -> QuerySet[Course]:
    courses = Course.objects.order_by("code")
    if course_ids is not None:
        courses = courses.filter(pk__in=course_ids)
    return courses


def _course_rows(
    filters: ReportFilters,
    course_ids: list[int] | None,
    courses: list[tuple[int, str, str]],
    *,
    paged: bool = False,
) -> list[CourseRow]:
    """Count ``courses`` (id, code, name) in the report ``course_ids`` (None: every
    course) defines, reading only theirs when ``paged`` and the read allows it."""
    counts: CourseCounts
    shown = [course_id for course_id, _, _ in courses]
    all_time = filters.start is None and filters.end is None
    if not filters.on_timeline and not filters.scoped and all_time and course_ids is None:
        counts = paging.course_counts_of(shown) if paged else summary_reads.course_counts()
    elif not filters.on_timeline and not filters.scoped and all_time:
        # One package's or version's courses: its (scope, course) rows (ADR 0032).
        counts = summary_reads.course_counts(filters, shown if paged else course_ids)
    elif paged and course_ids is not None:
        # A course's count depends on its own events and the package's learners only.
        counts = exact.course_counts(filters, shown) if shown else {}
    elif (paged or (course_ids is None and not filters.scoped)) and not filters.on_timeline:
        # A page of the courses, or everyone's every course, over a range: from the
        # summary rows over whole days (ADR 0040), else the courses' events.
        counts = paging.course_counts_in_range(filters, shown)
    elif filters.on_timeline and course_ids is None and (done := heard()) is not None:
        # An export job over every course: its progress moves as the courses are counted.
        counts = exact.course_counts_in_steps(filters, shown, done)
    else:
        counts = exact.course_counts(filters, course_ids)
    result = []
    for course_id, code, name in courses:
        learners, failed, voided = counts.get(course_id, (0, 0, 0))
        result.append(
            CourseRow(
                course_id=course_id,
                code=code,
                name=name,
                learners_completed=learners,
                failed_attempts=failed,
                events_voided=voided,
            )
        )
    return result


# --- per learner ---------------------------------------------------------------------


def learner_rows(
    filters: ReportFilters, *, offset: int = 0, limit: int | None = None
) -> Iterator[LearnerRow]:
    """Yield, per learner by username, their enrollments counted by status.

    The time range applies to ``enrolled_at``: only enrollments begun in the
    range are counted, and ``last_completed_at`` is the latest completion among
    them. Learners with no such enrollment are not listed. The learners are
    found by username (with no filter, from one summary row per learner, ADR
    0027; else by probing each one's enrollments), then only their enrollments
    are counted: a page reads its learners' rows, never every enrollment, and the
    whole list streams a chunk of learners at a time in constant memory. On a
    timeline, counts the enrollments as the transcripts show them.
    """
    if filters.on_timeline:
        found = exact.timeline_learner_rows(filters)
        end = None if limit is None else offset + limit
        yield from found[offset:end]
        return
    listed = None if _every_enrollment(filters) else exact.listed_learners(_with_package(filters))
    yield from exact.learner_rows(filters, listed, offset=offset, limit=limit)


def learner_count(filters: ReportFilters) -> int:
    """Return how many learners :func:`learner_rows` lists."""
    if filters.on_timeline:
        return len(exact.timeline_learner_rows(filters))
    if _every_enrollment(filters):
        return summary_reads.learner_count()
    return exact.learner_count(_with_package(filters))


def _every_enrollment(filters: ReportFilters) -> bool:
    """Whether the filters take every enrollment (no package, version, range or
    viewer's scope: the summary rows count everyone)."""
    return (
        not filters.scoped
        and filters.package_id is None
        and filters.version_id is None
        and filters.start is None
        and filters.end is None
    )


def _with_package(filters: ReportFilters) -> ReportFilters:
    """The filters with the version's package named too, so that the learners of a
    version are found by the index that starts with the package."""
    if filters.version_id is None or filters.package_id is not None:
        return filters
    package_id = (
        PackageVersion.objects.filter(pk=filters.version_id)
        .values_list("package_id", flat=True)
        .first()
    )
    return replace(filters, package_id=package_id)


# --- completions over time ------------------------------------------------------------

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def completions_over_time(
    filters: ReportFilters, *, top: int | None = None, whole_up_to: int = 0
) -> CompletionsOverTime:
    """Return how many open enrollments completed in each period, per version.

    Counts enrollments by ``completed_at`` in the time range (whenever they were
    enrolled), as ``completed_in_range`` of :func:`package_report` does, so the
    periods of a version add up to that column. The period (day, week, month or
    year) follows the length of the range; an open end of the range is closed
    by the first or last completion. Three queries. On a timeline, counts the
    completions as the transcripts show them, as ``package_report`` does.

    With ``top`` (the report page's chart), where the summary rows answer and more than
    ``max(top, whole_up_to)`` versions have completions, only the ``top`` versions with
    the most completions have a series and the others are added up in ``other``
    (``summary_reads.period_counts``): the same numbers, folded by the database.
    """
    zone = timezone.get_current_timezone()
    if filters.on_timeline:
        return _series(exact.timeline_period_counts(filters, zone))
    days = whole_days(filters)
    if days is not None and timezone.localtime(_EPOCH, zone).utcoffset() == timedelta(0):
        found = summary_reads.period_counts(filters, *days, top=top, whole_up_to=whole_up_to)
        if found is not None:
            return _series(found)
    return _series(exact.period_counts(filters, zone))


def _series(found: PeriodCounts) -> CompletionsOverTime:
    """Name each version's counts (one query) and order them by package and version."""
    counts = found.counts
    versions = (
        summary_reads.read_rows(
            PackageVersion,
            _SERIES_SQL.format(versions=summary_reads.in_list(len(counts))),
            [*counts],
        )
        if counts
        else []
    )
    series = tuple(
        CompletionSeries(
            version_id=version_id,
            package_name=package_name,
            version_number=number,
            counts=tuple(counts[version_id]),
        )
        for version_id, package_name, number in versions
    )
    return CompletionsOverTime(
        bucket=found.bucket,
        periods=tuple(found.periods),
        series=series,
        other=None if found.other is None else tuple(found.other),
        other_versions=found.other_versions,
    )


# --- the filters' choices ------------------------------------------------------------


def package_choices() -> list[tuple[int, str]]:
    """Return every package with a released version, by name: (package id, name)."""
    return summary_reads.read_rows(Package, _PACKAGE_CHOICES_SQL, [VersionStatus.DRAFT.value])


def version_choices(package_id: int | None, version_id: int | None = None) -> list[tuple[int, int]]:
    """Return the released versions of ``package_id`` (None: of ``version_id``'s
    package; neither: none), by number: (version id, version number). One query, SQL
    written once (ADR 0036 amended: the querysets took ~1 ms of a report page)."""
    if package_id is not None:
        return summary_reads.read_rows(
            PackageVersion, _VERSION_CHOICES_SQL, [package_id, VersionStatus.DRAFT.value]
        )
    if version_id is not None:
        return summary_reads.read_rows(
            PackageVersion, _SIBLING_CHOICES_SQL, [version_id, VersionStatus.DRAFT.value]
        )
    return []


# A package's released versions, by number; or those of a version's package.
_VERSION_CHOICES_SQL = (
    "SELECT v.id, v.version_number FROM packaging_packageversion v "
    "WHERE v.package_id = %s AND v.status <> %s ORDER BY v.version_number ASC"
)
_SIBLING_CHOICES_SQL = _VERSION_CHOICES_SQL.replace(
    "v.package_id = %s",
    "v.package_id = (SELECT w.package_id FROM packaging_packageversion w WHERE w.id = %s)",
)
