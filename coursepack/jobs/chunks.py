"""The chunked runner every kind of job shares (ADR 0031).

A job's work is a sequence of chunks. Each chunk runs in its own transaction
together with the update of the job's row — its cursor, how many items it
handled, and the running totals in ``result`` — so a worker killed mid-job loses
at most the chunk it was in, and the next start resumes after the cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.jobs.models import Job

__all__ = ["Step", "actor_of", "chunk_size", "run_in_chunks"]


def chunk_size() -> int:
    """Return how many learners a chunk handles: small enough that one chunk holds the
    write lock well under a second (``JOB_CHUNK_LEARNERS``)."""
    return int(getattr(settings, "JOB_CHUNK_LEARNERS", 250))


def actor_of(job: Job) -> Actor:
    """Return who the job acts for: the user who asked, or the operator it names."""
    if job.created_by_id is not None:
        return get_user_model().objects.get(pk=job.created_by_id)
    return audit.Operator(job.actor_label)


@dataclass(frozen=True)
class Step:
    """What one chunk did."""

    # Where the next chunk starts (the last id handled, or how many were handled).
    cursor: int
    # How many items the chunk handled (added to the job's ``done``).
    done: int = 0
    # Added to the totals of the same name in the job's ``result``.
    counts: Mapping[str, int] = field(default_factory=dict)
    # Set in the job's ``result`` as they are (not added up).
    facts: Mapping[str, Any] = field(default_factory=dict)
    # No chunk comes after this one.
    last: bool = False


def run_in_chunks(
    job: Job, chunk: Callable[[int], Step | None], *, totals: Mapping[str, Any]
) -> dict[str, Any]:
    """Call ``chunk(cursor)`` in a transaction per chunk until it returns None (nothing
    left) or a last step; save each step's cursor, progress and totals in the same
    transaction. Return the job's result.

    ``totals`` are the starting totals of a job that has none yet (a resumed job keeps
    its own). A chunk must be idempotent: a chunk cut short by a crash runs again.
    """
    result: dict[str, Any] = dict(job.result or totals)
    while True:
        with transaction.atomic():
            step = chunk(int(job.cursor))
            if step is None:
                return result
            for name, count in step.counts.items():
                result[name] = result.get(name, 0) + count
            result.update(step.facts)
            job.cursor = step.cursor
            job.done += step.done
            job.result = result
            job.save(update_fields=["cursor", "done", "result"])
        if step.last:
            return result
