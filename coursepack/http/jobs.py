"""Background jobs: start a long operation, then follow its progress."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import StrictBool

from coursepack.http.auth import ADMIN, READERS, require
from coursepack.http.problems import responses
from coursepack.http.schemas import Id, Input, Text
from coursepack.jobs import api as jobs
from coursepack.jobs import selectors

router = Router()


class JobOut(Schema):
    id: int
    kind: str = Field(
        description="bulk_enroll, rebuild_statuses, publish_with_moves, audit_verify, …"
    )
    kind_label: str
    status: str = Field(description="queued, running, succeeded or failed")
    actor: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total: int
    done: int
    percent: int
    result: dict[str, Any]
    error: str


class BulkEnrollJobIn(Input):
    package_id: Id
    learner_ids: list[Id] | None = Field(None, max_length=200_000)
    all_learners: StrictBool = False
    notes: Text = ""
    atomic: StrictBool = Field(
        False,
        description="All or nothing in one transaction (holds the write lock while it runs).",
    )


def _out(job_id: int) -> dict[str, Any]:
    return asdict(selectors.job_progress(job_id))


@router.post("/jobs/bulk-enrollments", response=responses({202: JobOut}, 404), tags=["jobs"])
def start_bulk_enroll(request: HttpRequest, body: BulkEnrollJobIn) -> Any:
    """Enrol many learners in the background, a committed, audited chunk at a time (202)."""
    actor = require(request, *ADMIN)
    job = jobs.start_bulk_enroll(actor=actor, **body.dict())
    return Status(202, _out(job.pk))


@router.post("/jobs/status-rebuilds", response=responses({202: JobOut}), tags=["jobs"])
def start_rebuild(request: HttpRequest) -> Any:
    """Recompute every stored status in the background, a committed batch at a time (202)."""
    actor = require(request, *ADMIN)
    return Status(202, _out(jobs.start_rebuild(actor=actor).pk))


@router.post("/jobs/audit-verifications", response=responses({202: JobOut}), tags=["jobs"])
def start_audit_verify(request: HttpRequest) -> Any:
    """Verify the whole audit log and every row it vouches for in the background (202);
    the verification page and API then show this run's result (admins and auditors)."""
    actor = require(request, *READERS)
    return Status(202, _out(jobs.start_audit_verify(actor=actor).pk))


# After the POST routes: /jobs/{job_id} would otherwise catch their paths.
@router.get("/jobs/{job_id}", response=responses({200: JobOut}, 404), tags=["jobs"])
def get_job(request: HttpRequest, job_id: int) -> Any:
    """A background job's state and progress."""
    require(request, *READERS)
    return _out(job_id)
