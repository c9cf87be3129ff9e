"""Bulk enrolment: a committed, audited chunk of learners at a time."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from coursepack.jobs.chunks import Step, actor_of, chunk_size, run_in_chunks
from coursepack.jobs.models import Job
from coursepack.learning import api as learning


def _learners_after(job: Job, cursor: int, size: int) -> list[int]:
    """Return the job's next ``size`` learner ids after ``cursor``, in id order."""
    given = job.params.get("learner_ids")
    if given is not None:
        return [i for i in given if i > cursor][:size]
    return list(
        get_user_model()
        .objects.filter(is_active=True, pk__gt=cursor)
        .order_by("pk")
        .values_list("pk", flat=True)[:size]
    )


def run_bulk_enroll(job: Job) -> None:
    actor = actor_of(job)
    params = job.params
    size = chunk_size()
    if params.get("atomic"):
        # All or nothing: one transaction, one audit record.
        size = max(job.total, 1) + 1

    def chunk(cursor: int) -> Step | None:
        learners = _learners_after(job, cursor, size)
        if not learners:
            return None
        result = learning.bulk_enroll(
            actor=actor,
            package_id=params["package_id"],
            learner_ids=learners,
            notes=f"{params.get('notes', '')} (job {job.pk})".strip(),
        )
        return Step(
            cursor=learners[-1],
            done=len(learners),
            counts={
                "enrolled": result.enrolled,
                "already_enrolled": len(result.already_enrolled),
                "unknown_learners": len(result.unknown_learners),
            },
        )

    run_in_chunks(job, chunk, totals={"enrolled": 0, "already_enrolled": 0, "unknown_learners": 0})
