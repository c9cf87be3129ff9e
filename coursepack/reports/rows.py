"""The rows the report selectors return, and the periods of the completions chart.

Plain frozen values: the selectors (``reports.selectors``) fill them from the
summary rows (``reports.summary_reads``) or from exact aggregates
(``reports.exact``), and the tables, pages, exports and API read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple

__all__ = [
    "MAX_PERIODS",
    "NO_PERIODS",
    "Bucket",
    "CompletionSeries",
    "CompletionsOverTime",
    "CourseRow",
    "LearnerRow",
    "PackageRow",
    "PeriodCounts",
    "StatusCounts",
    "VersionRow",
    "bucket_for",
    "period_start",
    "periods_between",
]

Bucket = Literal["day", "week", "month", "year"]

# Beyond this many periods a chart is unreadable: fall back to the span of the data.
MAX_PERIODS = 400


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
    # Asked for the versions with the most completions only (the report page's chart):
    # the other versions' completions added up per period, and how many they are.
    # None / 0: ``series`` holds every version.
    other: tuple[int, ...] | None = None
    other_versions: int = 0

    def totals(self) -> tuple[int, ...]:
        """Completions of all versions together, per period."""
        columns = [s.counts for s in self.series]
        if self.other is not None:
            columns.append(self.other)
        if not columns:
            return (0,) * len(self.periods)
        return tuple(sum(column) for column in zip(*columns, strict=True))


def bucket_for(span: timedelta) -> Bucket:
    """Return the chart's period for a range this long."""
    if span <= timedelta(days=62):
        return "day"
    if span <= timedelta(days=190):
        return "week"
    if span <= timedelta(days=3660):
        return "month"
    return "year"


def period_start(day: date, bucket: Bucket) -> date:
    """Return the first day of the period holding ``day``."""
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


def periods_between(first: date, last: date, bucket: Bucket) -> list[date]:
    """Return the periods from the one holding ``first`` to the one holding ``last`` (at
    most ``MAX_PERIODS + 1`` of them)."""
    periods: list[date] = []
    day = period_start(first, bucket)
    while day <= last and len(periods) <= MAX_PERIODS:
        periods.append(day)
        try:
            day = _next_period(day, bucket)
        except (OverflowError, ValueError):  # past 9999-12-31
            break
    return periods


class PeriodCounts(NamedTuple):
    """The chart before its versions are named: completions per version, one per period."""

    # version id -> one count per period
    counts: dict[int, list[int]]
    bucket: Bucket
    periods: list[date]
    # The versions left out of ``counts`` added up per period, and how many they are
    # (``CompletionsOverTime.other``).
    other: list[int] | None = None
    other_versions: int = 0


#: A chart with nothing to show.
NO_PERIODS = PeriodCounts({}, "day", [])
