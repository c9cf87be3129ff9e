"""A small organisation for audience and matrix tests: a tree of units and people placed
in them. Built on the organisation models directly (the org app's services are not
used here so that these tests need nothing but the models)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from coursepack.accounts.models import Account
from coursepack.organisation.models import OrgUnit, Placement, UnitManager
from tests.factories import make_learner


def make_unit(code: str, parent: OrgUnit | None = None) -> OrgUnit:
    """Create an org unit under ``parent`` with its materialised path."""
    unit = OrgUnit.objects.create(code=code, name=code.title(), parent=parent, path="")
    unit.path = f"{parent.path if parent else '/'}{unit.pk}/"
    unit.save(update_fields=["path"])
    return unit


def place(
    user: Any,
    unit: OrgUnit | None,
    *,
    title: str = "",
    hired: date | None = None,
    manager: Any = None,
) -> Any:
    """Put ``user`` in ``unit`` with a job title and hire date (HR's facts)."""
    Placement.objects.update_or_create(user=user, defaults={"org_unit": unit, "manager": manager})
    Account.objects.update_or_create(user=user, defaults={"job_title": title, "hire_date": hired})
    return user


def make_person(
    unit: OrgUnit | None, *, title: str = "", hired: date | None = None, **kwargs: Any
) -> Any:
    return place(make_learner(**kwargs), unit, title=title, hired=hired)


def manage(user: Any, unit: OrgUnit) -> None:
    UnitManager.objects.create(user=user, unit=unit)


@dataclass
class Org:
    """company → sales (→ north, south), support (→ desk)."""

    company: OrgUnit
    sales: OrgUnit
    north: OrgUnit
    south: OrgUnit
    support: OrgUnit
    desk: OrgUnit
    units: list[OrgUnit] = field(default_factory=list)


def make_org() -> Org:
    company = make_unit("company")
    sales = make_unit("sales", company)
    north = make_unit("north", sales)
    south = make_unit("south", sales)
    support = make_unit("support", company)
    desk = make_unit("desk", support)
    return Org(
        company, sales, north, south, support, desk, [company, sales, north, south, support, desk]
    )
