"""The django-tasks tasks the worker runs (``manage.py run_jobs``)."""

from __future__ import annotations

from django_tasks import task

from coursepack.jobs import api as jobs
from coursepack.jobs import exports
from coursepack.learning import api as learning


@task()
def run_job_task(job_id: int) -> int:
    """Run (or resume) job ``job_id``; return its id."""
    return jobs.run_job(job_id).pk


@task()
def settle_schedules_task() -> int:
    """Let due scheduled versions take effect, and recompute the stored statuses of the
    periods whose waiver has lapsed (reads are right without it; ADR 0022); return how
    many packages were settled. Remove the export files past their keeping time."""
    settled = jobs.settle_due_schedules()
    learning.settle_lapsed_exemptions(actor=None)
    exports.remove_expired_exports()
    return settled


@task()
def reminders_task() -> int | None:
    """Queue a reminder run unless one is queued or running; return its job id."""
    if not jobs.reminder_run_due():
        return None
    return jobs.start_reminder_run(actor=None).pk
