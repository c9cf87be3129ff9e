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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from coursepack.audiences import api as audiences
from coursepack.audiences import selectors as audience_selectors
from coursepack.audiences.errors import AudienceNotFound
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.errors import InvalidInput
from coursepack.interchange import legacy
from coursepack.jobs.chunks import actor_of
from coursepack.jobs.errors import JobNotFound
from coursepack.jobs.models import Job, JobKind, JobStatus
from coursepack.jobs.progress import LiveProgress
from coursepack.jobs.runners import RUNNERS
from coursepack.learning import api as learning
from coursepack.organisation import api as organisation
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors as packaging_selectors
from coursepack.packaging.models import Package, PackageVersion
from coursepack.validation import collecting

# The live progress of a one-transaction job (kept here under its old name).
_LiveProgress = LiveProgress

__all__ = [
    "PublishStarted",
    "get_job",
    "reinstate_package",
    "resume_unfinished",
    "run_job",
    "save_audience",
    "schedule_audit_verify",
    "settle_due_schedules",
    "start_audience_sync",
    "start_audit_verify",
    "start_bulk_enroll",
    "start_legacy_import",
    "start_people_sync",
    "start_publish",
    "start_rebuild",
    "start_reminder_run",
]


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


@dataclass(frozen=True)
class PublishStarted:
    """What a publish did: the publish itself, and the job moving learners if there is one."""

    outcome: packaging.PublishOutcome
    # The background job moving in-flight learners onto the version, or None when
    # they moved in the publish's transaction (or nobody moves).
    moves_job: Job | None


def _moves_in_background_over() -> int:
    return int(getattr(settings, "PUBLISH_MOVES_IN_BACKGROUND_OVER", 500))


def start_publish(
    *,
    actor: Actor,
    version_id: int,
    change_notes: str = "",
    effective_at: datetime | None = None,
    expected_revision: int | None = None,
    inflight_policy: packaging.InFlightPolicyName = "keep",
    background: bool | None = None,
) -> PublishStarted:
    """Publish a draft; move in-flight learners in the publish's transaction when they are
    few, or in a background job when they are many (ADR 0020).

    With many learners to move, the version and its publish log are committed at
    once (new enrollments get it from that moment) and a PUBLISH_WITH_MOVES job
    moves the learners in committed, audited chunks. ``background`` forces one way
    or the other; by default more than ``PUBLISH_MOVES_IN_BACKGROUND_OVER`` moves
    go to the background.
    """
    if inflight_policy != "keep" and effective_at is None:
        current = packaging_selectors.active_version(
            packaging_selectors.get_version(version_id).package_id, timezone.now()
        )
        to_move = (
            learning.count_inflight(from_version_id=current.pk, policy=inflight_policy)
            if current is not None
            else 0
        )
        if background is None:
            background = to_move > _moves_in_background_over()
    else:
        background, to_move = False, 0
    with transaction.atomic():
        outcome = packaging.publish_version(
            actor=actor,
            version_id=version_id,
            change_notes=change_notes,
            effective_at=effective_at,
            expected_revision=expected_revision,
            inflight_policy=inflight_policy,
            defer_moves=background,
        )
        if not background or outcome.previous is None or outcome.scheduled:
            return PublishStarted(outcome, None)
        job = _create(
            actor=actor,
            kind=JobKind.PUBLISH_WITH_MOVES,
            params={
                "package_id": outcome.version.package_id,
                "from_version_id": outcome.previous.pk,
                "to_version_id": outcome.version.pk,
                "policy": inflight_policy,
            },
            total=to_move,
        )
    return PublishStarted(outcome, job)


def start_audit_verify(*, actor: Actor) -> Job:
    """Queue a full verification of the audit log (every record and every bound row).

    Its result (intact or the first bad record, and where it ended) is kept on the
    job, so pages show the last full run and check only what was appended since.
    """
    from coursepack.audit.models import AuditChainHead

    with transaction.atomic():
        head = AuditChainHead.objects.filter(pk=1).first()
        return _create(
            actor=actor,
            kind=JobKind.AUDIT_VERIFY,
            params={},
            # Ids are dense enough for a progress bar; verification counts the real number.
            total=head.last_event_id if head else 0,
        )


def schedule_audit_verify(now: datetime | None = None) -> Job | None:
    """Queue a full verification when none ran (or is waiting) within
    ``AUDIT_VERIFY_EVERY_HOURS``; return it, or None. The worker calls this periodically."""
    now = now or timezone.now()
    every = timedelta(hours=float(getattr(settings, "AUDIT_VERIFY_EVERY_HOURS", 24)))
    recent = Job.objects.filter(kind=JobKind.AUDIT_VERIFY).filter(
        Q(status__in=(JobStatus.QUEUED, JobStatus.RUNNING)) | Q(created_at__gt=now - every)
    )
    if recent.exists():
        return None
    return start_audit_verify(actor=None)


def start_audience_sync(*, actor: Actor, audience_id: int) -> Job:
    """Queue a reconciliation of one audience: its new members enrolled, its leavers
    handled by its policy, a committed, audited chunk of people at a time."""
    with transaction.atomic():
        total = len(audiences.candidate_ids(audience_id))
        return _create(
            actor=actor,
            kind=JobKind.AUDIENCE_SYNC,
            params={"audience_id": audience_id},
            total=total,
        )


def reinstate_package(
    *, actor: Actor, package_id: int, notes: str = ""
) -> tuple[Package, Job | None]:
    """Open a retired package again; if an audience assigns it, queue the audience's
    reconciliation in the same transaction (ADR 0034): while the package was retired the
    people syncs could enrol nobody in it, so its new members are enrolled now and its
    leavers handled by its policy. Return the package and the job, if any."""
    with transaction.atomic():
        package = packaging.reinstate_package(actor=actor, package_id=package_id, notes=notes)
        try:
            audience = audience_selectors.audience_of_package(package_id)
        except AudienceNotFound:
            return package, None
        return package, start_audience_sync(actor=actor, audience_id=audience.pk)


def save_audience(
    *, actor: Actor, package_id: int, rule: audiences.Rule, notes: str = ""
) -> tuple[audiences.SaveResult, Job | None]:
    """Save a package's audience; apply it at once when it changes few people, else
    queue the job that applies it (in the same transaction as the save, so a saved
    rule always has its reconciliation coming)."""
    with transaction.atomic():
        saved = audiences.save_audience(actor=actor, package_id=package_id, rule=rule, notes=notes)
        job = None
        if not saved.applied:
            job = start_audience_sync(actor=actor, audience_id=saved.audience.pk)
    return saved, job


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
        RUNNERS[JobKind(job.kind)](job)
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
            actor=actor_of(job),
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
