"""Rebuild every stored status (``learning.rebuild_statuses`` commits and audits each batch)."""

from __future__ import annotations

from django.db.models import F

from coursepack.jobs.chunks import actor_of
from coursepack.jobs.models import Job
from coursepack.learning import api as learning


def run_rebuild(job: Job) -> None:
    def progress(n: int) -> None:
        Job.objects.filter(pk=job.pk).update(done=F("done") + n)

    report = learning.rebuild_statuses(actor=actor_of(job), fix=True, progress=progress)
    job.result = {"checked": report.checked, "drifted": len(report.drifted)}
    job.save(update_fields=["result"])
