"""Apply a staged people sync, then let audiences follow it (ADR 0024, 0025)."""

from __future__ import annotations

from django.conf import settings

from coursepack.audiences import api as audiences
from coursepack.jobs.chunks import Step, actor_of, run_in_chunks
from coursepack.jobs.models import Job
from coursepack.organisation import api as organisation


def run_people_sync(job: Job) -> None:
    """Plan the sync once, apply its actions a chunk per transaction, then finish it.

    The cursor is the number of actions applied; ``result`` holds the counts and
    ``sync_id`` (``organisation.sync_changes(sync_id)`` lists the people changed).
    """
    actor = actor_of(job)
    sync_id = int(job.params["sync_id"])
    total = organisation.prepare_people_sync(sync_id=sync_id, actor=actor)
    if job.total != total:
        job.total = total
        job.save(update_fields=["total"])
    size = int(getattr(settings, "JOB_CHUNK_PEOPLE", 1000))

    def chunk(cursor: int) -> Step | None:
        if cursor >= total:
            return None
        applied, counts = organisation.apply_people_sync_chunk(
            actor=actor, sync_id=sync_id, start=cursor, size=size
        )
        return Step(
            cursor=cursor + applied,
            done=applied,
            counts={key: counts.get(key, 0) for key in ("created", "updated", "deactivated")},
            last=not applied,
        )

    totals = run_in_chunks(
        job,
        chunk,
        totals={"sync_id": sync_id, "created": 0, "updated": 0, "deactivated": 0},
    )
    job.result = {**totals, **organisation.finish_people_sync(sync_id=sync_id, actor=actor)}
    job.save(update_fields=["result"])
    # Audiences follow the sync: exactly the people it created, updated (moved,
    # retitled, re-hired) or deactivated are enrolled or handled as leavers, a
    # committed, audited chunk at a time (ADR 0025).
    changed = organisation.sync_changes(sync_id)
    reconciled = audiences.reconcile(
        actor=actor, person_ids=[*changed.created, *changed.updated, *changed.deactivated]
    )
    job.result = {**job.result, "audiences": reconciled.counts()}
    job.save(update_fields=["result"])
