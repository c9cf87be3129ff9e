"""Read background jobs: their progress, as the API, the page and the CLI show it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.jobs.errors import JobNotFound
from coursepack.jobs.models import Job, JobKind, JobStatus


@dataclass(frozen=True)
class JobProgress:
    """A job's state and how far it got."""

    id: int
    kind: str
    # What the kind is called on pages ("People sync").
    kind_label: str
    status: str
    actor: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total: int
    done: int
    percent: int
    result: dict[str, object]
    error: str


def live_progress_path(job_id: int) -> Path:
    """Return where a SQLite installation's one-transaction job writes how far it got
    (its rows are invisible until it commits, and the database is one file on one host)."""
    return Path(settings.VAR_DIR) / "jobs" / f"{job_id}.progress.json"


def _live_done(job: Job) -> int:
    if job.status != "running" or connection.vendor == "postgresql":
        return job.done
    try:
        data = json.loads(live_progress_path(job.pk).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return job.done
    return max(job.done, int(data.get("done", 0)))


def job_progress(job_id: int) -> JobProgress:
    """Return the progress of job ``job_id``, or raise JobNotFound."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        raise JobNotFound(f"There is no job with id {job_id}.")
    total = max(job.total, 0)
    job.done = _live_done(job)
    percent = (
        100 if job.status == "succeeded" else (min(99, job.done * 100 // total) if total else 0)
    )
    return JobProgress(
        id=job.pk,
        kind=job.kind,
        kind_label=JobKind(job.kind).label if job.kind in JobKind.values else job.kind,
        status=job.status,
        actor=job.actor_label,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        total=total,
        done=min(job.done, total) if total else job.done,
        percent=percent,
        result=dict(job.result or {}),
        error=job.error.split("\n\n")[0] if job.error else "",
    )


@dataclass(frozen=True)
class FullRun:
    """The result of the newest finished full verification (an AUDIT_VERIFY job)."""

    job_id: int
    finished_at: datetime
    intact: bool
    checked: int
    rows_checked: int
    unkeyed: int
    first_bad_id: int | None
    reason: str


@dataclass(frozen=True)
class VerificationStatus:
    """What the verification page and API show: the last full run, and a check made now
    of only the records appended since it (of every record when no full run exists)."""

    full_run: FullRun | None
    # The check made now: since the last full run, or of everything without one.
    now: audit.ChainReport
    incremental: bool
    checked_at: datetime
    # A full run queued or running now, if any.
    pending_job_id: int | None

    @property
    def intact(self) -> bool:
        return self.now.intact and (self.full_run is None or self.full_run.intact)

    @property
    def first_bad_id(self) -> int | None:
        if not self.now.intact:
            return self.now.first_bad_id
        return self.full_run.first_bad_id if self.full_run else None

    @property
    def reason(self) -> str:
        if not self.now.intact:
            return self.now.reason
        return self.full_run.reason if self.full_run else ""


def verification_status() -> VerificationStatus:
    """Return the last full verification's result and check the records appended since.

    The check made here reads only the records after the last full run's newest
    record (starting from its hash), verifies their keyed hashes, the signed head,
    and the rows those new records vouch for. Older records and rows are covered by
    the full runs, which the worker makes every ``AUDIT_VERIFY_EVERY_HOURS``.
    """
    finished = (
        Job.objects.filter(kind=JobKind.AUDIT_VERIFY, status=JobStatus.SUCCEEDED)
        .exclude(result={})
        .order_by("-finished_at", "-id")
        .first()
    )
    pending = (
        Job.objects.filter(
            kind=JobKind.AUDIT_VERIFY, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)
        )
        .values_list("pk", flat=True)
        .first()
    )
    full_run = None
    since = None
    if finished is not None and finished.finished_at is not None:
        r = finished.result
        full_run = FullRun(
            job_id=finished.pk,
            finished_at=finished.finished_at,
            intact=bool(r.get("intact")),
            checked=int(r.get("checked", 0)),
            rows_checked=int(r.get("rows_checked", 0)),
            unkeyed=int(r.get("unkeyed", 0)),
            first_bad_id=r.get("first_bad_id"),
            reason=str(r.get("reason", "")),
        )
        if r.get("last_id"):
            since = (int(r["last_id"]), str(r.get("last_hash", "")))
    report = audit.verify_chain(since=since)
    return VerificationStatus(
        full_run=full_run,
        now=report,
        incremental=since is not None,
        checked_at=timezone.now(),
        pending_job_id=pending,
    )


def jobs_of_kind(kind: str, *, offset: int = 0, limit: int = 50) -> list[JobProgress]:
    """Return a page of the jobs of ``kind``, newest first."""
    ids = Job.objects.filter(kind=kind).order_by("-created_at", "-id").values_list("pk", flat=True)
    return [job_progress(pk) for pk in ids[offset : offset + limit]]


def count_of_kind(kind: str) -> int:
    """Return how many jobs of ``kind`` there are."""
    return Job.objects.filter(kind=kind).count()
