"""Report reads: enrollment and completion counts, computed by the database.

Every function here runs a fixed number of queries whatever the number of
enrollments or events: the counting is done by ``GROUP BY`` aggregates, never by
a Python loop over enrollments. Enrollment statuses are read from the stored
cache (``Enrollment.status`` / ``completed_at``), which the write path keeps equal
to the requirement engine's answer.

Filters (:class:`ReportFilters`) are a half-open range ``[start, end)`` plus an
optional package and version; what the range applies to differs per report and
is said in each function's docstring.

Every report counts on one timeline (PRODUCT.md, "Two timelines") and says which
(``ReportFilters.timeline``). Without ``as_of`` and ``known_at`` it is "as of now,
as known now", read from the status cache. With either, the enrollments are
worked out from the events by the same code as the transcripts
(``learning.transcript.timeline_answers``), so "completed in a range" agrees
with the transcripts for the same timeline; that path reads every enrollment in
scope, so it is slower than the cache's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, TypeVar

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, Max, Min, Model, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from coursepack.catalog.models import Course
from coursepack.errors import InvalidInput
from coursepack.learning import transcript as transcripts
from coursepack.learning.models import (
    CompletionDayCount,
    CompletionEvent,
    CourseCount,
    Enrollment,
    EnrollmentDayCount,
    EnrollmentState,
    EnrollmentStatus,
    EventKind,
)
from coursepack.learning.transcript import TranscriptEnrollment
from coursepack.packaging import selectors as packaging
from coursepack.packaging.models import Package, PackageVersion, VersionStatus

__all__ = [
    "Bucket",
    "CompletionSeries",
    "CompletionsOverTime",
    "CourseRow",
    "FilterChoices",
    "LearnerRow",
    "PackageRow",
    "ReportFilters",
    "StatusCounts",
    "VersionRow",
    "completions_over_time",
    "course_report",
    "filter_choices",
    "learner_count",
    "learner_rows",
    "make_filters",
    "overall",
    "package_report",
]

Bucket = Literal["day", "week", "month", "year"]
_S = TypeVar("_S", bound=Model)

# Beyond this many periods a chart is unreadable: fall back to the span of the data.
MAX_PERIODS = 400


@dataclass(frozen=True)
class ReportFilters:
    """What a report counts: a half-open time range and, optionally, one package or version.

    ``start`` is included and ``end`` is not (``[start, end)``); either may be
    None for "no bound". Both are timezone-aware.
    """

    start: datetime | None = None
    end: datetime | None = None
    package_id: int | None = None
    version_id: int | None = None
    # The timeline: as of ``as_of``, as known at ``known_at`` (each None: now). Both
    # None: the status cache, "as of now, as known now".
    as_of: datetime | None = None
    known_at: datetime | None = None

    @property
    def on_timeline(self) -> bool:
        """Return whether the counts are worked out from events rather than the cache."""
        return self.as_of is not None or self.known_at is not None

    def moments(self, now: datetime) -> tuple[datetime, datetime]:
        """Return (as of, as known at), each defaulting to ``now``."""
        return (self.as_of or now, self.known_at or now)

    @property
    def timeline(self) -> str:
        """Say which timeline the report counts, in words."""
        if not self.on_timeline:
            return "As of now, as known now (the stored statuses)."
        as_of = "now" if self.as_of is None else _moment_text(self.as_of)
        if self.known_at is None:
            known = "now"
        elif self.as_of is not None and self.known_at == self.as_of:
            known = "then (what the record showed at that moment)"
        else:
            known = f"at {_moment_text(self.known_at)}"
        return (
            f"As of {as_of}, as known {known}: worked out from the events recorded by then, "
            "as the transcripts are."
        )


def _moment_text(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def make_filters(
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    package_id: int | None = None,
    version_id: int | None = None,
    tz: tzinfo | None = None,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> ReportFilters:
    """Return the filters for the days ``[date_from, date_to)``, at midnight in ``tz``,
    on the timeline as of ``as_of``, as known at ``known_at`` (each None: now).

    ``date_to`` is excluded: the first quarter of 2024 is ``2024-01-01`` to
    ``2024-04-01``. Raise InvalidInput if the range is empty or a moment has no
    time zone.
    """
    if date_from is not None and date_to is not None and date_to <= date_from:
        raise InvalidInput(
            "The date range is empty.",
            problems=[f"to: must be after from ({date_from.isoformat()}); the range excludes 'to'"],
        )
    naive = [
        f"{name}: include a time zone, e.g. Z"
        for name, moment in (("as_of", as_of), ("known_at", known_at))
        if moment is not None and timezone.is_naive(moment)
    ]
    if naive:
        raise InvalidInput("The moment is ambiguous.", problems=naive)
    zone = tz or timezone.get_current_timezone()

    def midnight(day: date | None) -> datetime | None:
        return None if day is None else datetime.combine(day, time.min, tzinfo=zone)

    return ReportFilters(
        start=midnight(date_from),
        end=midnight(date_to),
        package_id=package_id,
        version_id=version_id,
        as_of=as_of,
        known_at=known_at,
    )


def _in_range(field: str, filters: ReportFilters) -> Q:
    q = Q()
    if filters.start is not None:
        q &= Q(**{f"{field}__gte": filters.start})
    if filters.end is not None:
        q &= Q(**{f"{field}__lt": filters.end})
    return q


def _enrollments(filters: ReportFilters) -> QuerySet[Enrollment]:
    """Enrollments of the chosen package / version (no time range applied)."""
    enrollments = Enrollment.objects.order_by()
    if filters.package_id is not None:
        enrollments = enrollments.filter(package_id=filters.package_id)
    if filters.version_id is not None:
        enrollments = enrollments.filter(version_id=filters.version_id)
    return enrollments


# Open: not withdrawn, and not a certification period superseded by the next one.
_OPEN = Q(withdrawn_at__isnull=True, superseded_at__isnull=True)
# What the enrollment counts count: a column of the covering index
# enrollment_report_counts (never null), not the id, which is not in it, so that
# PostgreSQL answers them from the index alone. (Django refuses COUNT(*) FILTER.)
_ROW = "version_id"


def _within(moment: datetime | None, filters: ReportFilters) -> bool:
    """Whether ``moment`` is in the filters' range ``[start, end)`` (Python's ``_in_range``)."""
    if moment is None:
        return False
    if filters.start is not None and moment < filters.start:
        return False
    return filters.end is None or moment < filters.end


def _answers(filters: ReportFilters, now: datetime) -> Iterator[tuple[int, TranscriptEnrollment]]:
    """Yield (learner, enrollment) on the filters' timeline, as the transcripts show them,
    in the chosen package and (the version the enrollment was on then) version."""
    as_of, known_at = filters.moments(now)
    for learner_id, entry in transcripts.timeline_answers(
        as_of=as_of, known_at=known_at, package_id=filters.package_id
    ):
        if filters.version_id is None or entry.version_id == filters.version_id:
            yield learner_id, entry


def _timeline_counts(
    entries: Iterable[TranscriptEnrollment], filters: ReportFilters
) -> StatusCounts:
    """Count enrollments as ``package_report`` does, from transcript rows."""
    counts = {"enrolled": 0, "withdrawn": 0, "completed_in_range": 0}
    by_status: dict[str, int] = defaultdict(int)
    for e in entries:
        is_open = e.withdrawn_at is None
        if _within(e.enrolled_at, filters):
            if is_open:
                counts["enrolled"] += 1
                by_status[str(e.progress_status)] += 1
            else:
                counts["withdrawn"] += 1
        if is_open and _within(e.completed_at, filters):
            counts["completed_in_range"] += 1
    return StatusCounts(
        not_started=by_status[EnrollmentStatus.NOT_STARTED],
        in_progress=by_status[EnrollmentStatus.IN_PROGRESS],
        completed=by_status[EnrollmentStatus.COMPLETED],
        **counts,
    )


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100 * part / whole, 1)


# --- per package and per version ------------------------------------------------


@dataclass(frozen=True)
class StatusCounts:
    """Enrollment counts of one version, or of a package's versions together.

    ``enrolled`` counts open enrollments and equals ``not_started + in_progress +
    completed``; withdrawn enrollments are counted apart, in ``withdrawn`` only.
    """

    enrolled: int = 0
    withdrawn: int = 0
    not_started: int = 0
    in_progress: int = 0
    completed: int = 0
    completed_in_range: int = 0

    @property
    def completion_percent(self) -> float | None:
        """Completed as a percentage of enrolled, to one decimal; None if nobody is enrolled."""
        return _percent(self.completed, self.enrolled)

    def __add__(self, other: StatusCounts) -> StatusCounts:
        return StatusCounts(
            enrolled=self.enrolled + other.enrolled,
            withdrawn=self.withdrawn + other.withdrawn,
            not_started=self.not_started + other.not_started,
            in_progress=self.in_progress + other.in_progress,
            completed=self.completed + other.completed,
            completed_in_range=self.completed_in_range + other.completed_in_range,
        )


@dataclass(frozen=True)
class VersionRow:
    """One released version of a package and its counts."""

    version_id: int
    version_number: int
    name: str
    state: str
    counts: StatusCounts


@dataclass(frozen=True)
class PackageRow:
    """One package: its versions' counts added up, and each released version's."""

    package_id: int
    name: str
    category: str
    totals: StatusCounts
    versions: tuple[VersionRow, ...]


def _active_version_ids(package_ids: list[int], now: datetime) -> set[int]:
    """The version in effect at ``now`` of each package, in one query.

    The same rule as ``packaging.selectors.active_version``, for many packages.
    """
    active: dict[int, int] = {}
    in_effect = (
        PackageVersion.objects.filter(
            package_id__in=package_ids, status__in=packaging.RELEASED, effective_from__lte=now
        )
        .filter(Q(archived_at__isnull=True) | Q(archived_at__gt=now))
        .order_by("package_id", "-version_number")
        .values_list("package_id", "pk")
    )
    for package_id, version_id in in_effect:
        active.setdefault(package_id, version_id)
    return set(active.values())


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
    now = now or timezone.now()
    if filters.on_timeline:
        as_of, _ = filters.moments(now)
        by_version: dict[int, list[TranscriptEnrollment]] = defaultdict(list)
        for _, entry in _answers(filters, now):
            by_version[entry.version_id].append(entry)
        timeline_counts = {v: _timeline_counts(rows, filters) for v, rows in by_version.items()}
        return _package_rows(filters, as_of, timeline_counts)

    days = _whole_days(filters)
    if days is not None:
        return _package_rows(filters, now, _counts_from_summaries(filters, *days))
    enrolled = _in_range("enrolled_at", filters)
    open_enrolled = _OPEN & enrolled
    rows = (
        _enrollments(filters)
        .values("version_id")
        .annotate(
            enrolled=Count(_ROW, filter=open_enrolled),
            withdrawn=Count(_ROW, filter=Q(withdrawn_at__isnull=False) & enrolled),
            not_started=Count(_ROW, filter=open_enrolled & Q(status=EnrollmentStatus.NOT_STARTED)),
            in_progress=Count(_ROW, filter=open_enrolled & Q(status=EnrollmentStatus.IN_PROGRESS)),
            completed=Count(_ROW, filter=open_enrolled & Q(status=EnrollmentStatus.COMPLETED)),
            completed_in_range=Count(
                _ROW,
                filter=_OPEN & Q(completed_at__isnull=False) & _in_range("completed_at", filters),
            ),
        )
        .order_by()
    )
    counts = {
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
    return _package_rows(filters, now, counts)


def _whole_days(filters: ReportFilters) -> tuple[date | None, date | None] | None:
    """Return the range as UTC days when both ends are UTC midnights (or open), so that
    the summary rows, counted per UTC day, answer it exactly; else None."""
    found: list[date | None] = []
    for moment in (filters.start, filters.end):
        if moment is None:
            found.append(None)
            continue
        utc = moment.astimezone(UTC)
        if utc.time() != time.min:
            return None
        found.append(utc.date())
    return found[0], found[1]


def _days(field: str, first: date | None, stop: date | None) -> Q:
    q = Q()
    if first is not None:
        q &= Q(**{f"{field}__gte": first})
    if stop is not None:
        q &= Q(**{f"{field}__lt": stop})
    return q


def _summary_scope(rows: QuerySet[_S], filters: ReportFilters) -> QuerySet[_S]:
    if filters.package_id is not None:
        rows = rows.filter(package_id=filters.package_id)
    if filters.version_id is not None:
        rows = rows.filter(version_id=filters.version_id)
    return rows.order_by()


def _counts_from_summaries(
    filters: ReportFilters, first: date | None, stop: date | None
) -> dict[int, StatusCounts]:
    """The counts of ``package_report`` from the summary rows, for the UTC days
    ``[first, stop)``: two queries over a few rows per version and day (ADR 0027)."""
    found: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    begun = (
        _summary_scope(EnrollmentDayCount.objects.all(), filters)
        .filter(_days("day", first, stop))
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
        _summary_scope(CompletionDayCount.objects.all(), filters)
        .filter(_days("day", first, stop))
        .values("version_id")
        .annotate(total=Sum("n"))
    )
    for row in completed:
        found[row["version_id"]]["completed_in_range"] += row["total"]
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


def _package_rows(
    filters: ReportFilters, now: datetime, counts: dict[int, StatusCounts]
) -> list[PackageRow]:
    """Return the released versions in scope, per package, with their counts."""
    versions = PackageVersion.objects.exclude(status=VersionStatus.DRAFT).select_related("package")
    if filters.package_id is not None:
        versions = versions.filter(package_id=filters.package_id)
    if filters.version_id is not None:
        versions = versions.filter(pk=filters.version_id)
    version_list = list(versions.order_by("package__name", "package_id", "version_number"))
    active = _active_version_ids(sorted({v.package_id for v in version_list}), now)
    packages: dict[int, Package] = {}
    by_package: dict[int, list[VersionRow]] = {}
    for version in version_list:
        packages[version.package_id] = version.package
        by_package.setdefault(version.package_id, []).append(
            VersionRow(
                version_id=version.pk,
                version_number=version.version_number,
                name=version.name,
                state=packaging.version_state(
                    version, active_id=version.pk if version.pk in active else None, now=now
                ),
                counts=counts.get(version.pk, StatusCounts()),
            )
        )
    report = []
    for package_id, version_rows in by_package.items():
        totals = StatusCounts()
        for row in version_rows:
            totals += row.counts
        package = packages[package_id]
        report.append(
            PackageRow(
                package_id=package_id,
                name=package.name,
                category=package.category,
                totals=totals,
                versions=tuple(version_rows),
            )
        )
    return report


def overall(report: list[PackageRow]) -> StatusCounts:
    """Return the counts of every package in ``report`` added up."""
    totals = StatusCounts()
    for package in report:
        totals += package.totals
    return totals


# --- per course --------------------------------------------------------------------


@dataclass(frozen=True)
class CourseRow:
    """What learners did on one course."""

    course_id: int
    code: str
    name: str
    # Distinct learners with a completed or passed event that is not voided.
    learners_completed: int
    # Failed events that are not voided.
    failed_attempts: int
    # Completed, passed or failed events that were later voided.
    events_voided: int


def _report_course_ids(filters: ReportFilters) -> list[int] | None:
    """The courses in the chosen package's (or version's) released versions; None for all."""
    if filters.package_id is None and filters.version_id is None:
        return None
    versions = PackageVersion.objects.exclude(status=VersionStatus.DRAFT)
    if filters.package_id is not None:
        versions = versions.filter(package_id=filters.package_id)
    if filters.version_id is not None:
        versions = versions.filter(pk=filters.version_id)
    found: set[int] = set()
    for version_id in versions.values_list("pk", flat=True):
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
    the requirement trees of the chosen versions; with no range, package or version,
    two queries over one summary row per course (ADR 0027).

    On a timeline, only events recorded by ``known_at`` that occurred by ``as_of``
    count, voided means voided by a void recorded by ``known_at``, and the learners
    are those with an enrollment open then.
    """
    course_ids = _report_course_ids(filters)
    if not filters.on_timeline and course_ids is None and filters.start is None is filters.end:
        return _courses_from_summaries()
    events = CompletionEvent.objects.exclude(kind=EventKind.VOID).filter(
        _in_range("occurred_at", filters)
    )
    voided = Q(voided_by__isnull=False)
    scope = _enrollments(filters).filter(_OPEN)
    if filters.on_timeline:
        as_of, known_at = filters.moments(timezone.now())
        events = events.filter(recorded_at__lte=known_at, occurred_at__lte=as_of)
        known_void = CompletionEvent.objects.filter(voids=OuterRef("pk"), recorded_at__lte=known_at)
        events = events.alias(known_void=Exists(known_void))
        voided = Q(known_void=True)
        cutoff = min(as_of, known_at)
        scope = _enrollments(replace(filters, version_id=None)).filter(
            Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gt=cutoff),
            Q(superseded_at__isnull=True) | Q(superseded_at__gt=cutoff),
            enrolled_at__lte=cutoff,
        )
    courses = Course.objects.order_by("code")
    if course_ids is not None:
        courses = courses.filter(pk__in=course_ids)
        events = events.filter(
            course_id__in=course_ids,
            learner_id__in=scope.values("learner_id"),
        )
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
    by_course = {row["course_id"]: row for row in rows}
    result = []
    for course_id, code, name in courses.values_list("pk", "code", "name"):
        row = by_course.get(course_id, {})
        result.append(
            CourseRow(
                course_id=course_id,
                code=code,
                name=name,
                learners_completed=row.get("learners_completed", 0),
                failed_attempts=row.get("failed_attempts", 0),
                events_voided=row.get("events_voided", 0),
            )
        )
    return result


def _courses_from_summaries() -> list[CourseRow]:
    """Every catalog course's all-time counts, from one summary row per course (ADR 0027)."""
    counts: dict[int, dict[str, int]] = {
        course_id: {"learners": learners, "failed": failed, "voided": voided}
        for course_id, learners, failed, voided in CourseCount.objects.values_list(
            "course_id", "learners", "failed", "voided"
        )
    }
    result = []
    for course_id, code, name in Course.objects.order_by("code").values_list("pk", "code", "name"):
        row: dict[str, int] = counts.get(course_id, {})
        result.append(
            CourseRow(
                course_id=course_id,
                code=code,
                name=name,
                learners_completed=row.get("learners", 0),
                failed_attempts=row.get("failed", 0),
                events_voided=row.get("voided", 0),
            )
        )
    return result


# --- per learner ---------------------------------------------------------------------


@dataclass(frozen=True)
class LearnerRow:
    """One learner's enrollments in the chosen packages."""

    learner_id: int
    username: str
    full_name: str
    # Open enrollments; equals not_started + in_progress + completed.
    enrollments: int
    withdrawn: int
    not_started: int
    in_progress: int
    completed: int
    # The latest completed_at of the learner's open enrollments counted here.
    last_completed_at: datetime | None


def _learner_scope(filters: ReportFilters) -> QuerySet[Enrollment]:
    return _enrollments(filters).filter(_in_range("enrolled_at", filters))


def learner_rows(
    filters: ReportFilters, *, offset: int = 0, limit: int | None = None
) -> Iterator[LearnerRow]:
    """Yield, per learner by username, their enrollments counted by status.

    The time range applies to ``enrolled_at``: only enrollments begun in the
    range are counted, and ``last_completed_at`` is the latest completion among
    them. Learners with no such enrollment are not listed. Streams from one
    query (a server-side cursor on PostgreSQL), so a million rows take constant
    memory. On a timeline, counts the enrollments as the transcripts show them.
    """
    if filters.on_timeline:
        found = _timeline_learner_rows(filters)
        end = None if limit is None else offset + limit
        yield from found[offset:end]
        return
    rows = (
        _learner_scope(filters)
        .values("learner_id", "learner__username", "learner__first_name", "learner__last_name")
        .annotate(
            enrollments=Count(_ROW, filter=_OPEN),
            withdrawn=Count(_ROW, filter=Q(withdrawn_at__isnull=False)),
            not_started=Count(_ROW, filter=_OPEN & Q(status=EnrollmentStatus.NOT_STARTED)),
            in_progress=Count(_ROW, filter=_OPEN & Q(status=EnrollmentStatus.IN_PROGRESS)),
            completed=Count(_ROW, filter=_OPEN & Q(status=EnrollmentStatus.COMPLETED)),
            last_completed_at=Max("completed_at", filter=_OPEN),
        )
        .order_by("learner__username", "learner_id")
    )
    if limit is not None:
        rows = rows[offset : offset + limit]
    elif offset:
        rows = rows[offset:]
    for row in rows.iterator(chunk_size=2000):
        yield LearnerRow(
            learner_id=row["learner_id"],
            username=row["learner__username"],
            full_name=f"{row['learner__first_name']} {row['learner__last_name']}".strip(),
            enrollments=row["enrollments"],
            withdrawn=row["withdrawn"],
            not_started=row["not_started"],
            in_progress=row["in_progress"],
            completed=row["completed"],
            last_completed_at=row["last_completed_at"],
        )


def _timeline_learner_rows(filters: ReportFilters) -> list[LearnerRow]:
    by_learner: dict[int, list[TranscriptEnrollment]] = defaultdict(list)
    for learner_id, entry in _answers(filters, timezone.now()):
        if _within(entry.enrolled_at, filters):
            by_learner[learner_id].append(entry)
    users = {
        u.pk: u
        for u in get_user_model()
        .objects.filter(pk__in=list(by_learner))
        .only("username", "first_name", "last_name")
    }
    rows = []
    for learner_id, entries in by_learner.items():
        user = users[learner_id]
        open_ones = [e for e in entries if e.withdrawn_at is None]
        statuses = [str(e.progress_status) for e in open_ones]
        completed = [e.completed_at for e in open_ones if e.completed_at is not None]
        rows.append(
            LearnerRow(
                learner_id=learner_id,
                username=user.username,
                full_name=f"{user.first_name} {user.last_name}".strip(),
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


def learner_count(filters: ReportFilters) -> int:
    """Return how many learners :func:`learner_rows` lists."""
    if filters.on_timeline:
        return len(_timeline_learner_rows(filters))
    return _learner_scope(filters).values("learner_id").distinct().count()


# --- completions over time ------------------------------------------------------------


@dataclass(frozen=True)
class CompletionSeries:
    """Completions of one version, one count per period."""

    version_id: int
    package_name: str
    version_number: int
    counts: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"{self.package_name} v{self.version_number}"

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class CompletionsOverTime:
    """Completions per version per period: the report page's chart."""

    bucket: Bucket
    # The first day of each period, oldest first.
    periods: tuple[date, ...]
    series: tuple[CompletionSeries, ...]

    def totals(self) -> tuple[int, ...]:
        """Completions of all versions together, per period."""
        if not self.series:
            return (0,) * len(self.periods)
        return tuple(sum(column) for column in zip(*(s.counts for s in self.series), strict=True))


def _bucket_for(span: timedelta) -> Bucket:
    if span <= timedelta(days=62):
        return "day"
    if span <= timedelta(days=190):
        return "week"
    if span <= timedelta(days=3660):
        return "month"
    return "year"


def _period_start(day: date, bucket: Bucket) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())  # Monday, as the database truncates
    if bucket == "month":
        return day.replace(day=1)
    if bucket == "year":
        return day.replace(month=1, day=1)
    return day


def _next_period(day: date, bucket: Bucket) -> date:
    if bucket == "day":
        return day + timedelta(days=1)
    if bucket == "week":
        return day + timedelta(days=7)
    if bucket == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return date(day.year + 1, 1, 1)


def _periods(first: date, last: date, bucket: Bucket) -> list[date]:
    """The periods from the one holding ``first`` to the one holding ``last`` (at most
    ``MAX_PERIODS + 1`` of them)."""
    periods: list[date] = []
    day = _period_start(first, bucket)
    while day <= last and len(periods) <= MAX_PERIODS:
        periods.append(day)
        try:
            day = _next_period(day, bucket)
        except (OverflowError, ValueError):  # past 9999-12-31
            break
    return periods


def completions_over_time(filters: ReportFilters) -> CompletionsOverTime:
    """Return how many open enrollments completed in each period, per version.

    Counts enrollments by ``completed_at`` in the time range (whenever they were
    enrolled), as ``completed_in_range`` of :func:`package_report` does, so the
    periods of a version add up to that column. The period (day, week, month or
    year) follows the length of the range; an open end of the range is closed
    by the first or last completion. Three queries. On a timeline, counts the
    completions as the transcripts show them, as ``package_report`` does.
    """
    zone = timezone.get_current_timezone()
    if filters.on_timeline:
        return _timeline_over_time(filters, zone)
    days = _whole_days(filters)
    if days is not None and timezone.localtime(_EPOCH, zone).utcoffset() == timedelta(0):
        found = _over_time_from_summaries(filters, *days)
        if found is not None:
            return found
    completed = (
        _enrollments(filters)
        .filter(_OPEN, completed_at__isnull=False)
        .filter(_in_range("completed_at", filters))
    )
    bounds = completed.aggregate(first=Min("completed_at"), last=Max("completed_at"))
    if bounds["first"] is None:
        return CompletionsOverTime(bucket="day", periods=(), series=())
    first: datetime = filters.start or bounds["first"]
    last: datetime = (
        bounds["last"] if filters.end is None else filters.end - timedelta(microseconds=1)
    )
    bucket = _bucket_for(last - first)
    periods = _periods(
        timezone.localtime(first, zone).date(), timezone.localtime(last, zone).date(), bucket
    )
    if len(periods) > MAX_PERIODS:
        # An absurdly wide range: chart the span of the data instead.
        first, last = bounds["first"], bounds["last"]
        bucket = _bucket_for(last - first)
        periods = _periods(
            timezone.localtime(first, zone).date(), timezone.localtime(last, zone).date(), bucket
        )

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
    versions = (
        PackageVersion.objects.filter(pk__in=list(counts))
        .select_related("package")
        .order_by("package__name", "package_id", "version_number")
    )
    series = tuple(
        CompletionSeries(
            version_id=v.pk,
            package_name=v.package.name,
            version_number=v.version_number,
            counts=tuple(counts[v.pk]),
        )
        for v in versions
    )
    return CompletionsOverTime(bucket=bucket, periods=tuple(periods), series=series)


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)


def _over_time_from_summaries(
    filters: ReportFilters, first_day: date | None, stop_day: date | None
) -> CompletionsOverTime | None:
    """Return ``completions_over_time`` from the completion-day summary rows (the
    current zone being UTC), or None when an open end of the range makes the choice of
    period depend on the first or last completion's time of day."""
    rows = list(
        _summary_scope(CompletionDayCount.objects.all(), filters)
        .filter(_days("day", first_day, stop_day), n__gt=0)
        .values("version_id", "day")
        .annotate(total=Sum("n"))
    )
    if not rows:
        return CompletionsOverTime(bucket="day", periods=(), series=())
    data_first, data_last = min(r["day"] for r in rows), max(r["day"] for r in rows)

    def choose(lo: date, hi: date, lo_exact: bool, hi_exact: bool) -> Bucket | None:
        """The period for the span from the first to the last moment, if every time of
        day those moments may have gives the same one."""
        lo_at = datetime.combine(lo, time.min, tzinfo=UTC)
        hi_at = datetime.combine(hi, time.min, tzinfo=UTC)
        day_end = _DAY - timedelta(microseconds=1)
        if hi_exact:  # the range's end: its last microsecond
            hi_at += day_end
        least = hi_at - (lo_at if lo_exact else lo_at + day_end)
        most = hi_at + (timedelta(0) if hi_exact else day_end) - lo_at
        bucket = _bucket_for(max(least, timedelta(0)))
        return bucket if bucket == _bucket_for(most) else None

    lo = first_day if first_day is not None else data_first
    hi = stop_day - _DAY if stop_day is not None else data_last
    bucket = choose(lo, hi, first_day is not None, stop_day is not None)
    if bucket is None:
        return None
    periods = _periods(lo, hi, bucket)
    if len(periods) > MAX_PERIODS:
        bucket = choose(data_first, data_last, False, False)
        if bucket is None:
            return None
        periods = _periods(data_first, data_last, bucket)
    index = {day: i for i, day in enumerate(periods)}
    counts: dict[int, list[int]] = {}
    for row in rows:
        slot = index.get(_period_start(row["day"], bucket))
        if slot is not None:
            counts.setdefault(row["version_id"], [0] * len(periods))[slot] += row["total"]
    versions = (
        PackageVersion.objects.filter(pk__in=list(counts))
        .select_related("package")
        .order_by("package__name", "package_id", "version_number")
    )
    series = tuple(
        CompletionSeries(
            version_id=v.pk,
            package_name=v.package.name,
            version_number=v.version_number,
            counts=tuple(counts[v.pk]),
        )
        for v in versions
    )
    return CompletionsOverTime(bucket=bucket, periods=tuple(periods), series=series)


def _timeline_over_time(filters: ReportFilters, zone: tzinfo) -> CompletionsOverTime:
    moments: dict[int, list[datetime]] = defaultdict(list)
    for _, entry in _answers(filters, timezone.now()):
        if entry.withdrawn_at is None and _within(entry.completed_at, filters):
            assert entry.completed_at is not None
            moments[entry.version_id].append(entry.completed_at)
    every = [m for found in moments.values() for m in found]
    if not every:
        return CompletionsOverTime(bucket="day", periods=(), series=())
    first: datetime = filters.start or min(every)
    last: datetime = max(every) if filters.end is None else filters.end - timedelta(microseconds=1)
    bucket = _bucket_for(last - first)
    periods = _periods(
        timezone.localtime(first, zone).date(), timezone.localtime(last, zone).date(), bucket
    )
    if len(periods) > MAX_PERIODS:
        first, last = min(every), max(every)
        bucket = _bucket_for(last - first)
        periods = _periods(
            timezone.localtime(first, zone).date(), timezone.localtime(last, zone).date(), bucket
        )
    index = {day: i for i, day in enumerate(periods)}
    counts: dict[int, list[int]] = {}
    for version_id, found in moments.items():
        for moment in found:
            day = _period_start(timezone.localtime(moment, zone).date(), bucket)
            slot = index.get(day)
            if slot is not None:
                counts.setdefault(version_id, [0] * len(periods))[slot] += 1
    versions = (
        PackageVersion.objects.filter(pk__in=list(counts))
        .select_related("package")
        .order_by("package__name", "package_id", "version_number")
    )
    series = tuple(
        CompletionSeries(
            version_id=v.pk,
            package_name=v.package.name,
            version_number=v.version_number,
            counts=tuple(counts[v.pk]),
        )
        for v in versions
    )
    return CompletionsOverTime(bucket=bucket, periods=tuple(periods), series=series)


# --- what the filters offer ------------------------------------------------------------


@dataclass(frozen=True)
class FilterChoices:
    """The packages and released versions a report can be narrowed to."""

    packages: tuple[tuple[int, str], ...]
    # (version id, package name, version number)
    versions: tuple[tuple[int, str, int], ...]


def filter_choices() -> FilterChoices:
    """Return every package with a released version, and those versions. One query."""
    versions = (
        PackageVersion.objects.exclude(status=VersionStatus.DRAFT)
        .order_by("package__name", "package_id", "version_number")
        .values_list("pk", "package_id", "package__name", "version_number")
    )
    packages: dict[int, str] = {}
    found = []
    for version_id, package_id, package_name, number in versions:
        packages[package_id] = package_name
        found.append((version_id, package_name, number))
    return FilterChoices(packages=tuple(packages.items()), versions=tuple(found))
