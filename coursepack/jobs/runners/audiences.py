"""Reconcile one audience: enrol its new members, handle its leavers by its policy."""

from __future__ import annotations

from bisect import bisect_right

from coursepack.audiences import api as audiences
from coursepack.jobs.chunks import Step, actor_of, chunk_size, run_in_chunks
from coursepack.jobs.models import Job


def run_audience_sync(job: Job) -> None:
    actor = actor_of(job)
    audience_id = job.params["audience_id"]
    size = chunk_size()
    # The people to look at are fixed when the job starts (resumed: those after the
    # cursor); each chunk re-reads membership, so a chunk run twice changes nothing.
    candidates = sorted(audiences.candidate_ids(audience_id))

    def chunk(cursor: int) -> Step | None:
        start = bisect_right(candidates, cursor)
        people = candidates[start : start + size]
        if not people:
            return None
        result = audiences.apply_chunk(actor=actor, audience_id=audience_id, learner_ids=people)
        return Step(cursor=people[-1], done=len(people), counts=result.counts())

    run_in_chunks(job, chunk, totals={"enrolled": 0, "withdrawn": 0, "kept": 0})
