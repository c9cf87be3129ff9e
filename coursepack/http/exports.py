"""XLSX exports as background jobs: request one, follow it, download its file (ADR 0031).

Only the requester (or an admin) sees an export or downloads it; to anyone else it
does not exist (404).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Router, Schema, Status

from coursepack.errors import InvalidInput
from coursepack.http.auth import caller
from coursepack.http.problems import LOCATION, response_headers, responses
from coursepack.http.schemas import DateIn, Id, Input, MomentIn
from coursepack.jobs import exports
from coursepack.reports import lifecycle_tables, matrix
from coursepack.reports import selectors as report_selectors
from coursepack.reports.exports import XLSX_CONTENT_TYPE

router = Router(tags=["exports"])

# The filters each kind of export takes (the others are refused).
_FIELDS = {
    "report": ("date_from", "date_to", "package_id", "version_id", "as_of", "known_at"),
    "matrix": ("org_unit_id", "manager_id", "state", "package_ids", "search", "sort"),
    "standing": ("package_id", "standing", "within_days", "search"),
    "exceptions": ("package_id", "section", "within_days"),
}
_ALIASES = {"date_from": "from", "date_to": "to"}


class ExportIn(Input):
    """What to export. ``report``: every table of the reports page for the report
    filters, one sheet each (admins and auditors). ``matrix``: the training matrix as
    the caller sees it, every person, cells coloured by standing (admins, auditors,
    managers). ``standing``: a package's learners in one standing; ``exceptions``:
    one section of a package's exceptions (both admins and auditors; ``package_id``
    required). Filters another kind takes are refused."""

    kind: Literal["report", "matrix", "standing", "exceptions"]
    # The report's filters (the reports API's names).
    date_from: DateIn | None = Field(
        None, alias="from", description="report: first day (included)."
    )
    date_to: DateIn | None = Field(None, alias="to", description="report: the day after the range.")
    package_id: Id | None = Field(None, description="report: only this package.")
    version_id: Id | None = Field(None, description="report: only this package version.")
    as_of: MomentIn | None = Field(None, description="report: count the state at this moment.")
    known_at: MomentIn | None = Field(None, description="report: count facts recorded by then.")
    # The matrix's filters (the matrix API's meanings).
    org_unit_id: Id | None = Field(None, description="matrix: this org unit and below.")
    manager_id: Id | None = Field(None, description="matrix: people whose line manager this is.")
    state: Literal[tuple(matrix.STATES)] | None = Field(  # type: ignore[valid-type]
        None, description="matrix: people with at least one cell in this standing."
    )
    package_ids: list[Id] = Field(
        default_factory=list, max_length=300, description="matrix: the package columns."
    )
    search: str = Field(
        "", max_length=150, pattern=r"^[^\x00]*$", description="matrix: username contains."
    )
    sort: Literal["name", "-name", "unit", "-unit"] = "name"
    # A package's standing and exceptions.
    standing: Literal[tuple(lifecycle_tables.LABELS)] | None = Field(  # type: ignore[valid-type]
        None, description="standing: the standing whose learners to export."
    )
    section: Literal[tuple(lifecycle_tables.SECTIONS)] | None = Field(  # type: ignore[valid-type]
        None, description="exceptions: the section to export."
    )
    within_days: int = Field(
        30, ge=0, le=3660, description="standing, exceptions: 'expiring' / 'lapsing' within days."
    )


class ExportOut(Schema):
    id: int
    status: str = Field(description="queued, running, succeeded or failed")
    export: str = Field(description="report, matrix, standing or exceptions")
    created_at: datetime
    finished_at: datetime | None
    total: int = Field(
        description=(
            "Rows expected (learners of a report, people of the matrix); of a report on a "
            "past timeline, steps: the enrollments it works out, then (with no package or "
            "version) every course it counts, then its learner rows."
        )
    )
    done: int
    percent: int
    rows: int | None = Field(description="Rows written, once succeeded.")
    as_of: datetime | None = Field(description="The one moment the whole export reads.")
    expires_at: datetime | None = Field(description="When the file is removed.")
    file_url: str | None = Field(description="Where to download the file, once succeeded.")
    error: str


def _out(request: HttpRequest, job_id: int) -> dict[str, Any]:
    viewer = caller(request)
    progress = exports.export_progress(viewer=viewer, job_id=job_id)
    job = exports.export_job(viewer=viewer, job_id=job_id)
    done = progress.status == "succeeded"
    return {
        **{k: v for k, v in asdict(progress).items() if k in ExportOut.model_fields},
        "export": job.params.get("export", ""),
        "rows": progress.result.get("rows") if done else None,
        "as_of": progress.result.get("as_of") if done else None,
        "expires_at": exports.expires_at(job),
        "file_url": reverse("api-v1:export_file", args=[job_id]) if done else None,
    }


@router.post(
    "/exports",
    response=responses({202: ExportOut}, 404),
    openapi_extra=response_headers(202, Location=LOCATION),
)
def start_export(request: HttpRequest, response: HttpResponse, body: ExportIn) -> Any:
    """Request an XLSX export, written in the background at one moment (202; Location
    is the export). Follow it with GET, then download its ``file_url``."""
    actor = caller(request)
    given = body.model_dump(exclude_defaults=True)
    problems = [
        f"{_ALIASES.get(name, name)}: not a filter of the {body.kind} export"
        for name in given
        if name != "kind" and name not in _FIELDS[body.kind]
    ]
    needed = {"standing": ("package_id", "standing"), "exceptions": ("package_id", "section")}
    problems += [
        f"{name}: required by the {body.kind} export"
        for name in needed.get(body.kind, ())
        if getattr(body, name) is None
    ]
    if problems:
        raise InvalidInput(f"The {body.kind} export cannot be started.", problems=problems)
    if body.kind == "standing":
        job = exports.start_standing_export(
            actor=actor,
            package_id=body.package_id,  # type: ignore[arg-type]
            standing=body.standing,  # type: ignore[arg-type]
            within_days=body.within_days,
            search=body.search,
        )
    elif body.kind == "exceptions":
        job = exports.start_exceptions_export(
            actor=actor,
            package_id=body.package_id,  # type: ignore[arg-type]
            section=body.section,  # type: ignore[arg-type]
            within_days=body.within_days,
        )
    elif body.kind == "report":
        filters = report_selectors.make_filters(
            date_from=body.date_from,
            date_to=body.date_to,
            package_id=body.package_id,
            version_id=body.version_id,
            as_of=body.as_of,
            known_at=body.known_at,
        )
        job = exports.start_report_export(actor=actor, filters=filters)
    else:
        job = exports.start_matrix_export(
            actor=actor,
            filters=matrix.MatrixFilters(
                org_unit_id=body.org_unit_id,
                manager_id=body.manager_id,
                state=body.state or "",
                package_ids=tuple(body.package_ids),
                search=body.search,
            ),
            sort=body.sort,
        )
    response["Location"] = request.build_absolute_uri(reverse("api-v1:get_export", args=[job.pk]))
    return Status(202, _out(request, job.pk))


@router.get("/exports/{job_id}", response=responses({200: ExportOut}, 404), url_name="get_export")
def get_export(request: HttpRequest, job_id: int) -> Any:
    """An export's state and progress (its requester and admins)."""
    return _out(request, job_id)


@router.get(
    "/exports/{job_id}/file",
    response=responses({200: None}, 404, 409, 410),
    url_name="export_file",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The export's XLSX file.",
                "content": {XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def export_file(request: HttpRequest, job_id: int) -> HttpResponse | FileResponse:
    """Download a finished export's file (its requester and admins); 409 while it is
    being written, 410 once it was removed."""
    found = exports.export_file(viewer=caller(request), job_id=job_id)
    return FileResponse(
        found.path.open("rb"),
        as_attachment=True,
        filename=found.filename,
        content_type=XLSX_CONTENT_TYPE,
    )
