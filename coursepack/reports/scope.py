"""What a report counts: its filters, and the scoping every report read shares.

Filters (:class:`ReportFilters`) are a half-open range ``[start, end)`` plus an
optional package and version; what the range applies to differs per report and
is said in each selector's docstring (``reports.selectors``).

Every report counts on one timeline (PRODUCT.md, "Two timelines") and says which
(``ReportFilters.timeline``). Without ``as_of`` and ``known_at`` it is "as of now,
as known now", read from the status cache and the summary rows. With either, the
enrollments are worked out from the events as the transcripts show them, with the
engine's status rule (``learning.transcript.timeline_answers``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from coursepack.errors import InvalidInput
from coursepack.learning import transcript as transcripts
from coursepack.learning.models import Enrollment
from coursepack.organisation import selectors as organisation
from coursepack.packaging.models import PackageVersion, VersionStatus

__all__ = [
    "OPEN",
    "ROW",
    "Answer",
    "FilterChoices",
    "ReportFilters",
    "answers",
    "answers_heard",
    "answers_kept",
    "days_between",
    "enrollments_in_scope",
    "filter_choices",
    "for_viewer",
    "heard",
    "in_range",
    "kept",
    "kept_course_events",
    "make_filters",
    "summary_scope",
    "timeline_enrollments",
    "timeline_learners",
    "whole_days",
    "within",
]

_S = TypeVar("_S", bound=Model)
_T = TypeVar("_T")


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
    # Only the enrollments and events of these people (a manager's people,
    # ``for_viewer``); None: everyone's. A scoped report is counted exactly: the
    # summary rows hold everyone, so they are for admins and auditors only.
    learners: QuerySet[Any] | None = field(default=None, compare=False)

    @property
    def scoped(self) -> bool:
        """Return whether the report counts only some people (a manager's)."""
        return self.learners is not None

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


def for_viewer(filters: ReportFilters, viewer: User | AnonymousUser | None) -> ReportFilters:
    """Return ``filters`` narrowed to the people ``viewer`` may read (ADR 0024): unchanged
    for admins and auditors; a manager's people (and themselves) for a manager."""
    if organisation.reads_everyone(viewer):
        return filters
    return replace(filters, learners=organisation.people_in_scope(viewer))


def in_range(field: str, filters: ReportFilters) -> Q:
    """Return the condition that ``field`` is in the filters' range ``[start, end)``."""
    q = Q()
    if filters.start is not None:
        q &= Q(**{f"{field}__gte": filters.start})
    if filters.end is not None:
        q &= Q(**{f"{field}__lt": filters.end})
    return q


def chosen_sql(filters: ReportFilters, package: str, version: str) -> tuple[str, list[Any]]:
    """Return the filters' chosen package and version as SQL written once:
    ``" AND package = %s AND version = %s"`` (each only if chosen; ``package`` and
    ``version`` name the columns) and its parameters."""
    sql, params = "", []
    for column, chosen in ((package, filters.package_id), (version, filters.version_id)):
        if chosen is not None:
            sql += f" AND {column} = %s"
            params.append(chosen)
    return sql, params


def range_sql(
    column: str, filters: ReportFilters, adapt: Callable[[datetime], Any] | None = None
) -> tuple[str, list[Any]]:
    """Return :func:`in_range` as SQL written once: ``" AND column >= %s AND column < %s"``
    (each bound only if the filters have it) and its parameters, each moment through
    ``adapt`` (the database's converter, where its driver does not take moments)."""
    sql, params = "", []
    for op, moment in ((">=", filters.start), ("<", filters.end)):
        if moment is not None:
            sql += f" AND {column} {op} %s"
            params.append(moment if adapt is None else adapt(moment))
    return sql, params


def enrollments_in_scope(filters: ReportFilters) -> QuerySet[Enrollment]:
    """Return the enrollments of the chosen package / version (no time range applied)."""
    enrollments = Enrollment.objects.order_by()
    if filters.learners is not None:
        enrollments = enrollments.filter(learner__in=filters.learners.values("pk"))
    if filters.package_id is not None:
        enrollments = enrollments.filter(package_id=filters.package_id)
    if filters.version_id is not None:
        enrollments = enrollments.filter(version_id=filters.version_id)
    return enrollments


# Open: not withdrawn, and not a certification period superseded by the next one.
OPEN = Q(withdrawn_at__isnull=True, superseded_at__isnull=True)
# What the enrollment counts count: a column of the covering index
# enrollment_report_counts (never null), not the id, which is not in it, so that
# PostgreSQL answers them from the index alone. (Django refuses COUNT(*) FILTER.)
ROW = "version_id"


def within(moment: datetime | None, filters: ReportFilters) -> bool:
    """Return whether ``moment`` is in the filters' range ``[start, end)`` (Python's ``in_range``)."""
    if moment is None:
        return False
    if filters.start is not None and moment < filters.start:
        return False
    return filters.end is None or moment < filters.end


# The answers worked out within ``answers_kept()``, by timeline, package and people, and
# what was made of them (``kept``), by what it is and its filters.
_kept: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar(
    "coursepack_kept_answers", default=None
)


@contextmanager
def answers_kept() -> Iterator[None]:
    """Work each timeline's answers out once within the block and keep them for its other
    reads: a report page's tables, counts and chart read the same answers (four passes
    before). Only where their number is bounded: a page under
    ``REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS`` (ADR 0039)."""
    token = _kept.set({})
    try:
        yield
    finally:
        _kept.reset(token)


# Who hears of each enrollment worked out, and each course counted, within
# ``answers_heard()``: an export job's progress.
_heard: ContextVar[Callable[[int], None] | None] = ContextVar(
    "coursepack_answers_heard", default=None
)


@contextmanager
def answers_heard(progress: Callable[[int], None]) -> Iterator[None]:
    """Call ``progress(1)`` for each enrollment worked out on a timeline within the block
    (an export job over a long timeline: most of its time, before any row is written),
    and ``progress(n)`` as each ``n`` courses of a course table over every course are
    counted on it (``heard``)."""
    token = _heard.set(progress)
    try:
        yield
    finally:
        _heard.reset(token)


def heard() -> Callable[[int], None] | None:
    """Return who hears of the steps worked out within ``answers_heard()`` (None: nobody)."""
    return _heard.get()


#: What the report tables read of an enrollment's row in its learner's transcript on a
#: timeline (``learning.transcript.TimelineAnswer``).
Answer = transcripts.TimelineAnswer


def _answered(
    found: Iterable[tuple[int, Answer]], progress: Callable[[int], None] | None
) -> Iterator[tuple[int, Answer]]:
    if progress is None:
        yield from found
        return
    for answer in found:
        progress(1)
        yield answer


def answers(filters: ReportFilters, now: datetime) -> Iterator[tuple[int, Answer]]:
    """Yield (learner, answer) on the filters' timeline, as the transcripts show them, in
    the chosen package and (the version the enrollment was on then) version. Within
    ``answers_kept()`` they are worked out once, at the first read's ``now``."""
    kept = _kept.get()
    key = (filters.as_of, filters.known_at, filters.package_id, id(filters.learners))
    found: Iterable[tuple[int, Answer]] | None = None if kept is None else kept.get(key)
    if found is None:
        as_of, known_at = filters.moments(now)
        # Kept with the answers: the events their batches read, for the course table.
        course_events = None if kept is None else transcripts.TimelineCourseEvents()
        worked_out = transcripts.timeline_answers(
            as_of=as_of,
            known_at=known_at,
            package_id=filters.package_id,
            learners=filters.learners,
            course_events=course_events,
        )
        found = _answered(worked_out, _heard.get())
        if kept is not None:
            found = kept[key] = list(found)
            kept[("course events", *key)] = course_events
    for learner_id, entry in found:
        if filters.version_id is None or entry.version_id == filters.version_id:
            yield learner_id, entry


def kept_course_events(filters: ReportFilters) -> transcripts.TimelineCourseEvents | None:
    """Return the events read when the filters' timeline answers were worked out within
    ``answers_kept()`` (at that moment), if they were; else None."""
    found = _kept.get()
    if found is None:
        return None
    key = ("course events", filters.as_of, filters.known_at, filters.package_id)
    events: transcripts.TimelineCourseEvents | None = found.get((*key, id(filters.learners)))
    return events


def kept(what: str, filters: ReportFilters, make: Callable[[], _T]) -> _T:
    """Return ``make()``, made once per ``what`` and filters within ``answers_kept()``:
    a report page counts the learners' rows on a timeline and shows a page of them."""
    found = _kept.get()
    if found is None:
        return make()
    key = (what, filters, id(filters.learners))
    if key not in found:
        found[key] = make()
    made: _T = found[key]
    return made


def _timeline_scope(filters: ReportFilters, now: datetime) -> QuerySet[Enrollment]:
    as_of, known_at = filters.moments(now)
    return transcripts.timeline_scope(
        as_of=as_of, known_at=known_at, package_id=filters.package_id, learners=filters.learners
    )


def timeline_enrollments(filters: ReportFilters, now: datetime) -> int:
    """Return how many enrollments a report on the filters' timeline works out, one
    transcript's work each (0 when it is not on a timeline: the summaries answer it)."""
    return _timeline_scope(filters, now).count() if filters.on_timeline else 0


def timeline_learners(filters: ReportFilters, now: datetime) -> int:
    """Return how many learners a report on the filters' timeline can list at most: those
    with an enrollment it works out (counted without working any out)."""
    return _timeline_scope(filters, now).values("learner_id").distinct().count()


def whole_days(filters: ReportFilters) -> tuple[date | None, date | None] | None:
    """Return the range as UTC days when both ends are UTC midnights (or open), so that
    the summary rows, counted per UTC day, answer it exactly; else None (always for a
    scoped report: the summary rows count everyone)."""
    if filters.scoped:
        return None
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


def days_between(field: str, first: date | None, stop: date | None) -> Q:
    """Return the condition that the day ``field`` is in ``[first, stop)`` (None: no bound)."""
    q = Q()
    if first is not None:
        q &= Q(**{f"{field}__gte": first})
    if stop is not None:
        q &= Q(**{f"{field}__lt": stop})
    return q


def summary_scope(rows: QuerySet[_S], filters: ReportFilters) -> QuerySet[_S]:
    """Return the summary rows of the chosen package / version (no day range applied)."""
    if filters.package_id is not None:
        rows = rows.filter(package_id=filters.package_id)
    if filters.version_id is not None:
        rows = rows.filter(version_id=filters.version_id)
    return rows.order_by()


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
