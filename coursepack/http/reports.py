"""Compliance reports: counts per package and version, per course, per learner.

The same numbers as the reports page (``/reports/``) and its exports, for the
same filters. Admins and auditors count everyone; a manager counts the people they
manage (and themselves) only, worked out exactly (ADR 0034).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.decorators import decorate_view

from coursepack.accounts.models import Role
from coursepack.http.auth import READERS, require
from coursepack.http.pagination import OffsetPageParams
from coursepack.http.problems import responses
from coursepack.http.schemas import DateIn, MomentIn
from coursepack.jobs import exports as export_jobs
from coursepack.replica import reads_from_replica
from coursepack.reports import selectors
from coursepack.reports.scope import for_viewer
from coursepack.reports.selectors import ReportFilters, StatusCounts

router = Router(tags=["reports"])

# Query parameters arrive as text: a plain int (not StrictInt) parses them.
Id = Annotated[int, Field(ge=1, le=2**53)]


class ReportQuery(Schema):
    """The report filters: a range of days ``[from, to)`` and a package or version."""

    date_from: DateIn | None = Field(
        None,
        alias="from",
        description=(
            "First day of the range (included). Enrollment counts cover enrollments "
            "begun in the range; completed_in_range covers completions in it; course "
            "counts cover events that occurred in it."
        ),
    )
    date_to: DateIn | None = Field(
        None, alias="to", description="The day after the range (excluded): [from, to)."
    )
    package_id: Id | None = Field(None, description="Only this package.")
    version_id: Id | None = Field(None, description="Only this package version.")
    as_of: MomentIn | None = Field(
        None,
        description=(
            "Count the state of the world at this moment (default: now). With as_of or "
            "known_at the counts are worked out from the events, as the transcripts are."
        ),
    )
    known_at: MomentIn | None = Field(
        None,
        description=(
            "Count only the facts recorded by this moment (default: now); known_at = as_of "
            "counts what the record showed then."
        ),
    )

    def filters(self) -> ReportFilters:
        return selectors.make_filters(
            date_from=self.date_from,
            date_to=self.date_to,
            package_id=self.package_id,
            version_id=self.version_id,
            as_of=self.as_of,
            known_at=self.known_at,
        )


class ReportFiltersOut(Schema):
    """The filters applied, named as they were given: the moment ``from`` is included,
    ``to`` excluded (null: unbounded)."""

    date_from: datetime | None = Field(
        alias="from", description="The start of the range (included), the `from` day's start."
    )
    date_to: datetime | None = Field(
        alias="to", description="The end of the range (excluded), the `to` day's start."
    )
    package_id: int | None
    version_id: int | None
    as_of: datetime | None = Field(description="The moment counted; null: now.")
    known_at: datetime | None = Field(description="Facts recorded by then count; null: now.")
    timeline: str = Field(description="Which timeline the report counts, in words.")


class CountsOut(Schema):
    """Enrollment counts. ``enrolled`` = not_started + in_progress + completed (open
    enrollments); withdrawn enrollments are only in ``withdrawn``."""

    enrolled: int
    withdrawn: int
    not_started: int
    in_progress: int
    completed: int
    completion_rate_percent: float | None = Field(
        description="100 * completed / enrolled, one decimal; null when nobody is enrolled."
    )
    completed_in_range: int = Field(
        description="Open enrollments whose completed_at is in the range, whenever enrolled."
    )


class VersionReportOut(CountsOut):
    version_id: int
    version_number: int
    name: str
    status: str


class PackageReportOut(Schema):
    package_id: int
    name: str
    category: str
    totals: CountsOut
    versions: list[VersionReportOut]


class PackagesReportOut(Schema):
    filters: ReportFiltersOut
    items: list[PackageReportOut]


class CourseReportOut(Schema):
    course_id: int
    code: str
    name: str
    learners_completed: int = Field(
        description="Distinct learners with a completed or passed event that is not voided."
    )
    failed_attempts: int = Field(description="Failed events that are not voided.")
    events_voided: int = Field(description="Events in the range that were later voided.")


class CoursesReportOut(Schema):
    filters: ReportFiltersOut
    items: list[CourseReportOut]


class LearnerReportOut(Schema):
    learner_id: int
    username: str
    full_name: str
    enrollments: int = Field(description="Open enrollments begun in the range.")
    withdrawn: int
    not_started: int
    in_progress: int
    completed: int
    last_completed_at: datetime | None


class LearnersReportOut(Schema):
    filters: ReportFiltersOut
    count: int
    limit: int
    offset: int
    items: list[LearnerReportOut]


def _filters_out(filters: ReportFilters) -> dict[str, Any]:
    return {
        "from": filters.start,
        "to": filters.end,
        "package_id": filters.package_id,
        "version_id": filters.version_id,
        "as_of": filters.as_of,
        "known_at": filters.known_at,
        "timeline": filters.timeline,
    }


def _counts(counts: StatusCounts) -> dict[str, Any]:
    return {
        "enrolled": counts.enrolled,
        "withdrawn": counts.withdrawn,
        "not_started": counts.not_started,
        "in_progress": counts.in_progress,
        "completed": counts.completed,
        "completion_rate_percent": counts.completion_percent,
        "completed_in_range": counts.completed_in_range,
    }


@router.get("/reports/packages", response=responses({200: PackagesReportOut}, 409), by_alias=True)
@decorate_view(reads_from_replica)
def packages_report(request: HttpRequest, query: Query[ReportQuery]) -> Any:
    """Enrollment counts per package (all versions together) and per released version.

    On a past timeline over more enrollments than a request works out: 409, request it
    as an export job."""
    user = require(request, *READERS, Role.MANAGER)
    filters = for_viewer(query.filters(), user)
    export_jobs.require_short_timeline(filters)
    return {
        "filters": _filters_out(filters),
        "items": [
            {
                "package_id": p.package_id,
                "name": p.name,
                "category": p.category,
                "totals": _counts(p.totals),
                "versions": [
                    {
                        "version_id": v.version_id,
                        "version_number": v.version_number,
                        "name": v.name,
                        "status": v.state,
                        **_counts(v.counts),
                    }
                    for v in p.versions
                ],
            }
            for p in selectors.package_report(filters)
        ],
    }


@router.get("/reports/courses", response=responses({200: CoursesReportOut}), by_alias=True)
@decorate_view(reads_from_replica)
def courses_report(request: HttpRequest, query: Query[ReportQuery]) -> Any:
    """Per course: learners who completed it, failed attempts, voided events."""
    user = require(request, *READERS, Role.MANAGER)
    filters = for_viewer(query.filters(), user)
    return {
        "filters": _filters_out(filters),
        "items": [vars(row) for row in selectors.course_report(filters)],
    }


@router.get("/reports/learners", response=responses({200: LearnersReportOut}, 409), by_alias=True)
@decorate_view(reads_from_replica)
def learners_report(
    request: HttpRequest, query: Query[ReportQuery], page: Query[OffsetPageParams]
) -> Any:
    """Per learner, by username: enrollments by status and the last completion (paged).

    On a past timeline over more enrollments than a request works out: 409, request it
    as an export job."""
    user = require(request, *READERS, Role.MANAGER)
    filters = for_viewer(query.filters(), user)
    export_jobs.require_short_timeline(filters)
    return {
        "filters": _filters_out(filters),
        "count": selectors.learner_count(filters),
        "limit": page.limit,
        "offset": page.offset,
        "items": [
            vars(row)
            for row in selectors.learner_rows(filters, offset=page.offset, limit=page.limit)
        ],
    }
