"""Read the organisation: units, placements, and whose records a viewer may read.

The scope rule (ADR 0024): admins and auditors read everyone; a manager reads
the people placed in the org units they manage and in every unit below them
(by the unit's current ``path``), and themselves; anyone else reads only
themselves. Callers that list people filter by :func:`person_scope`; callers
that show one person ask :func:`can_read_person` and answer a person outside
the scope exactly as they answer an id that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.organisation.errors import OrgUnitNotFound
from coursepack.organisation.models import OrgUnit, Placement, UnitManager

__all__ = [
    "OrgUnitRow",
    "PersonRow",
    "PlacedPerson",
    "can_read_person",
    "get_unit",
    "managed_paths",
    "people_in_scope",
    "person_id",
    "person_row",
    "person_scope",
    "placed_people",
    "reads_everyone",
    "unit_rows",
    "units_in_scope",
    "usernames",
]

Viewer = User | AnonymousUser | None


def reads_everyone(viewer: Viewer) -> bool:
    """Return whether ``viewer`` reads every person's records (admins and auditors)."""
    return accounts.role_of(viewer) in (Role.ADMIN, Role.AUDITOR)


def _top_paths(paths: list[str]) -> list[str]:
    """Drop the paths that lie under another path of the list (their people are in it)."""
    kept: list[str] = []
    for path in sorted(paths):
        if not kept or not path.startswith(kept[-1]):
            kept.append(path)
    return kept


def managed_paths(viewer: Viewer) -> list[str]:
    """Return the paths of the units ``viewer`` manages, none lying under another.

    Empty unless the viewer has the manager role: a unit-manager row alone gives
    a learner no reading rights.
    """
    if viewer is None or viewer.pk is None or accounts.role_of(viewer) != Role.MANAGER:
        return []
    paths = UnitManager.objects.filter(user_id=viewer.pk).values_list("unit__path", flat=True)
    return _top_paths(list(paths))


def units_in_scope(viewer: Viewer) -> QuerySet[OrgUnit]:
    """Return the org units whose people ``viewer`` reads (all for admins and auditors)."""
    if reads_everyone(viewer):
        return OrgUnit.objects.all()
    paths = managed_paths(viewer)
    if not paths:
        return OrgUnit.objects.none()
    query = Q()
    for path in paths:
        query |= Q(path__startswith=path)
    return OrgUnit.objects.filter(query)


def person_scope(viewer: Viewer, field: str = "") -> Q | None:
    """Return a filter on ``field`` (a path to a user, "" for users themselves) that
    keeps the people ``viewer`` may read; None when they read everyone.

    E.g. ``Enrollment.objects.filter(person_scope(viewer, "learner"))``. Nobody
    signed in reads no one.
    """
    if reads_everyone(viewer):
        return None
    prefix = f"{field}__" if field else ""
    if viewer is None or not viewer.is_authenticated:
        return Q(pk__in=[])
    itself = Q(**{field: viewer.pk}) if field else Q(pk=viewer.pk)
    if not managed_paths(viewer):
        return itself
    # A subquery over the units (a few thousand rows at most): the people are then
    # found through the placements' org_unit index, on either database.
    units = units_in_scope(viewer).values("pk")
    return itself | Q(**{f"{prefix}placement__org_unit__in": units})


def people_in_scope(viewer: Viewer) -> QuerySet[User]:
    """Return the people whose records ``viewer`` may read.

    Admins and auditors: everyone. A manager: the people placed in the units they
    manage and below, and themselves. Anyone else: themselves (nobody, if not
    signed in). Deactivated people are included: their records still exist.
    """
    scope = person_scope(viewer)
    users = User.objects.all()
    return users if scope is None else users.filter(scope)


def can_read_person(viewer: Viewer, person_id: int) -> bool:
    """Return whether ``viewer`` may read the records of person ``person_id``.

    False for ids that do not exist too, so a caller answers both the same way.
    """
    if viewer is None or not viewer.is_authenticated:
        return False
    if viewer.pk == person_id:
        return True
    if reads_everyone(viewer):
        return User.objects.filter(pk=person_id).exists()
    paths = managed_paths(viewer)
    if not paths:
        return False
    unit_path = (
        Placement.objects.filter(user_id=person_id, org_unit__isnull=False)
        .values_list("org_unit__path", flat=True)
        .first()
    )
    return unit_path is not None and any(unit_path.startswith(p) for p in paths)


# --- org units and people, as pages and the API show them ------------------------------


@dataclass(frozen=True)
class OrgUnitRow:
    """An org unit with its parent's code, depth and managers."""

    id: int
    code: str
    name: str
    parent_id: int | None
    parent_code: str | None
    path: str
    depth: int
    active: bool
    manager_ids: list[int]
    people: int


def _unit_row(unit: OrgUnit, managers: dict[int, list[int]], people: dict[int, int]) -> OrgUnitRow:
    return OrgUnitRow(
        id=unit.pk,
        code=unit.code,
        name=unit.name,
        parent_id=unit.parent_id,
        parent_code=unit.parent.code if unit.parent_id else None,  # type: ignore[union-attr]
        path=unit.path,
        depth=unit.path.count("/") - 2,
        active=unit.active,
        manager_ids=managers.get(unit.pk, []),
        people=people.get(unit.pk, 0),
    )


def unit_rows(viewer: Viewer, *, under: int | None = None) -> list[OrgUnitRow]:
    """Return the units ``viewer`` may see (tree order), optionally only ``under`` one."""
    from django.db.models import Count

    units = units_in_scope(viewer).select_related("parent")
    if under is not None:
        units = units.filter(path__startswith=get_unit(under, viewer=viewer).path)
    units_list = list(units.order_by("path"))
    ids = [u.pk for u in units_list]
    managers: dict[int, list[int]] = {}
    for unit_id, user_id in (
        UnitManager.objects.filter(unit_id__in=ids)
        .order_by("user_id")
        .values_list("unit_id", "user_id")
    ):
        managers.setdefault(unit_id, []).append(user_id)
    people = dict(
        Placement.objects.filter(org_unit_id__in=ids, user__is_active=True)
        .values("org_unit_id")
        .annotate(n=Count("pk"))
        .values_list("org_unit_id", "n")
    )
    return [_unit_row(u, managers, people) for u in units_list]


def get_unit(unit_id: int, *, viewer: Viewer = None) -> OrgUnit:
    """Return unit ``unit_id`` (if ``viewer`` is given: only within their scope), or raise
    OrgUnitNotFound — the same for a unit outside the scope as for a missing one."""
    units = OrgUnit.objects.all() if viewer is None else units_in_scope(viewer)
    unit = units.filter(pk=unit_id).first()
    if unit is None:
        raise OrgUnitNotFound(f"There is no org unit with id {unit_id}.")
    return unit


@dataclass(frozen=True)
class PersonRow:
    """A person as HR states them: identity, placement, line manager, active."""

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


def person_row(person_id: int, *, viewer: Viewer = None) -> PersonRow | None:
    """Return person ``person_id``'s row, or None if missing or outside ``viewer``'s scope."""
    if viewer is not None and not can_read_person(viewer, person_id):
        return None
    user = (
        User.objects.filter(pk=person_id)
        .select_related("account", "placement", "placement__org_unit")
        .first()
    )
    if user is None:
        return None
    account = getattr(user, "account", None)
    placement = getattr(user, "placement", None)
    unit = placement.org_unit if placement is not None else None
    return PersonRow(
        id=user.pk,
        username=user.username,
        external_id=account.external_id if account else None,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        job_title=account.job_title if account else "",
        hire_date=account.hire_date if account else None,
        org_unit_id=unit.pk if unit else None,
        org_unit_code=unit.code if unit else None,
        manager_id=placement.manager_id if placement else None,
        active=user.is_active,
    )


# --- for the org-unit pages -------------------------------------------------------------


def person_id(username: str) -> int | None:
    """Return the id of the person with this username (exact), or None."""
    return User.objects.filter(username=username.strip()).values_list("pk", flat=True).first()


def usernames(ids: list[int]) -> dict[int, str]:
    """Return the usernames of these people, by id."""
    return dict(User.objects.filter(pk__in=ids).values_list("pk", "username"))


@dataclass(frozen=True)
class PlacedPerson:
    """A person placed in a unit, with their line manager's username."""

    id: int
    username: str
    full_name: str
    job_title: str
    manager: str | None
    active: bool


def placed_people(unit_id: int, *, limit: int = 200) -> tuple[int, list[PlacedPerson]]:
    """Return how many people are placed in the unit itself (not below it) and the
    first ``limit`` of them by username."""
    rows = Placement.objects.filter(org_unit_id=unit_id)
    total = rows.count()
    found = rows.select_related("user", "user__account", "manager").order_by("user__username")[
        :limit
    ]
    people = []
    for placement in found:
        user = placement.user
        account = getattr(user, "account", None)
        people.append(
            PlacedPerson(
                id=user.pk,
                username=user.username,
                full_name=user.get_full_name(),
                job_title=account.job_title if account else "",
                manager=placement.manager.username if placement.manager else None,
                active=user.is_active,
            )
        )
    return total, people
