"""What each kind of job runs: one module per kind, behind one dispatch (ADR 0031)."""

from __future__ import annotations

from collections.abc import Callable

from coursepack.jobs.exports import run_export
from coursepack.jobs.models import Job, JobKind
from coursepack.jobs.runners.audiences import run_audience_sync
from coursepack.jobs.runners.audit import run_audit_verify
from coursepack.jobs.runners.enrolment import run_bulk_enroll
from coursepack.jobs.runners.legacy import run_legacy_import
from coursepack.jobs.runners.people import run_people_sync
from coursepack.jobs.runners.publishing import run_publish_moves
from coursepack.jobs.runners.reminders import run_reminders
from coursepack.jobs.runners.statuses import run_rebuild

__all__ = ["RUNNERS"]

RUNNERS: dict[JobKind, Callable[[Job], None]] = {
    JobKind.BULK_ENROLL: run_bulk_enroll,
    JobKind.REBUILD_STATUSES: run_rebuild,
    JobKind.LEGACY_IMPORT: run_legacy_import,
    JobKind.PUBLISH_WITH_MOVES: run_publish_moves,
    JobKind.AUDIT_VERIFY: run_audit_verify,
    JobKind.AUDIENCE_SYNC: run_audience_sync,
    JobKind.REMINDERS: run_reminders,
    JobKind.PEOPLE_SYNC: run_people_sync,
    JobKind.EXPORT: run_export,
}
