"""Read background jobs: their progress, as the API, the page and the CLI show it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connection

from coursepack.jobs.errors import JobNotFound
from coursepack.jobs.models import Job


@dataclass(frozen=True)
class JobProgress:
    """A job's state and how far it got."""

    id: int
    kind: str
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
