"""Move the in-flight learners of a publish (ADR 0020)."""

from __future__ import annotations

from coursepack.jobs.chunks import Step, actor_of, chunk_size, run_in_chunks
from coursepack.jobs.models import Job
from coursepack.learning import api as learning


def run_publish_moves(job: Job) -> None:
    """Move the in-flight learners of a publish, a committed and audited chunk at a time.

    The cursor is the last enrollment id a committed chunk looked at; each chunk
    commits the moves, their audit record and the cursor together.
    """
    actor = actor_of(job)
    params = job.params

    def chunk(cursor: int) -> Step | None:
        moved = learning.move_inflight_chunk(
            actor=actor,
            from_version_id=params["from_version_id"],
            to_version_id=params["to_version_id"],
            policy=params["policy"],
            after_id=cursor,
            limit=chunk_size(),
            notes=f"job {job.pk}",
        )
        if moved.last_id is None:
            if moved.stopped:
                return Step(cursor=cursor, facts={"stopped": moved.stopped}, last=True)
            return None
        return Step(cursor=moved.last_id, done=len(moved.moved), counts={"moved": len(moved.moved)})

    run_in_chunks(job, chunk, totals={"moved": 0})
