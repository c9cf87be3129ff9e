"""Change the organisation: org units, people's placements, unit managers, the people sync.

Every function here is one transaction and writes its audit records in it. The
people sync (``stage_people_sync`` / ``apply_people_sync_chunk``) lives in
``organisation.sync`` and is re-exported here.
"""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Account, Role
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.organisation.errors import (
    OrgUnitCodeTaken,
    OrgUnitCycle,
    OrgUnitInUse,
    OrgUnitNotFound,
    PersonNotFound,
)
from coursepack.organisation.models import OrgUnit, Placement, UnitManager
from coursepack.organisation.sync import (
    COLUMNS,
    PeopleSyncPlan,
    SyncChanges,
    SyncRow,
    apply_people_sync_chunk,
    finish_people_sync,
    get_people_sync,
    mark_people_sync_applying,
    parse_people_csv,
    plan_people_sync,
    prepare_people_sync,
    rows_from_dicts,
    stage_people_sync,
    stored_rows,
    sync_changes,
)
from coursepack.validation import collecting

__all__ = [
    "COLUMNS",
    "PeopleSyncPlan",
    "SyncChanges",
    "SyncRow",
    "apply_people_sync_chunk",
    "create_unit",
    "deactivate_unit",
    "finish_people_sync",
    "get_people_sync",
    "mark_people_sync_applying",
    "move_unit",
    "parse_people_csv",
    "place_person",
    "plan_people_sync",
    "prepare_people_sync",
    "reactivate_unit",
    "rename_unit",
    "rows_from_dicts",
    "set_person_details",
    "set_unit_managers",
    "stage_people_sync",
    "stored_rows",
    "sync_changes",
]


def _lock_unit(unit_id: int) -> OrgUnit:
    unit = OrgUnit.objects.select_for_update().filter(pk=unit_id).first()
    if unit is None:
        raise OrgUnitNotFound(f"There is no org unit with id {unit_id}.")
    return unit


def _unit_state(unit: OrgUnit) -> dict[str, object]:
    return {
        "code": unit.code,
        "name": unit.name,
        "parent_id": unit.parent_id,
        "path": unit.path,
        "active": unit.active,
    }


def create_unit(*, actor: Actor, code: str, name: str, parent_id: int | None = None) -> OrgUnit:
    """Create an org unit under ``parent_id`` (None: a root, e.g. the company)."""
    with collecting("The org unit cannot be created.") as problems:
        code = problems.text("code", code, max_length=64)
        name = problems.text("name", name, max_length=200)
    with transaction.atomic():
        now = timezone.now()
        chain = audit.lock_chain()
        parent = _lock_unit(parent_id) if parent_id is not None else None
        if OrgUnit.objects.filter(code=code).exists():
            raise OrgUnitCodeTaken(f"An org unit with the code {code!r} exists already.")
        unit = OrgUnit.objects.create(code=code, name=name, parent=parent, path="")
        unit.path = f"{parent.path if parent else '/'}{unit.pk}/"
        unit.save(update_fields=["path"])
        audit.record_all(
            [audit.Entry(actor, "org_unit.created", unit, now, after=_unit_state(unit))],
            head=chain,
        )
    return unit


def rename_unit(
    *, actor: Actor, unit_id: int, name: str | None = None, code: str | None = None
) -> OrgUnit:
    """Give an org unit a new name and/or code."""
    with collecting("The org unit cannot be renamed.") as problems:
        if name is not None:
            name = problems.text("name", name, max_length=200)
        if code is not None:
            code = problems.text("code", code, max_length=64)
    with transaction.atomic():
        chain = audit.lock_chain()
        unit = _lock_unit(unit_id)
        before = _unit_state(unit)
        if code is not None and code != unit.code:
            if OrgUnit.objects.filter(code=code).exclude(pk=unit.pk).exists():
                raise OrgUnitCodeTaken(f"An org unit with the code {code!r} exists already.")
            unit.code = code
        if name is not None:
            unit.name = name
        if _unit_state(unit) == before:
            return unit
        unit.save(update_fields=["code", "name"])
        audit.record_all(
            [
                audit.Entry(
                    actor, "org_unit.renamed", unit, timezone.now(), before, _unit_state(unit)
                )
            ],
            head=chain,
        )
    return unit


def move_unit(*, actor: Actor, unit_id: int, parent_id: int | None) -> OrgUnit:
    """Move an org unit (and everything below it) under ``parent_id`` (None: make it a root).

    Every path of the subtree is rewritten in the same statement, so "this unit
    and below" stays one prefix match. A unit cannot move under itself.
    """
    with transaction.atomic():
        chain = audit.lock_chain()
        unit = _lock_unit(unit_id)
        parent = _lock_unit(parent_id) if parent_id is not None else None
        if parent is not None and parent.path.startswith(unit.path):
            raise OrgUnitCycle(
                f"{unit.code} cannot move under {parent.code}: that unit is {unit.code} "
                "itself or lies below it."
            )
        if unit.parent_id == parent_id:
            return unit
        before = _unit_state(unit)
        old_path = unit.path
        new_path = f"{parent.path if parent else '/'}{unit.pk}/"
        # Substr is 1-based: keep what follows the old prefix.
        OrgUnit.objects.filter(path__startswith=old_path).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1))
        )
        OrgUnit.objects.filter(pk=unit.pk).update(parent=parent)
        unit.refresh_from_db()
        moved = OrgUnit.objects.filter(path__startswith=new_path).count()
        audit.record_all(
            [
                audit.Entry(
                    actor,
                    "org_unit.moved",
                    unit,
                    timezone.now(),
                    before,
                    {**_unit_state(unit), "units_moved": moved},
                )
            ],
            head=chain,
        )
    return unit


def _set_unit_active(*, actor: Actor, unit_id: int, active: bool) -> OrgUnit:
    with transaction.atomic():
        chain = audit.lock_chain()
        unit = _lock_unit(unit_id)
        if unit.active == active:
            return unit
        if not active:
            below = OrgUnit.objects.filter(path__startswith=unit.path, active=True).exclude(
                pk=unit.pk
            )
            people = Placement.objects.filter(org_unit=unit, user__is_active=True)
            if below.exists() or people.exists():
                n, m = people.count(), below.count()
                raise OrgUnitInUse(
                    f"{unit.code} still has {n} active {'person' if n == 1 else 'people'} "
                    f"placed in it and {m} active {'unit' if m == 1 else 'units'} below it; "
                    "move or deactivate them first."
                )
        elif unit.parent is not None and not unit.parent.active:
            raise OrgUnitInUse(
                f"{unit.code} is under {unit.parent.code}, which is inactive; reactivate it first."
            )
        before = _unit_state(unit)
        unit.active = active
        unit.save(update_fields=["active"])
        action = "org_unit.reactivated" if active else "org_unit.deactivated"
        audit.record_all(
            [audit.Entry(actor, action, unit, timezone.now(), before, _unit_state(unit))],
            head=chain,
        )
    return unit


def deactivate_unit(*, actor: Actor, unit_id: int) -> OrgUnit:
    """Deactivate an org unit that has no active people and no active units below it.

    Units are never deleted: past records and audits name them.
    """
    return _set_unit_active(actor=actor, unit_id=unit_id, active=False)


def reactivate_unit(*, actor: Actor, unit_id: int) -> OrgUnit:
    """Make an inactive org unit (whose parent is active) active again."""
    return _set_unit_active(actor=actor, unit_id=unit_id, active=True)


def _person(user_id: int) -> User:
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise PersonNotFound(f"There is no person with id {user_id}.")
    return user


def place_person(
    *,
    actor: Actor,
    user_id: int,
    org_unit_id: int | None,
    manager_id: int | None = None,
) -> Placement:
    """Place a person in an org unit (None: in none) with a line manager (None: none)."""
    with collecting("The person cannot be placed.") as problems:
        if manager_id is not None and manager_id == user_id:
            problems.add("manager_id", "a person cannot be their own line manager")
    with transaction.atomic():
        chain = audit.lock_chain()
        user = _person(user_id)
        unit = _lock_unit(org_unit_id) if org_unit_id is not None else None
        if unit is not None and not unit.active:
            raise OrgUnitInUse(f"{unit.code} is inactive; people cannot be placed in it.")
        if manager_id is not None and not User.objects.filter(pk=manager_id).exists():
            raise PersonNotFound(f"There is no person with id {manager_id}.")
        placement = Placement.objects.filter(user=user).first() or Placement(user=user)
        before = {"org_unit_id": placement.org_unit_id, "manager_id": placement.manager_id}
        after = {"org_unit_id": org_unit_id, "manager_id": manager_id}
        if placement.pk is not None and before == after:
            return placement
        placement.org_unit = unit
        placement.manager_id = manager_id
        placement.save()
        audit.record_all(
            [audit.Entry(actor, "person.placed", user, timezone.now(), before, after)],
            head=chain,
        )
    return placement


def set_person_details(
    *,
    actor: Actor,
    user_id: int,
    email: str | None = None,
    job_title: str | None = None,
    hire_date: date | None = None,
    external_id: str | None = None,
) -> User:
    """Change a person's HR details (the fields given; None leaves one as it is)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    with collecting("The person's details cannot be changed.") as problems:
        if email is not None:
            email = problems.text("email", email, max_length=254, required=False)
            if email:
                try:
                    validate_email(email)
                except ValidationError:
                    problems.add("email", "is not an email address")
        if job_title is not None:
            job_title = problems.text("job_title", job_title, max_length=200, required=False)
        if external_id is not None:
            external_id = problems.text("external_id", external_id, max_length=64)
    with transaction.atomic():
        chain = audit.lock_chain()
        user = _person(user_id)
        account = Account.objects.filter(user=user).first() or Account(
            user=user, role=accounts.role_of(user) or Role.LEARNER, username_key=None
        )
        before = {
            "email": user.email,
            "job_title": account.job_title,
            "hire_date": account.hire_date.isoformat() if account.hire_date else None,
            "external_id": account.external_id,
        }
        if external_id is not None and external_id != account.external_id:
            taken = Account.objects.filter(external_id=external_id).exclude(user=user).exists()
            if taken:
                from coursepack.errors import InvalidInput

                raise InvalidInput(
                    "The person's details cannot be changed.",
                    problems=[f"external_id: {external_id!r} is another person's"],
                )
            account.external_id = external_id
        if email is not None:
            user.email = email
        if job_title is not None:
            account.job_title = job_title
        if hire_date is not None:
            account.hire_date = hire_date
        after = {
            "email": user.email,
            "job_title": account.job_title,
            "hire_date": account.hire_date.isoformat() if account.hire_date else None,
            "external_id": account.external_id,
        }
        if after == before:
            return user
        user.save(update_fields=["email"])
        account.save()
        changed = {k for k in after if after[k] != before[k]}
        audit.record_all(
            [
                audit.Entry(
                    actor,
                    "person.details_changed",
                    user,
                    timezone.now(),
                    {k: before[k] for k in sorted(changed)},
                    {k: after[k] for k in sorted(changed)},
                )
            ],
            head=chain,
        )
    return user


def set_unit_managers(*, actor: Actor, unit_id: int, user_ids: list[int]) -> list[int]:
    """Make exactly ``user_ids`` the managers of an org unit; return them sorted.

    A learner made a unit manager gets the manager role (a separate audited role
    change); admins and auditors keep theirs. Nobody loses the manager role here
    when removed from a unit: roles are given and taken by admins.
    """
    wanted = sorted(set(user_ids))
    with transaction.atomic():
        audit.lock_chain()
        unit = _lock_unit(unit_id)
        found = set(User.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        missing = [i for i in wanted if i not in found]
        if missing:
            raise PersonNotFound(f"There is no person with id {missing[0]}.")
        current = sorted(UnitManager.objects.filter(unit=unit).values_list("user_id", flat=True))
        if current == wanted:
            return wanted
        UnitManager.objects.filter(unit=unit).exclude(user_id__in=wanted).delete()
        UnitManager.objects.bulk_create(
            [UnitManager(unit=unit, user_id=i) for i in wanted if i not in current]
        )
        audit.record(
            actor=actor,
            action="org_unit.managers_set",
            target=unit,
            at=timezone.now(),
            before={"managers": current},
            after={"managers": wanted},
        )
        for user in User.objects.filter(pk__in=wanted).order_by("pk"):
            if accounts.role_of(user) == Role.LEARNER:
                accounts.set_role(actor=actor, user_id=user.pk, role=Role.MANAGER)
    return wanted
