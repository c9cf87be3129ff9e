"""The organisation: org units, people and their placements, and the HR people sync.

Reads are scoped (ADR 0024): admins and auditors see every unit and person; a
manager the units they manage and below, and the people in them; a unit or
person outside the caller's scope gets the 404 of one that does not exist.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictBool, StrictStr

from coursepack.accounts.models import Role
from coursepack.http.auth import ADMIN, caller, in_scope, require
from coursepack.http.pagination import (
    PageParams,
    page_of,
    paginate,
)
from coursepack.http.problems import responses
from coursepack.http.schemas import Code, DateIn, Email, Id, Input, Name
from coursepack.jobs import api as jobs
from coursepack.jobs import selectors as job_selectors
from coursepack.organisation import api as organisation
from coursepack.organisation import selectors
from coursepack.organisation.errors import PersonNotFound

router = Router()

#: Who may read units and people at all (each within their scope).
SCOPED_READERS = (Role.ADMIN, Role.AUDITOR, Role.MANAGER)


class OrgUnitOut(Schema):
    id: int
    code: str
    name: str
    parent_id: int | None
    parent_code: str | None
    path: str = Field(description="Materialised path of ids from the root, e.g. /1/5/23/")
    depth: int
    active: bool
    manager_ids: list[int]
    people: int = Field(description="Active people placed in this unit itself")


class OrgUnitIn(Input):
    code: Code
    name: Name
    parent_id: Id | None = None


class OrgUnitPatch(Input):
    code: Code | None = None
    name: Name | None = None
    parent_id: Id | None = Field(
        None, description="Move the unit (and all below it) here; null makes it a root."
    )


class ManagersIn(Input):
    user_ids: list[Id] = Field(max_length=1000)


class PersonOut(Schema):
    id: int
    username: str
    external_id: str | None
    first_name: str
    last_name: str
    email: str
    job_title: str
    hire_date: date | None
    org_unit_id: int | None
    org_unit_code: str | None
    manager_id: int | None
    active: bool


class PlacementIn(Input):
    org_unit_id: Id | None
    manager_id: Id | None = None


class PersonDetailsIn(Input):
    email: Email | None = None
    job_title: StrictStr | None = Field(None, max_length=200, pattern=r"^[^\x00]*$")
    hire_date: DateIn | None = None
    external_id: Code | None = None


class PeopleFilters(Schema):
    org_unit_id: int | None = Field(None, description="Only people in this unit and below")
    active: bool | None = None


# A row of an HR batch: the same columns as the CSV. A key left out is left as it is.
SyncCell = StrictStr | StrictBool | None


class PeopleSyncIn(Input):
    people: list[dict[str, SyncCell]] = Field(
        max_length=250_000,
        description=(
            "One object per person, keyed by the people file's columns: external_id "
            "(required), username, first_name, last_name, email, job_title, hire_date "
            "(YYYY-MM-DD), org_unit (a unit's code), manager_external_id, active."
        ),
    )
    full: StrictBool = Field(
        False,
        description="The batch lists everyone: active people with an external id not in it "
        "are deactivated (leavers).",
    )
    dry_run: StrictBool = Field(True, description="Only say what would change (the default).")


class SyncPreviewOut(Schema):
    sync_id: int = Field(description="The staged sync (apply a dry run's with its apply URL)")
    counts: dict[str, int]
    creates: list[dict[str, Any]] = Field(description="The first 1,000 creates")
    updates: list[dict[str, Any]] = Field(description="The first 1,000 updates, before/after")
    deactivations: list[dict[str, Any]] = Field(description="The first 1,000 deactivations")
    errors: list[dict[str, Any]] = Field(description="The first 1,000 rows with problems")
    job_id: int | None = Field(description="The job applying it (null for a dry run)")


class SyncJobOut(Schema):
    sync_id: int
    job_id: int
    status: str
    total: int
    done: int
    percent: int
    result: dict[str, Any]


def _preview(plan: organisation.PeopleSyncPlan, sync_id: int | None, job_id: int | None) -> Any:
    return {
        "sync_id": sync_id,
        "job_id": job_id,
        "counts": plan.counts(),
        "creates": plan.creates[:1000],
        "updates": plan.updates[:1000],
        "deactivations": plan.deactivations[:1000],
        "errors": plan.errors[:1000],
    }


# --- org units --------------------------------------------------------------------------


@router.get("/org-units", response=responses({200: page_of(OrgUnitOut)}), tags=["organisation"])
def list_units(request: HttpRequest, page: Query[PageParams]) -> Any:
    """List the org units you may see (managers: theirs and below), in id order; each
    names its parent and depth, so the tree can be rebuilt from the pages."""
    user = require(request, *SCOPED_READERS)
    result = paginate(selectors.units_in_scope(user), page, request)
    shown = {u.pk for u in result["items"]}
    result["items"] = sorted(
        (asdict(r) for r in selectors.unit_rows(user) if r.id in shown), key=lambda r: r["id"]
    )
    return result


@router.post("/org-units", response=responses({201: OrgUnitOut}, 404, 409), tags=["organisation"])
def create_unit(request: HttpRequest, body: OrgUnitIn) -> Any:
    """Create an org unit under ``parent_id`` (none: a root)."""
    actor = require(request, *ADMIN)
    unit = organisation.create_unit(actor=actor, **body.dict())
    return Status(201, _unit_out(actor, unit.pk))


def _unit_out(user: User, unit_id: int) -> dict[str, Any]:
    unit = selectors.get_unit(unit_id, viewer=user)
    (row,) = [r for r in selectors.unit_rows(user, under=unit.pk) if r.id == unit.pk]
    return asdict(row)


@router.get(
    "/org-units/{unit_id}", response=responses({200: OrgUnitOut}, 404), tags=["organisation"]
)
def get_unit(request: HttpRequest, unit_id: int) -> Any:
    """An org unit with its managers (outside your scope: 404, as for a missing unit)."""
    user = require(request, *SCOPED_READERS)
    return _unit_out(user, unit_id)


@router.patch(
    "/org-units/{unit_id}", response=responses({200: OrgUnitOut}, 404, 409), tags=["organisation"]
)
def change_unit(request: HttpRequest, unit_id: int, body: OrgUnitPatch) -> Any:
    """Rename an org unit, change its code, or move it (with everything below it)."""
    actor = require(request, *ADMIN)
    given = body.model_fields_set
    if "code" in given or "name" in given:
        organisation.rename_unit(actor=actor, unit_id=unit_id, name=body.name, code=body.code)
    if "parent_id" in given:
        organisation.move_unit(actor=actor, unit_id=unit_id, parent_id=body.parent_id)
    return _unit_out(actor, unit_id)


@router.post(
    "/org-units/{unit_id}/deactivate",
    response=responses({200: OrgUnitOut}, 404, 409),
    tags=["organisation"],
)
def deactivate_unit(request: HttpRequest, unit_id: int) -> Any:
    """Deactivate a unit without active people or active units below it (never deleted)."""
    actor = require(request, *ADMIN)
    organisation.deactivate_unit(actor=actor, unit_id=unit_id)
    return _unit_out(actor, unit_id)


@router.post(
    "/org-units/{unit_id}/reactivate",
    response=responses({200: OrgUnitOut}, 404, 409),
    tags=["organisation"],
)
def reactivate_unit(request: HttpRequest, unit_id: int) -> Any:
    """Make an inactive unit active again (its parent must be active)."""
    actor = require(request, *ADMIN)
    organisation.reactivate_unit(actor=actor, unit_id=unit_id)
    return _unit_out(actor, unit_id)


@router.put(
    "/org-units/{unit_id}/managers",
    response=responses({200: OrgUnitOut}, 404, 409),
    tags=["organisation"],
)
def set_managers(request: HttpRequest, unit_id: int, body: ManagersIn) -> Any:
    """Make exactly these people the unit's managers (learners get the manager role)."""
    actor = require(request, *ADMIN)
    organisation.set_unit_managers(actor=actor, unit_id=unit_id, user_ids=body.user_ids)
    return _unit_out(actor, unit_id)


# --- people -----------------------------------------------------------------------------


def _person_out(user: User, person_id: int) -> dict[str, Any]:
    row = selectors.person_row(person_id, viewer=user)
    if row is None:
        raise PersonNotFound(f"There is no person with id {person_id}.")
    return asdict(row)


@router.get("/people", response=responses({200: page_of(PersonOut)}, 404), tags=["organisation"])
def list_people(
    request: HttpRequest, page: Query[PageParams], filters: Query[PeopleFilters]
) -> Any:
    """List the people you may read, with their placement (managers: their units' people)."""
    user = require(request, *SCOPED_READERS)
    people = in_scope(user, User.objects.order_by("id"), field="")
    if filters.org_unit_id is not None:
        unit = selectors.get_unit(filters.org_unit_id, viewer=user)
        people = people.filter(placement__org_unit__path__startswith=unit.path)
    if filters.active is not None:
        people = people.filter(is_active=filters.active)
    result = paginate(people, page, request)
    rows = [selectors.person_row(u.pk) for u in result["items"]]
    result["items"] = [asdict(r) for r in rows if r is not None]
    return result


@router.get("/people/{person_id}", response=responses({200: PersonOut}, 404), tags=["organisation"])
def get_person(request: HttpRequest, person_id: int) -> Any:
    """A person's HR details and placement (yours, or within your scope)."""
    return _person_out(caller(request), person_id)


@router.patch(
    "/people/{person_id}", response=responses({200: PersonOut}, 404), tags=["organisation"]
)
def change_person(request: HttpRequest, person_id: int, body: PersonDetailsIn) -> Any:
    """Change a person's email, job title, hire date or external id."""
    actor = require(request, *ADMIN)
    organisation.set_person_details(actor=actor, user_id=person_id, **body.dict(exclude_unset=True))
    return _person_out(actor, person_id)


@router.put(
    "/people/{person_id}/placement",
    response=responses({200: PersonOut}, 404, 409),
    tags=["organisation"],
)
def place_person(request: HttpRequest, person_id: int, body: PlacementIn) -> Any:
    """Place a person in an org unit (null: none) with a line manager (null: none)."""
    actor = require(request, *ADMIN)
    organisation.place_person(
        actor=actor, user_id=person_id, org_unit_id=body.org_unit_id, manager_id=body.manager_id
    )
    return _person_out(actor, person_id)


# --- the people sync --------------------------------------------------------------------


@router.post(
    "/people-syncs",
    response=responses({200: SyncPreviewOut, 202: SyncPreviewOut}, 409),
    tags=["organisation"],
)
def sync_people(request: HttpRequest, body: PeopleSyncIn) -> Any:
    """Upsert people by external id from an HR batch.

    ``dry_run`` (the default) says what would change — creates, updates with each
    changed field, deactivations, each row's problems — and changes nobody (200);
    the batch is kept as a staged sync, to apply with POST /people-syncs/{sync_id}/apply.
    Otherwise a background job applies it at once, a committed, audited chunk at a
    time (202; follow it at GET /people-syncs/{sync_id} or GET /jobs/{job_id}). A sync never
    deletes anyone: leavers are deactivated. Rows with problems are skipped.
    """
    actor = require(request, *ADMIN)
    columns, rows = organisation.rows_from_dicts(body.people)
    sync, plan = organisation.stage_people_sync(
        actor=actor, columns=columns, rows=rows, full=body.full
    )
    if body.dry_run:
        return _preview(plan, sync.pk, None)
    job = jobs.start_people_sync(actor=actor, sync_id=sync.pk)
    return Status(202, _preview(plan, sync.pk, job.pk))


@router.get(
    "/people-syncs/{sync_id}", response=responses({200: SyncJobOut}, 404), tags=["organisation"]
)
def get_sync(request: HttpRequest, sync_id: int) -> Any:
    """A people sync's progress and, once applied, its counts."""
    require(request, *ADMIN, Role.AUDITOR)
    sync = organisation.get_people_sync(sync_id)
    progress = job_selectors.job_progress(sync.job_id) if sync.job_id else None
    return {
        "sync_id": sync.pk,
        "job_id": sync.job_id or 0,
        "status": sync.status,
        "total": progress.total if progress else 0,
        "done": progress.done if progress else 0,
        "percent": progress.percent if progress else 0,
        "result": progress.result if progress else dict(sync.preview),
    }


@router.post(
    "/people-syncs/{sync_id}/apply",
    response=responses({202: SyncJobOut}, 404, 409),
    tags=["organisation"],
)
def apply_sync(request: HttpRequest, sync_id: int) -> Any:
    """Apply a staged (previewed) people sync in the background (202)."""
    actor = require(request, *ADMIN)
    organisation.get_people_sync(sync_id)
    job = jobs.start_people_sync(actor=actor, sync_id=sync_id)
    progress = job_selectors.job_progress(job.pk)
    return Status(
        202,
        {
            "sync_id": sync_id,
            "job_id": job.pk,
            "status": "applying",
            "total": progress.total,
            "done": progress.done,
            "percent": progress.percent,
            "result": progress.result,
        },
    )
