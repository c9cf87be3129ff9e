"""Large XLSX exports as background jobs (ADR 0031).

One rule decides where an XLSX export is written: more than
``EXPORT_INLINE_MAX_ROWS`` rows (learners of a report, people of the matrix) and it
is an EXPORT job, written by the worker to a file under ``EXPORTS_DIR``; at or
under it, the request writes it at once. CSV always streams.

A job reads everything it writes in one read transaction (one consistent moment,
``reports.exports.reading_one_moment``) and reports its progress where readers see
it before that transaction ends (``jobs.progress.LiveProgress``). Only the
requester, or an admin, sees the job and downloads its file; files are removed
``EXPORT_KEEP_HOURS`` after the job ends (``remove_expired_exports``, run by the
worker's periodic task).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.accounts.errors import PermissionDenied
from coursepack.accounts.models import Role
from coursepack.audit import api as audit
from coursepack.errors import InvalidInput
from coursepack.jobs import selectors
from coursepack.jobs.errors import ExportExpired, ExportNotReady, ExportRunsAsJob, JobNotFound
from coursepack.jobs.models import Job, JobKind, JobStatus
from coursepack.jobs.progress import LiveProgress
from coursepack.learning import lifecycle_selectors
from coursepack.packaging import selectors as packaging_selectors
from coursepack.reports import exports, lifecycle_tables, matrix, tables
from coursepack.reports import scope as report_scope
from coursepack.reports import selectors as report_selectors
from coursepack.reports.selectors import ReportFilters

__all__ = [
    "EXPORTS",
    "ExportFile",
    "ExportName",
    "counts_steps",
    "download_name",
    "exceptions_rows",
    "expires_at",
    "export_file",
    "export_job",
    "export_progress",
    "exports_dir",
    "inline_max_rows",
    "keep_hours",
    "long_timeline",
    "matrix_rows",
    "remove_expired_exports",
    "report_rows",
    "report_steps",
    "require_inline",
    "require_short_timeline",
    "run_export",
    "runs_as_job",
    "standing_rows",
    "start_exceptions_export",
    "start_matrix_export",
    "start_report_export",
    "start_standing_export",
    "timeline_inline_max",
    "write_matrix",
    "write_report",
    "write_table",
]

ExportName = Literal["report", "matrix", "standing", "exceptions"]
#: What can be exported as a job: every report table of the reports page in one
#: workbook; the training matrix (scoped to the requester, like its page); a
#: package's learners in one standing; one section of a package's exceptions.
EXPORTS: tuple[ExportName, ...] = ("report", "matrix", "standing", "exceptions")

#: Who may request each export: the roles of its page.
_ROLES: dict[str, tuple[Role, ...]] = {
    "report": (Role.ADMIN, Role.AUDITOR),
    "matrix": (Role.ADMIN, Role.AUDITOR, Role.MANAGER),
    "standing": (Role.ADMIN, Role.AUDITOR),
    "exceptions": (Role.ADMIN, Role.AUDITOR),
}


def inline_max_rows() -> int:
    """Return the most rows an XLSX export writes in the request (``EXPORT_INLINE_MAX_ROWS``)."""
    return int(getattr(settings, "EXPORT_INLINE_MAX_ROWS", 5000))


def runs_as_job(rows: int) -> bool:
    """Return whether an XLSX export of ``rows`` rows runs as a job (the one rule)."""
    return rows > inline_max_rows()


def keep_hours() -> float:
    """Return how many hours an export's file is kept after its job ends."""
    return float(getattr(settings, "EXPORT_KEEP_HOURS", 24))


def require_inline(rows: int, export: ExportName) -> None:
    """Refuse (ExportRunsAsJob) an export of more rows than a request writes: the rule,
    where the caller cannot be offered a job (a GET of the API)."""
    if runs_as_job(rows):
        raise ExportRunsAsJob(
            f"This export has {rows} rows, more than the {inline_max_rows()} written in a "
            f"request: request it with POST /api/v1/exports (kind {export}) and download "
            "its file when it is written."
        )


def exports_dir() -> Path:
    """Return the folder export jobs write their files to (``EXPORTS_DIR``)."""
    return Path(getattr(settings, "EXPORTS_DIR", Path(settings.VAR_DIR) / "exports"))


def _keep() -> timedelta:
    return timedelta(hours=keep_hours())


def _path(job_id: int) -> Path:
    return exports_dir() / f"export-{job_id}.xlsx"


def _may_request(viewer: User, export: str) -> None:
    role = accounts.role_of(viewer)
    if role not in _ROLES[export]:
        raise PermissionDenied(
            f"This export needs the role {' or '.join(r.label.lower() for r in _ROLES[export])}."
        )


# --- The rows of each export, and writing them ---------------------------------------


def report_rows(filters: ReportFilters) -> int:
    """Return how many rows the rule counts for a report export: its learners (on a past
    timeline, at most those with an enrollment it works out: counted without working
    any out, which is the export's work)."""
    if filters.on_timeline:
        return report_scope.timeline_learners(filters, timezone.now())
    return report_selectors.learner_count(filters)


def timeline_inline_max() -> int:
    """Return the most enrollments a report on a past timeline works out in a request
    (``REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS``)."""
    return int(getattr(settings, "REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS", 1000))


def long_timeline(filters: ReportFilters) -> int | None:
    """Return how many enrollments a report on the filters' past timeline works out, if
    that is more than a request works out (it is then prepared as an export job, ADR
    0039); None if the request may work it out (or it is not on a timeline)."""
    work = report_scope.timeline_enrollments(filters, timezone.now())
    return work if work > timeline_inline_max() else None


def require_short_timeline(filters: ReportFilters) -> None:
    """Refuse (ExportRunsAsJob) a report on a past timeline longer than a request works
    out, where the caller cannot be offered a job (a GET of the API)."""
    work = long_timeline(filters)
    if work is not None:
        raise ExportRunsAsJob(
            f"This report on a past timeline works out {work} enrollments from their events, "
            f"more than the {timeline_inline_max()} worked out in a request: request it with "
            "POST /api/v1/exports (kind report) and download its file when it is written."
        )


def matrix_rows(viewer: User, filters: matrix.MatrixFilters) -> int:
    """Return how many rows the rule counts for a matrix export: the people in it."""
    return matrix.people(matrix.scope_for(viewer), filters).count()


def standing_rows(*, package_id: int, standing: str, within_days: int, search: str) -> int:
    """Return how many rows the rule counts for a standing export: its learners."""
    return lifecycle_tables.standing_rows(
        package_id, standing, now=timezone.now(), within_days=within_days, search=search
    )


def exceptions_rows(*, package_id: int, section: str, within_days: int) -> int:
    """Return how many rows the rule counts for an exceptions export: the section's."""
    found = lifecycle_selectors.package_exceptions(package_id, lapsing_within_days=within_days)
    return int(lifecycle_tables.section_rows(found, section).count())


def _counted(rows: Iterable[tables.TableRow], progress: Callable[[int], None]) -> Iterator[Any]:
    for row in rows:
        yield row
        progress(1)


def report_steps(filters: ReportFilters) -> int:
    """Return the steps of a report export's progress: its learner rows and, on a past
    timeline, first the enrollments it works out (most of its time) and, with no
    package or version chosen, every course its course table counts from the events."""
    rows = report_rows(filters)
    if filters.on_timeline:
        rows += report_scope.timeline_enrollments(filters, timezone.now())
        rows += report_selectors.course_steps(filters)
    return rows


def counts_steps(job: Job) -> bool:
    """Return whether an export's progress counts steps (``report_steps``: a report on a
    past timeline) rather than rows."""
    params = job.params or {}
    chosen = params.get("filters") or {}
    return params.get("export") == "report" and bool(chosen.get("as_of") or chosen.get("known_at"))


def write_report(
    filters: ReportFilters, out: IO[bytes] | str, *, progress: Callable[[int], None] | None = None
) -> int:
    """Write every report table for ``filters`` to ``out``, one sheet each: the inline
    download and the job write exactly this. Return the learner rows written.

    ``progress(n)`` hears of the steps of ``report_steps``: on a past timeline, each
    enrollment worked out, then each course counted (every course's table), then each
    learner row. The answers on a timeline are worked
    out once for every table (``answers_kept``): each table's counting held them all
    anyway, so this keeps no more at once, and a job over a long timeline did the work
    three times.
    """
    written = 0

    def row_written(n: int) -> None:
        nonlocal written
        written += n
        if progress is not None:
            progress(n)

    def report_tables() -> Iterator[tables.ReportTable]:
        for kind in tables.TABLE_KINDS:
            table = tables.report_table(kind, filters)
            if kind == "learners":
                table = dataclasses.replace(table, rows=_counted(table.rows, row_written))
            yield table

    # A download written in the request has no progress to follow (nor counts its
    # courses in steps).
    heard = nullcontext() if progress is None else report_scope.answers_heard(progress)
    with report_scope.answers_kept(), heard:
        exports.write_xlsx(report_tables(), out)
    return written


def write_table(
    table: tables.ReportTable,
    out: IO[bytes] | str,
    *,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write one table (a standing's learners, a section of exceptions) as a workbook:
    what the inline download writes too."""
    if progress is not None:
        table = dataclasses.replace(table, rows=_counted(table.rows, progress))
    exports.write_xlsx([table], out)


def write_matrix(
    viewer: User,
    filters: matrix.MatrixFilters,
    out: IO[bytes],
    *,
    sort: str = "name",
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the whole filtered matrix of ``viewer``'s scope (no cap on people) to
    ``out``; return how many people it holds."""
    return matrix.write_matrix_xlsx(
        matrix.scope_for(viewer), filters, out, sort=sort, now=now, limit=None, progress=progress
    )


# --- Starting a job ---------------------------------------------------------------------


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _create(*, actor: User, export: ExportName, filters: dict[str, Any], total: int) -> Job:
    now = timezone.now()
    params = {
        "export": export,
        "filters": filters,
        "requester_id": actor.pk,
        "time_zone": timezone.get_current_timezone_name(),
    }
    job = Job.objects.create(
        kind=JobKind.EXPORT,
        params=params,
        created_at=now,
        created_by=actor,
        actor_label=audit.actor_label(actor),
        total=total,
    )
    audit.record(
        actor=actor, action="job.queued", target=job, at=now, after={"kind": "export", **params}
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from coursepack.jobs.tasks import run_job_task

    run_job_task.enqueue(job_id)


def start_report_export(*, actor: User, filters: ReportFilters) -> Job:
    """Queue an XLSX of every report table for ``filters`` (admins and auditors)."""
    _may_request(actor, "report")
    with transaction.atomic():
        return _create(
            actor=actor,
            export="report",
            filters={
                "start": _moment(filters.start),
                "end": _moment(filters.end),
                "package_id": filters.package_id,
                "version_id": filters.version_id,
                "as_of": _moment(filters.as_of),
                "known_at": _moment(filters.known_at),
            },
            total=report_steps(filters),
        )


def start_matrix_export(*, actor: User, filters: matrix.MatrixFilters, sort: str = "name") -> Job:
    """Queue an XLSX of the training matrix as ``actor`` sees it (their scope), every
    person in it, cells coloured by standing (admins, auditors and managers)."""
    _may_request(actor, "matrix")
    problems = []
    if filters.state and filters.state not in matrix.STATES:
        problems.append(f"state: must be one of {', '.join(matrix.STATES)}")
    if sort not in matrix.SORTS:
        problems.append(f"sort: must be one of {', '.join(matrix.SORTS)}")
    if problems:
        raise InvalidInput("The matrix export cannot be started.", problems=problems)
    with transaction.atomic():
        return _create(
            actor=actor,
            export="matrix",
            filters={**dataclasses.asdict(filters), "sort": sort},
            total=matrix_rows(actor, filters),
        )


def _lifecycle_params(
    field: str, package_id: int, name: str, choices: Mapping[str, str], within_days: int
) -> None:
    """Refuse an unknown standing or section, or a window out of range (InvalidInput),
    and a package that does not exist (PackageNotFound)."""
    problems = []
    if name not in choices:
        problems.append(f"{field}: must be one of {', '.join(choices)}")
    if not 0 <= within_days <= 3660:
        problems.append("within_days: must be from 0 to 3660")
    if problems:
        raise InvalidInput("The export cannot be started.", problems=problems)
    packaging_selectors.get_package(package_id)


def start_standing_export(
    *, actor: User, package_id: int, standing: str, within_days: int = 30, search: str = ""
) -> Job:
    """Queue an XLSX of a package's learners in one standing (admins and auditors)."""
    _may_request(actor, "standing")
    _lifecycle_params("standing", package_id, standing, lifecycle_tables.LABELS, within_days)
    with transaction.atomic():
        return _create(
            actor=actor,
            export="standing",
            filters={
                "package_id": package_id,
                "standing": standing,
                "within_days": within_days,
                "search": search,
            },
            total=standing_rows(
                package_id=package_id, standing=standing, within_days=within_days, search=search
            ),
        )


def start_exceptions_export(
    *, actor: User, package_id: int, section: str, within_days: int = 30
) -> Job:
    """Queue an XLSX of one section of a package's exceptions (admins and auditors)."""
    _may_request(actor, "exceptions")
    _lifecycle_params("section", package_id, section, lifecycle_tables.SECTIONS, within_days)
    with transaction.atomic():
        return _create(
            actor=actor,
            export="exceptions",
            filters={"package_id": package_id, "section": section, "within_days": within_days},
            total=exceptions_rows(package_id=package_id, section=section, within_days=within_days),
        )


def _lifecycle_table(export: str, data: Mapping[str, Any], now: datetime) -> tables.ReportTable:
    package = packaging_selectors.get_package(int(data["package_id"]))
    if export == "standing":
        return lifecycle_tables.standing_table(
            package,
            str(data["standing"]),
            now=now,
            within_days=int(data["within_days"]),
            search=str(data.get("search", "")),
        )
    found = lifecycle_selectors.package_exceptions(
        package.pk, now=now, lapsing_within_days=int(data["within_days"])
    )
    return lifecycle_tables.exceptions_table(package, str(data["section"]), found)


# --- Running it -------------------------------------------------------------------------


def _report_filters(data: Mapping[str, Any]) -> ReportFilters:
    def moment(name: str) -> datetime | None:
        value = data.get(name)
        return None if value is None else datetime.fromisoformat(value)

    return ReportFilters(
        start=moment("start"),
        end=moment("end"),
        package_id=data.get("package_id"),
        version_id=data.get("version_id"),
        as_of=moment("as_of"),
        known_at=moment("known_at"),
    )


def _matrix_filters(data: Mapping[str, Any]) -> tuple[matrix.MatrixFilters, str]:
    return (
        matrix.MatrixFilters(
            org_unit_id=data.get("org_unit_id"),
            manager_id=data.get("manager_id"),
            state=data.get("state", ""),
            package_ids=tuple(data.get("package_ids", ())),
            search=data.get("search", ""),
        ),
        str(data.get("sort", "name")),
    )


def download_name(job: Job, day: date) -> str:
    """Return the file name a download of the job's export is given."""
    export, data = job.params.get("export"), job.params.get("filters", {})
    if export == "matrix":
        return matrix.export_filename(day)
    if export == "standing":
        return exports.export_filename(f"standing-{data['standing']}", "xlsx", day)
    if export == "exceptions":
        return exports.export_filename(f"exceptions-{data['section']}", "xlsx", day)
    return exports.export_filename("all", "xlsx", day)


def run_export(job: Job) -> None:
    """Write the job's export to its file, everything read at one moment.

    A restart writes the file again from the start (nothing of a cut-short run is
    kept): the file appears, complete, only when it is written.
    """
    params = job.params
    Job.objects.filter(pk=job.pk).update(done=0)
    requester = get_user_model().objects.get(pk=params["requester_id"])
    live = LiveProgress(job)
    target = _path(job.pk)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_suffix(".part")
    try:
        with timezone.override(params.get("time_zone")), exports.reading_one_moment():
            moment = timezone.now()
            with scratch.open("wb") as out:
                if params["export"] == "matrix":
                    filters, sort = _matrix_filters(params["filters"])
                    rows = write_matrix(
                        requester, filters, out, sort=sort, now=moment, progress=live.add
                    )
                elif params["export"] in ("standing", "exceptions"):
                    table = _lifecycle_table(params["export"], params["filters"], moment)
                    write_table(table, out, progress=live.add)
                    rows = live.done
                else:
                    rows = write_report(_report_filters(params["filters"]), out, progress=live.add)
        os.replace(scratch, target)
    finally:
        live.close()
        scratch.unlink(missing_ok=True)
    job.refresh_from_db()
    job.done = max(live.done, rows)
    job.total = max(job.total, job.done)
    job.result = {
        "rows": rows,
        "bytes": target.stat().st_size,
        "as_of": moment.isoformat(),
        "filename": download_name(job, timezone.localdate(moment)),
    }
    job.save(update_fields=["done", "total", "result"])


# --- Reading it -------------------------------------------------------------------------


def _export_job(viewer: User, job_id: int) -> Job:
    """Return the export job ``job_id`` if ``viewer`` asked for it or is an admin;
    otherwise JobNotFound, whether or not it exists."""
    job = Job.objects.filter(pk=job_id, kind=JobKind.EXPORT).first()
    if job is None or not (
        job.created_by_id == viewer.pk or accounts.role_of(viewer) == Role.ADMIN
    ):
        raise JobNotFound(f"There is no export with id {job_id}.")
    return job


def export_job(*, viewer: User, job_id: int) -> Job:
    """Return the export job ``job_id`` if ``viewer`` may see it (its requester or an
    admin), or raise JobNotFound."""
    return _export_job(viewer, job_id)


def expires_at(job: Job) -> datetime | None:
    """Return when the export's file is removed (None while the job runs)."""
    return job.finished_at + _keep() if job.finished_at else None


def export_progress(*, viewer: User, job_id: int) -> selectors.JobProgress:
    """Return the progress of an export job ``viewer`` may see, or raise JobNotFound."""
    return selectors.job_progress(_export_job(viewer, job_id).pk)


@dataclass(frozen=True)
class ExportFile:
    """An export's written file and the name to download it under."""

    path: Path
    filename: str


def export_file(*, viewer: User, job_id: int, now: datetime | None = None) -> ExportFile:
    """Return the file of a finished export ``viewer`` may download; raise JobNotFound,
    ExportNotReady (queued, running or failed) or ExportExpired (removed)."""
    job = _export_job(viewer, job_id)
    if job.status != JobStatus.SUCCEEDED:
        if job.status == JobStatus.FAILED:
            raise ExportNotReady(f"Export {job_id} stopped on an error: request it again.")
        raise ExportNotReady(f"Export {job_id} is not written yet ({job.done} of {job.total}).")
    path = _path(job.pk)
    ends = expires_at(job)
    if (
        job.result.get("removed_at")
        or not path.exists()
        or (ends and ends <= (now or timezone.now()))
    ):
        raise ExportExpired(
            f"The file of export {job_id} was removed {int(_keep().total_seconds() // 3600)} "
            "hours after it was written: request the export again."
        )
    return ExportFile(path=path, filename=str(job.result.get("filename", path.name)))


def remove_expired_exports(now: datetime | None = None) -> int:
    """Remove the files of exports that ended more than ``EXPORT_KEEP_HOURS`` ago (and
    mark their jobs); return how many files were removed. The worker runs this
    periodically; it is idempotent."""
    now = now or timezone.now()
    ended = Job.objects.filter(
        kind=JobKind.EXPORT,
        status__in=(JobStatus.SUCCEEDED, JobStatus.FAILED),
        finished_at__lte=now - _keep(),
    ).exclude(result__has_key="removed_at")
    removed = 0
    for job in ended.order_by("pk"):
        with transaction.atomic():
            _path(job.pk).unlink(missing_ok=True)
            job.result = {**job.result, "removed_at": now.isoformat()}
            job.save(update_fields=["result"])
            audit.record(
                actor=None,
                action="export.file_removed",
                target=job,
                at=now,
                after={"kept_hours": _keep().total_seconds() / 3600},
            )
        removed += 1
    return removed
