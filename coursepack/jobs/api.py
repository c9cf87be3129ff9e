"""Start, run and resume background jobs (ADR "task framework").

A job is a row (``Job``) and a django-tasks task that runs it. The row says what
to do and how far it got; the task does it in chunks, each chunk one transaction
that also advances the row's cursor and writes the chunk's audit record. So a
worker killed mid-job loses at most the chunk it was in (rolled back); the next
worker start resumes after the cursor, and a chunk run twice changes nothing
(learners already enrolled are skipped, drift already fixed is gone).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.errors import InvalidInput
from coursepack.interchange import legacy
from coursepack.jobs.errors import JobNotFound
from coursepack.jobs.models import Job, JobKind, JobStatus
from coursepack.jobs.selectors import live_progress_path
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from coursepack.packaging.models import Package, PackageVersion
from coursepack.validation import collecting

__all__ = [
    "get_job",
    "resume_unfinished",
    "run_job",
    "settle_due_schedules",
    "start_bulk_enroll",
    "start_legacy_import",
    "start_rebuild",
]


def _chunk_size() -> int:
    # Small enough that one chunk holds the write lock well under a second.
    return int(getattr(settings, "JOB_CHUNK_LEARNERS", 250))


def _create(*, actor: Actor, kind: str, params: dict[str, Any], total: int) -> Job:
    now = timezone.now()
    job = Job.objects.create(
        kind=kind,
        params=params,
        created_at=now,
        created_by=actor if isinstance(actor, User) else None,
        actor_label=audit.actor_label(actor),
        total=total,
    )
    audit.record(
        actor=actor, action="job.queued", target=job, at=now, after={"kind": kind, **params}
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from coursepack.jobs.tasks import run_job_task

    run_job_task.enqueue(job_id)


def start_bulk_enroll(
    *,
    actor: Actor,
    package_id: int,
    learner_ids: list[int] | None = None,
    all_learners: bool = False,
    notes: str = "",
    atomic: bool = False,
) -> Job:
    """Queue a bulk enrolment of ``learner_ids`` (or every active learner) in a package.

    It runs in chunks of learners, each committed and audited on its own, unless
    ``atomic``: then all of it is one transaction (all or nothing), which holds
    the write lock — every other write waits — for as long as it runs.
    """
    with collecting("The bulk enrolment cannot be started.") as problems:
        if (learner_ids is None) == (not all_learners):
            problems.add("learner_ids", "give the learners, or all_learners, not both")
        notes = problems.text("notes", notes, max_length=20_000, required=False)
    with transaction.atomic():
        if not Package.objects.filter(pk=package_id).exists():
            from coursepack.packaging.errors import PackageNotFound

            raise PackageNotFound(f"There is no package with id {package_id}.")
        ids = sorted(set(learner_ids or []))
        total = (
            get_user_model().objects.filter(is_active=True).count() if all_learners else len(ids)
        )
        return _create(
            actor=actor,
            kind=JobKind.BULK_ENROLL,
            params={
                "package_id": package_id,
                "learner_ids": None if all_learners else ids,
                "notes": notes,
                "atomic": atomic,
            },
            total=total,
        )


def start_rebuild(*, actor: Actor) -> Job:
    """Queue a rebuild of every stored status (each batch committed and audited)."""
    from coursepack.learning.models import Enrollment

    with transaction.atomic():
        return _create(
            actor=actor,
            kind=JobKind.REBUILD_STATUSES,
            params={},
            total=Enrollment.objects.count(),
        )


def get_job(job_id: int) -> Job:
    """Return a job, or raise JobNotFound."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        raise JobNotFound(f"There is no job with id {job_id}.")
    return job


def _actor_of(job: Job) -> Actor:
    if job.created_by_id is not None:
        return get_user_model().objects.get(pk=job.created_by_id)
    return audit.Operator(job.actor_label)


def _learners_after(job: Job, size: int) -> Iterator[list[int]]:
    """Yield the job's remaining learner ids, in id order, ``size`` at a time."""
    given = job.params.get("learner_ids")
    cursor = job.cursor
    while True:
        if given is not None:
            chunk = [i for i in given if i > cursor][:size]
        else:
            chunk = list(
                get_user_model()
                .objects.filter(is_active=True, pk__gt=cursor)
                .order_by("pk")
                .values_list("pk", flat=True)[:size]
            )
        if not chunk:
            return
        yield chunk
        cursor = chunk[-1]


def _run_bulk_enroll(job: Job) -> None:
    actor = _actor_of(job)
    params = job.params
    size = _chunk_size()
    if params.get("atomic"):
        # All or nothing: one transaction, one audit record.
        size = max(job.total, 1) + 1
    totals = dict(job.result or {"enrolled": 0, "already_enrolled": 0, "unknown_learners": 0})
    for chunk in _learners_after(job, size):
        with transaction.atomic():
            result = learning.bulk_enroll(
                actor=actor,
                package_id=params["package_id"],
                learner_ids=chunk,
                notes=f"{params.get('notes', '')} (job {job.pk})".strip(),
            )
            totals["enrolled"] += result.enrolled
            totals["already_enrolled"] += len(result.already_enrolled)
            totals["unknown_learners"] += len(result.unknown_learners)
            job.cursor = chunk[-1]
            job.done += len(chunk)
            job.result = totals
            job.save(update_fields=["cursor", "done", "result"])


def _run_rebuild(job: Job) -> None:
    def progress(n: int) -> None:
        Job.objects.filter(pk=job.pk).update(done=F("done") + n)

    report = learning.rebuild_statuses(actor=_actor_of(job), fix=True, progress=progress)
    job.result = {"checked": report.checked, "drifted": len(report.drifted)}
    job.save(update_fields=["result"])


def start_legacy_import(
    *,
    actor: Actor,
    source: str,
    mapping: str | None = None,
    skip_orphans: bool = False,
    report: str | None = None,
) -> Job:
    """Queue a migration of the legacy database ``source`` (``import_legacy`` as a job).

    It is one transaction, all or nothing, like the command: readers see none of
    it until it commits, only the job's progress. The source and mapping are
    checked now, so a job that cannot start is never queued. A PostgreSQL
    source's password is refused in the URL (the job stores the URL): the worker
    takes it from libpq's PGPASSWORD or ~/.pgpass.
    """
    if legacy.redacted(source) != source:
        raise InvalidInput(
            "The legacy database URL must not hold a password: the job stores it. "
            "Give the password to the worker in PGPASSWORD or ~/.pgpass."
        )
    with legacy.LegacySource(source) as legacy_source:
        legacy.load_mapping(Path(mapping) if mapping else None)
        rows = legacy_source.count("user_package_enrollments") + legacy_source.count(
            "user_course_completions"
        )
    with transaction.atomic():
        job = _create(
            actor=actor,
            kind=JobKind.LEGACY_IMPORT,
            params={
                "source": source,
                "mapping": str(Path(mapping).resolve()) if mapping else None,
                "skip_orphans": skip_orphans,
                "report": str(Path(report).resolve()) if report else None,
            },
            # Both passes read every enrollment and completion row.
            total=2 * rows,
        )
    return job


class _LiveProgress:
    """How far a job whose work is one long transaction got, written where readers see
    it before that transaction commits: through a second connection on PostgreSQL;
    to a small file beside the database on SQLite (one host, and a second SQLite
    writer would wait for the transaction's write lock)."""

    def __init__(self, job: Job) -> None:
        self.job_id = job.pk
        self.done = 0
        self._shown = 0.0
        self._side: Any = None

    def add(self, n: int) -> None:
        self.done += n
        if time.monotonic() - self._shown >= 0.5:
            self.flush()

    def flush(self) -> None:
        self._shown = time.monotonic()
        if connection.vendor == "postgresql":
            if self._side is None:
                default = connections[DEFAULT_DB_ALIAS]
                self._side = type(default)(dict(default.settings_dict), alias="live-progress")
            table = connection.ops.quote_name(Job._meta.db_table)
            with self._side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET done = %s WHERE id = %s", [self.done, self.job_id]
                )
            return
        path = live_progress_path(self.job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps({"done": self.done}), encoding="utf-8")
        os.replace(scratch, path)

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
        live_progress_path(self.job_id).unlink(missing_ok=True)


def _run_legacy_import(job: Job) -> None:
    params = job.params
    # A restart begins again: the transaction of an interrupted run never committed.
    Job.objects.filter(pk=job.pk).update(done=0)
    live = _LiveProgress(job)

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


_RUNNERS = {
    JobKind.BULK_ENROLL: _run_bulk_enroll,
    JobKind.REBUILD_STATUSES: _run_rebuild,
    JobKind.LEGACY_IMPORT: _run_legacy_import,
}


def run_job(job_id: int) -> Job:
    """Run (or resume) a job to the end; called by the worker's task."""
    job = get_job(job_id)
    if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return job
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=job.started_at or timezone.now()
    )
    job.refresh_from_db()
    try:
        _RUNNERS[JobKind(job.kind)](job)
    except Exception as exc:
        job.refresh_from_db()
        job.status = JobStatus.FAILED
        job.error = f"{exc}\n\n{traceback.format_exc(limit=5)}"
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        raise
    job.refresh_from_db()
    with transaction.atomic():
        now = timezone.now()
        job.status = JobStatus.SUCCEEDED
        job.finished_at = now
        job.save(update_fields=["status", "finished_at"])
        audit.record(
            actor=_actor_of(job),
            action="job.finished",
            target=job,
            at=now,
            after={"done": job.done, **job.result},
        )
    return job


def resume_unfinished() -> list[int]:
    """Queue again every job a stopped worker left queued or running; return their ids."""
    ids = list(
        Job.objects.filter(status__in=(JobStatus.QUEUED, JobStatus.RUNNING))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for job_id in ids:
        _enqueue(job_id)
    return ids


def settle_due_schedules() -> int:
    """Make every scheduled version whose effective date has come take effect (with its
    publish-log and audit records); return how many packages were settled.

    Reads already derive the active version from the dates; this brings the
    stored statuses up to the clock without waiting for the package's next write.
    """
    now = timezone.now()
    due = list(
        PackageVersion.objects.filter(status="scheduled", effective_from__lte=now)
        .order_by("package_id")
        .values_list("package_id", flat=True)
        .distinct()
    )
    for package_id in due:
        with transaction.atomic():
            package = Package.objects.select_for_update().get(pk=package_id)
            packaging.settle_package(package, now)
    return len(due)
