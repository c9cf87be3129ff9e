"""A reminder run (ADR 0026): a dry run plans, a real run claims and sends."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F
from django.utils import timezone

from coursepack.jobs.chunks import actor_of
from coursepack.jobs.models import Job
from coursepack.notifications import api as notifications
from coursepack.notifications import selectors as notification_selectors


def run_reminders(job: Job) -> None:
    as_of = job.params.get("as_of")
    moment = datetime.fromisoformat(as_of) if as_of else timezone.now()
    if job.params.get("dry_run"):
        plan = notification_selectors.plan(moment)
        job.result = {"dry_run": True, **plan.as_dict()}
        job.done = 1
        job.save(update_fields=["result", "done"])
        return

    def claimed(total: int) -> None:
        Job.objects.filter(pk=job.pk).update(total=total)

    def progress(n: int) -> None:
        Job.objects.filter(pk=job.pk).update(done=F("done") + n)

    result = notifications.run_reminders(
        actor=actor_of(job), now=moment, run_id=job.pk, progress=progress, claimed=claimed
    )
    job.refresh_from_db()
    job.result = {"dry_run": False, **result.as_dict()}
    job.save(update_fields=["result"])
