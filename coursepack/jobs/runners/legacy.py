"""Migrate a legacy database: one transaction, all or nothing, with live progress."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from coursepack.interchange import legacy
from coursepack.jobs.models import Job
from coursepack.jobs.progress import LiveProgress


def run_legacy_import(job: Job) -> None:
    params = job.params
    # A restart begins again: the transaction of an interrupted run never committed.
    Job.objects.filter(pk=job.pk).update(done=0)
    live = LiveProgress(job)

    def progress(what: str, n: int) -> None:
        if what == "rows":
            live.add(n)

    try:
        with legacy.LegacySource(params["source"]) as source:
            mapping = legacy.load_mapping(Path(params["mapping"]) if params["mapping"] else None)
            plan = legacy.analyse(
                source,
                mapping=mapping,
                dry_run=False,
                skip_orphans=params["skip_orphans"],
                progress=progress,
            )
            prefix = Path(params["report"] or settings.VAR_DIR / f"legacy-migration-{job.pk}")
            legacy.write_report(plan.report, prefix)
            report = legacy.migrate(source, plan, progress=progress)
            legacy.write_report(report, prefix)
    finally:
        live.close()
    job.refresh_from_db()
    job.done = live.done
    job.result = {
        "written": report.written or {},
        "anomalies": sum(report.counts().values()),
        "report": f"{prefix}.md",
    }
    job.save(update_fields=["done", "result"])
