"""Whose records a viewer reads: admins and auditors everyone; a manager the people of
the units they manage and below (and themselves); anyone else only themselves."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.organisation import api as organisation
from coursepack.organisation import selectors
from coursepack.organisation.errors import OrgUnitCycle, OrgUnitInUse
from coursepack.organisation.models import OrgUnit
from tests.factories import make_admin, make_learner

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> dict[str, Any]:
    """company → sales → (north, south); company → it. One person in each unit."""
    admin = make_admin()
    company = organisation.create_unit(actor=admin, code="CO", name="Company")
    sales = organisation.create_unit(actor=admin, code="SAL", name="Sales", parent_id=company.pk)
    north = organisation.create_unit(actor=admin, code="N", name="North", parent_id=sales.pk)
    south = organisation.create_unit(actor=admin, code="S", name="South", parent_id=sales.pk)
    it = organisation.create_unit(actor=admin, code="IT", name="IT", parent_id=company.pk)
    people = {}
    for unit in (company, sales, north, south, it):
        person = make_learner(username=f"in-{unit.code.lower()}")
        organisation.place_person(actor=admin, user_id=person.pk, org_unit_id=unit.pk)
        people[unit.code] = person
    manager = make_learner(username="sales-manager")
    organisation.set_unit_managers(actor=admin, unit_id=sales.pk, user_ids=[manager.pk])
    manager = User.objects.get(pk=manager.pk)
    return {"admin": admin, "units": locals(), "people": people, "manager": manager}


def test_a_manager_reads_their_units_and_below_and_themselves(org: dict[str, Any]) -> None:
    manager, people = org["manager"], org["people"]
    assert accounts.role_of(manager) == Role.MANAGER
    in_scope = set(selectors.people_in_scope(manager).values_list("pk", flat=True))
    assert in_scope == {people["SAL"].pk, people["N"].pk, people["S"].pk, manager.pk}
    for code, person in people.items():
        assert selectors.can_read_person(manager, person.pk) is (code in ("SAL", "N", "S"))
    assert selectors.can_read_person(manager, 987_654_321) is False


def test_admins_and_auditors_read_everyone_and_learners_themselves(org: dict[str, Any]) -> None:
    admin = org["admin"]
    auditor = accounts.create_user(actor=admin, username="an-auditor", role=Role.AUDITOR)
    learner = org["people"]["N"]
    everyone = User.objects.count()
    assert selectors.people_in_scope(admin).count() == everyone
    assert selectors.people_in_scope(auditor).count() == everyone
    assert list(selectors.people_in_scope(learner).values_list("pk", flat=True)) == [learner.pk]
    assert selectors.can_read_person(learner, org["people"]["S"].pk) is False
    assert selectors.can_read_person(auditor, org["people"]["S"].pk) is True
    assert selectors.can_read_person(None, learner.pk) is False


def test_a_unit_manager_without_the_manager_role_reads_only_themselves(
    org: dict[str, Any],
) -> None:
    manager = org["manager"]
    accounts.set_role(actor=org["admin"], user_id=manager.pk, role=Role.LEARNER)
    manager = User.objects.get(pk=manager.pk)
    assert list(selectors.people_in_scope(manager).values_list("pk", flat=True)) == [manager.pk]


def test_moving_a_unit_moves_its_subtree_and_the_scope_with_it(org: dict[str, Any]) -> None:
    admin, units, people = org["admin"], org["units"], org["people"]
    # South moves under IT: the sales manager no longer reads its people.
    organisation.move_unit(actor=admin, unit_id=units["south"].pk, parent_id=units["it"].pk)
    south = OrgUnit.objects.get(pk=units["south"].pk)
    assert south.path == f"{units['it'].path}{south.pk}/"
    assert not selectors.can_read_person(org["manager"], people["S"].pk)
    # Sales (with North under it) moves under IT: North's path follows.
    organisation.move_unit(actor=admin, unit_id=units["sales"].pk, parent_id=units["it"].pk)
    north = OrgUnit.objects.get(pk=units["north"].pk)
    assert north.path == f"{units['it'].path}{units['sales'].pk}/{north.pk}/"
    assert selectors.can_read_person(org["manager"], people["N"].pk)
    for unit in OrgUnit.objects.all():
        parent_path = unit.parent.path if unit.parent else "/"
        assert unit.path == f"{parent_path}{unit.pk}/"


def test_a_unit_cannot_move_under_itself(org: dict[str, Any]) -> None:
    admin, units = org["admin"], org["units"]
    with pytest.raises(OrgUnitCycle):
        organisation.move_unit(actor=admin, unit_id=units["sales"].pk, parent_id=units["north"].pk)
    with pytest.raises(OrgUnitCycle):
        organisation.move_unit(actor=admin, unit_id=units["sales"].pk, parent_id=units["sales"].pk)


def test_a_unit_with_active_people_cannot_be_deactivated(org: dict[str, Any]) -> None:
    admin, units, people = org["admin"], org["units"], org["people"]
    with pytest.raises(OrgUnitInUse):
        organisation.deactivate_unit(actor=admin, unit_id=units["north"].pk)
    accounts.deactivate_user(actor=admin, user_id=people["N"].pk)
    unit = organisation.deactivate_unit(actor=admin, unit_id=units["north"].pk)
    assert unit.active is False


def test_every_organisation_change_is_audited(org: dict[str, Any]) -> None:
    from coursepack.audit.models import AuditEvent

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"org_unit.created", "person.placed", "org_unit.managers_set"} <= actions
    assert accounts.role_of(org["manager"]) == Role.MANAGER
    assert "account.role_set" in actions
