"""Verify the whole audit chain and every row it vouches for."""

from __future__ import annotations

from django.db.models import F

from coursepack.audit import api as audit
from coursepack.jobs.models import Job


def run_audit_verify(job: Job) -> None:
    def progress(n: int) -> None:
        Job.objects.filter(pk=job.pk).update(done=F("done") + n)

    report = audit.verify_chain(progress=progress)
    job.refresh_from_db()
    job.total = max(job.done, report.checked)
    job.result = {
        "intact": report.intact,
        "checked": report.checked,
        "rows_checked": report.rows_checked,
        "unkeyed": report.unkeyed,
        "first_bad_id": report.first_bad_id,
        "reason": report.reason,
        "last_id": report.last_id,
        "last_hash": report.last_hash,
    }
    job.save(update_fields=["total", "result"])
