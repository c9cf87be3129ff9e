"""Start, run and resume background jobs (ADR "task framework").

A job is a row (``Job``) and a django-tasks task that runs it. The row says what
to do and how far it got; the task does it in chunks, each chunk one transaction
that also advances the row's cursor and writes the chunk's audit record. So a
worker killed mid-job loses at most the chunk it was in (rolled back); the next
worker start resumes after the cursor, and a chunk run twice changes nothing
(learners already enrolled are skipped, drift already fixed is gone).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.jobs.errors import JobNotFound
from coursepack.jobs.models import Job, JobKind, JobStatus
from coursepack.learning import api as learning
from coursepack.notifications import api as notifications
from coursepack.notifications import selectors as notification_selectors
from coursepack.organisation import api as organisation
from coursepack.packaging import api as packaging
from coursepack.packaging.models import Package, PackageVersion
from coursepack.validation import collecting

__all__ = [
    "get_job",
    "resume_unfinished",
    "run_job",
    "settle_due_schedules",
    "start_bulk_enroll",
    "start_people_sync",
    "start_rebuild",
    "start_reminder_run",
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


def start_reminder_run(
    *, actor: Actor, dry_run: bool = False, as_of: datetime | None = None
) -> Job:
    """Queue a reminder run: a dry run says what a run at ``as_of`` (default: when it
    runs) would send and sends nothing; a real run claims and sends (ADR 0026). A real
    run is always as of its own clock: reminders are never sent for another day."""
    with collecting("The reminder run cannot be started.") as problems:
        if as_of is not None and not dry_run:
            problems.add("as_of", "only a dry run may look at another moment")
        if as_of is not None and as_of.tzinfo is None:
            problems.add("as_of", "must say its time zone")
    with transaction.atomic():
        return _create(
            actor=actor,
            kind=JobKind.REMINDERS,
            params={"dry_run": dry_run, "as_of": as_of.isoformat() if as_of else None},
            total=1 if dry_run else 0,
        )


def reminder_run_due() -> bool:
    """Return whether the periodic reminder run should queue one (none queued or running)."""
    return not Job.objects.filter(
        kind=JobKind.REMINDERS, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)
    ).exists()


def start_people_sync(*, actor: Actor, sync_id: int) -> Job:
    """Queue the applying of a staged (previewed) people sync, a committed chunk at a time."""
    with transaction.atomic():
        job = _create(actor=actor, kind=JobKind.PEOPLE_SYNC, params={"sync_id": sync_id}, total=0)
        sync = organisation.mark_people_sync_applying(sync_id=sync_id, job_id=job.pk)
        job.total = (
            int(sync.preview.get("creates", 0))
            + int(sync.preview.get("updates", 0))
            + int(sync.preview.get("deactivations", 0))
        )
        job.save(update_fields=["total"])
        return job


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


def _run_reminders(job: Job) -> None:
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
        actor=_actor_of(job), now=moment, run_id=job.pk, progress=progress, claimed=claimed
    )
    job.refresh_from_db()
    job.result = {"dry_run": False, **result.as_dict()}
    job.save(update_fields=["result"])


def _run_people_sync(job: Job) -> None:
    """Plan the sync once, apply its actions a chunk per transaction, then finish it.

    The cursor is the number of actions applied; ``result`` holds the counts and
    ``sync_id`` (``organisation.sync_changes(sync_id)`` lists the people changed).
    """
    actor = _actor_of(job)
    sync_id = int(job.params["sync_id"])
    total = organisation.prepare_people_sync(sync_id=sync_id, actor=actor)
    if job.total != total:
        job.total = total
        job.save(update_fields=["total"])
    size = int(getattr(settings, "JOB_CHUNK_PEOPLE", 1000))
    totals = dict(job.result or {"sync_id": sync_id, "created": 0, "updated": 0, "deactivated": 0})
    while job.cursor < total:
        with transaction.atomic():
            applied, counts = organisation.apply_people_sync_chunk(
                actor=actor, sync_id=sync_id, start=int(job.cursor), size=size
            )
            for key in ("created", "updated", "deactivated"):
                totals[key] = totals.get(key, 0) + counts.get(key, 0)
            job.cursor += applied
            job.done = job.cursor
            job.result = totals
            job.save(update_fields=["cursor", "done", "result"])
        if not applied:
            break
    job.result = {**totals, **organisation.finish_people_sync(sync_id=sync_id, actor=actor)}
    job.save(update_fields=["result"])


_RUNNERS = {
    JobKind.BULK_ENROLL: _run_bulk_enroll,
    JobKind.REBUILD_STATUSES: _run_rebuild,
    JobKind.REMINDERS: _run_reminders,
    JobKind.PEOPLE_SYNC: _run_people_sync,
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
