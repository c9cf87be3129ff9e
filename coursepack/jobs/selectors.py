"""Read background jobs: their progress, as the API, the page and the CLI show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coursepack.jobs.errors import JobNotFound
from coursepack.jobs.models import Job, JobKind


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


def job_progress(job_id: int) -> JobProgress:
    """Return the progress of job ``job_id``, or raise JobNotFound."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        raise JobNotFound(f"There is no job with id {job_id}.")
    total = max(job.total, 0)
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


def jobs_of_kind(kind: str, *, offset: int = 0, limit: int = 50) -> list[JobProgress]:
    """Return a page of the jobs of ``kind``, newest first."""
    ids = Job.objects.filter(kind=kind).order_by("-created_at", "-id").values_list("pk", flat=True)
    return [job_progress(pk) for pk in ids[offset : offset + limit]]


def count_of_kind(kind: str) -> int:
    """Return how many jobs of ``kind`` there are."""
    return Job.objects.filter(kind=kind).count()
