"""Audiences and the training matrix: assign a package to an audience (preview its
impact first), and read people by packages with each cell's standing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.http import FileResponse, HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from coursepack.accounts.models import Role
from coursepack.audiences import api as audiences
from coursepack.audiences import selectors
from coursepack.http.auth import ADMIN, READERS, require
from coursepack.http.jobs import JobOut
from coursepack.http.jobs import _out as job_out
from coursepack.http.pagination import PageParams, page_of, paginate
from coursepack.http.problems import responses
from coursepack.http.schemas import DateIn, Id, Input, Text
from coursepack.jobs import api as jobs
from coursepack.jobs import exports as export_jobs
from coursepack.reports import matrix
from coursepack.reports.exports import XLSX_CONTENT_TYPE

router = Router()

JobTitle = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*\S[^\x00]*$")]
# Query parameters arrive as text: a plain int (not StrictInt) parses them.
QueryId = Annotated[int, Field(ge=1, le=2**53)]
MATRIX_READERS = (*READERS, Role.MANAGER)


class RuleIn(Input):
    """An audience rule: AND across the kinds, OR within a kind (at least one criterion)."""

    org_unit_ids: list[Id] = Field(
        default_factory=list,
        max_length=500,
        description="Members work in one of these units or below.",
    )
    job_titles: list[JobTitle] = Field(
        default_factory=list,
        max_length=200,
        description="Members have one of these job titles (any case).",
    )
    hired_after: DateIn | None = Field(
        None, description="Members were hired after this day (people with no hire date are not)."
    )
    leaver_policy: Literal["withdraw", "keep"] = Field(
        "withdraw",
        description=(
            "What happens to a leaver's open enrollment: withdraw (unless complete: completed "
            "records are kept) or keep."
        ),
    )

    def rule(self) -> audiences.Rule:
        return audiences.check_rule(
            org_unit_ids=self.org_unit_ids,
            job_titles=self.job_titles,
            hired_after=self.hired_after,
            leaver_policy=self.leaver_policy,
        )


class AudienceIn(RuleIn):
    notes: Text = ""


class ImpactOut(Schema):
    members: int = Field(description="How many people the rule selects now.")
    enrol: list[int] = Field(description="Learner ids that would be enrolled.")
    withdraw: list[int] = Field(description="Learner ids whose open enrollment would be withdrawn.")
    keep: list[int] = Field(
        description="Leavers whose (completed, or kept by policy) record stays."
    )
    summary: str


class AudienceOut(Schema):
    package_id: int
    org_unit_ids: list[int]
    job_titles: list[str]
    hired_after: date | None
    leaver_policy: str
    updated_at: datetime


class SavedOut(Schema):
    audience: AudienceOut
    impact: ImpactOut = Field(description="What the save changes (computed as it was saved).")
    applied: bool = Field(description="Applied in the save; otherwise a job applies it.")
    job: JobOut | None


def _impact(impact: audiences.Impact) -> dict[str, Any]:
    return {
        "members": impact.members,
        "enrol": impact.enrol,
        "withdraw": impact.withdraw,
        "keep": impact.keep,
        "summary": impact.summary,
    }


def _audience(audience: Any) -> dict[str, Any]:
    rule = selectors.rule_of(audience)
    return {
        "package_id": audience.package_id,
        "org_unit_ids": list(rule.org_unit_ids),
        "job_titles": list(rule.job_titles),
        "hired_after": rule.hired_after,
        "leaver_policy": rule.leaver_policy,
        "updated_at": audience.updated_at,
    }


@router.get("/audiences", response=responses({200: page_of(AudienceOut)}), tags=["audiences"])
def list_audiences(request: HttpRequest, page: Query[PageParams]) -> Any:
    """Every package's audience rule, oldest first."""
    require(request, *READERS)
    result = paginate(selectors.audiences(), page, request)
    result["items"] = [_audience(a) for a in result["items"]]
    return result


@router.get(
    "/packages/{package_id}/audience",
    response=responses({200: AudienceOut}, 404),
    tags=["audiences"],
)
def get_audience(request: HttpRequest, package_id: int) -> Any:
    """A package's audience rule (404 when it has none)."""
    require(request, *READERS)
    return _audience(selectors.audience_of_package(package_id))


@router.post(
    "/packages/{package_id}/audience/preview",
    response=responses({200: ImpactOut}, 404, 409),
    tags=["audiences"],
)
def preview_audience(request: HttpRequest, package_id: int, body: RuleIn) -> Any:
    """What saving this rule would change now ("312 learners would be enrolled, 4
    withdrawn"); nothing is written."""
    require(request, *ADMIN)
    return _impact(audiences.preview(package_id=package_id, rule=body.rule()))


@router.put(
    "/packages/{package_id}/audience",
    response=responses({200: SavedOut}, 404, 409),
    tags=["audiences"],
)
def save_audience(request: HttpRequest, package_id: int, body: AudienceIn) -> Any:
    """Save the package's audience: its members are enrolled and its leavers handled by
    the leaver policy — at once, or by a job when many people change (see ``job``)."""
    actor = require(request, *ADMIN)
    saved, job = jobs.save_audience(
        actor=actor, package_id=package_id, rule=body.rule(), notes=body.notes
    )
    return {
        "audience": _audience(saved.audience),
        "impact": _impact(saved.impact),
        "applied": saved.applied,
        "job": job_out(job.pk) if job is not None else None,
    }


@router.delete(
    "/packages/{package_id}/audience",
    response={**responses({}, 404), 204: None},
    tags=["audiences"],
)
def delete_audience(request: HttpRequest, package_id: int) -> Any:
    """Remove the package's audience; the enrollments it made stay."""
    actor = require(request, *ADMIN)
    audiences.delete_audience(actor=actor, package_id=package_id)
    return Status(204, None)


class MatrixQuery(Schema):
    org_unit_id: QueryId | None = Field(None, description="This org unit and everything below it.")
    manager_id: QueryId | None = Field(None, description="People whose line manager this is.")
    state: Literal[tuple(matrix.STATES)] | None = Field(  # type: ignore[valid-type]
        None, description="People with at least one cell in this standing."
    )
    package_id: list[QueryId] = Field(
        default_factory=list,
        max_length=300,
        description="The package columns (default: a page of the active packages).",
    )
    q: str = Field("", max_length=150, pattern=r"^[^\x00]*$", description="Username contains.")
    sort: Literal["name", "-name", "unit", "-unit"] = "name"
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(matrix.PER_PAGE, ge=1, le=200)
    column_page: int = Field(1, ge=1, le=10_000)

    def filters(self) -> matrix.MatrixFilters:
        return matrix.MatrixFilters(
            org_unit_id=self.org_unit_id,
            manager_id=self.manager_id,
            state=self.state or "",
            package_ids=tuple(self.package_id),
            search=self.q,
        )


class CellOut(Schema):
    package_id: int
    state: str
    enrollment_id: int | None
    due: datetime | None
    expires: datetime | None


class MatrixPersonOut(Schema):
    person_id: int
    username: str
    name: str
    org_unit: str
    cells: list[CellOut]


class ColumnOut(Schema):
    package_id: int
    name: str


class MatrixOut(Schema):
    as_of: datetime
    columns: list[ColumnOut]
    rows: list[MatrixPersonOut]
    total: int = Field(description="People matching the filters, in the caller's scope.")
    page: int
    pages: int
    column_page: int
    column_pages: int
    states: dict[str, str] = Field(description="Each standing's key and label.")


@router.get("/matrix", response=responses({200: MatrixOut}), tags=["matrix"])
def get_matrix(request: HttpRequest, query: Query[MatrixQuery]) -> Any:
    """The training matrix: people by packages, each cell the standing now. Admins and
    auditors see everyone; a manager the people of the units they manage and below."""
    viewer = require(request, *MATRIX_READERS)
    page = matrix.matrix_page(
        matrix.scope_for(viewer),
        query.filters(),
        sort=query.sort,
        page=query.page,
        per_page=query.per_page,
        column_page=query.column_page,
    )
    return {
        "as_of": page.as_of,
        "columns": [{"package_id": p, "name": n} for p, n in page.columns],
        "rows": [
            {
                "person_id": r.person_id,
                "username": r.username,
                "name": r.full_name,
                "org_unit": r.unit,
                "cells": [
                    {
                        "package_id": column[0],
                        "state": c.state,
                        "enrollment_id": c.enrollment_id,
                        "due": c.due,
                        "expires": c.expires,
                    }
                    for column, c in zip(page.columns, r.cells, strict=True)
                ],
            }
            for r in page.rows
        ],
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
        "column_page": page.column_page,
        "column_pages": page.column_pages,
        "states": {k: label for k, (label, _) in matrix.STATES.items()},
    }


@router.get(
    "/matrix/export",
    response=responses({200: None}, 409),
    tags=["matrix"],
    openapi_extra={
        "responses": {
            "200": {
                "description": "The whole filtered matrix as XLSX, cells coloured by standing, with a legend.",
                "content": {XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def export_matrix(request: HttpRequest, query: Query[MatrixQuery]) -> Any:
    """Download the filtered matrix (every chosen package, or every active one) as XLSX.
    More people than ``EXPORT_INLINE_MAX_ROWS``: 409 — request it with POST /exports."""
    viewer = require(request, *MATRIX_READERS)
    export_jobs.require_inline(export_jobs.matrix_rows(viewer, query.filters()), "matrix")
    spool = matrix.matrix_xlsx_file(matrix.scope_for(viewer), query.filters(), sort=query.sort)
    return FileResponse(
        spool,
        as_attachment=True,
        filename=matrix.export_filename(timezone.localdate()),
        content_type=XLSX_CONTENT_TYPE,
    )
