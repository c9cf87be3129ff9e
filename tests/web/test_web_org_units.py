"""The org-unit pages through Django's client: the tree, creating, renaming, moving and
deactivating units, placing people and setting managers — each audited, each refusal
shown beside the field it is about."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from coursepack.accounts import api as accounts
from coursepack.audit.models import AuditEvent
from coursepack.organisation.models import OrgUnit, Placement, UnitManager
from tests.audiences.audience_helpers import make_org, make_person
from tests.factories import make_admin, make_learner

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


def test_the_tree_shows_every_unit_nested_with_its_people_and_managers() -> None:
    admin = make_admin()
    org = make_org()
    boss = make_person(org.company, username="boss")
    UnitManager.objects.create(user=boss, unit=org.sales)
    make_person(org.north)
    make_person(org.north)

    page = _client(admin).get("/org-units/")

    assert page.status_code == 200
    html = page.content.decode()
    # Nested: north is inside sales' list, which is inside the company's.
    company = html.index(f'data-unit="{org.company.pk}"')
    sales = html.index(f'data-unit="{org.sales.pk}"')
    north = html.index(f'data-unit="{org.north.pk}"')
    support = html.index(f'data-unit="{org.support.pk}"')
    assert company < sales < north < support
    assert "managed by boss" in html
    assert "2 people" in html


def test_who_opens_the_org_unit_pages() -> None:
    admin = make_admin()
    org = make_org()
    auditor = make_learner()
    accounts.set_role(actor=admin, user_id=auditor.pk, role="auditor")
    learner = make_learner()
    boss = make_person(org.company)
    accounts.set_role(actor=admin, user_id=boss.pk, role="manager")

    assert _client(auditor).get(f"/org-units/{org.sales.pk}/").status_code == 200
    assert b"Change this unit" not in _client(auditor).get(f"/org-units/{org.sales.pk}/").content
    assert _client(learner).get("/org-units/").status_code == 403
    assert _client(boss).get("/org-units/").status_code == 403
    refused = _client(auditor).post(
        f"/org-units/{org.sales.pk}/", {"action": "rename", "rename-code": "x", "rename-name": "X"}
    )
    assert refused.status_code == 403
    assert OrgUnit.objects.get(pk=org.sales.pk).code == "sales"
    assert Client().get("/org-units/").status_code == 302
    assert _client(admin).get("/org-units/987654321/").status_code == 404


def test_an_admin_creates_a_unit_under_another_and_a_taken_code_is_refused_at_the_field() -> None:
    admin = make_admin()
    org = make_org()
    client = _client(admin)

    created = client.post(
        "/org-units/", {"code": "east", "name": "East", "parent": str(org.sales.pk)}
    )

    unit = OrgUnit.objects.get(code="east")
    assert created.status_code == 302 and created["Location"] == f"/org-units/{unit.pk}/"
    assert unit.parent_id == org.sales.pk and unit.path == f"{org.sales.path}{unit.pk}/"
    assert _actions()[-1] == "org_unit.created"
    refused = client.post("/org-units/", {"code": "east", "name": "Another", "parent": ""})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "There is a problem" in html
    assert 'href="#id_code"' in html  # the summary links to the field
    assert 'id="id_code-error"' in html and "exists already" in html
    assert OrgUnit.objects.filter(name="Another").count() == 0


def test_renaming_moving_and_deactivating_a_unit() -> None:
    admin = make_admin()
    org = make_org()
    client = _client(admin)
    url = f"/org-units/{org.north.pk}/"

    renamed = client.post(url, {"action": "rename", "rename-code": "nord", "rename-name": "Nord"})
    moved = client.post(url, {"action": "move", "move-parent": str(org.support.pk)})

    assert renamed.status_code == 302 and moved.status_code == 302
    north = OrgUnit.objects.get(pk=org.north.pk)
    assert (north.code, north.name, north.parent_id) == ("nord", "Nord", org.support.pk)
    assert north.path == f"{org.support.path}{north.pk}/"
    assert _actions()[-2:] == ["org_unit.renamed", "org_unit.moved"]
    # A unit cannot move under a unit below itself: not even offered, and refused.
    page = client.get(f"/org-units/{org.sales.pk}/").content.decode()
    assert f'<option value="{org.south.pk}"' not in page
    cycle = client.post(
        f"/org-units/{org.sales.pk}/", {"action": "move", "move-parent": str(org.south.pk)}
    )
    assert cycle.status_code == 400 and "id_move-parent-error" in cycle.content.decode()
    assert OrgUnit.objects.get(pk=org.sales.pk).parent_id == org.company.pk

    # Someone active is placed in south: it cannot be deactivated; the page says why.
    make_person(org.south)
    refused = client.post(f"/org-units/{org.south.pk}/", {"action": "deactivate"})
    assert refused.status_code == 400
    assert "still has 1 active person placed in it" in refused.content.decode()
    assert OrgUnit.objects.get(pk=org.south.pk).active
    done = client.post(f"/org-units/{org.desk.pk}/", {"action": "deactivate"})
    assert done.status_code == 302 and not OrgUnit.objects.get(pk=org.desk.pk).active
    assert _actions()[-1] == "org_unit.deactivated"
    again = client.post(f"/org-units/{org.desk.pk}/", {"action": "reactivate"})
    assert again.status_code == 302 and OrgUnit.objects.get(pk=org.desk.pk).active


def test_placing_a_person_with_a_line_manager_and_setting_the_units_managers() -> None:
    admin = make_admin()
    org = make_org()
    client = _client(admin)
    person = make_learner(username="pat")
    lead = make_learner(username="lee")
    url = f"/org-units/{org.south.pk}/"

    placed = client.post(url, {"action": "place", "place-username": "pat", "place-manager": "lee"})
    managers = client.post(url, {"action": "managers", "managers-usernames": "lee"})

    assert placed.status_code == 302 and managers.status_code == 302
    placement = Placement.objects.get(user=person)
    assert (placement.org_unit_id, placement.manager_id) == (org.south.pk, lead.pk)
    assert list(UnitManager.objects.filter(unit=org.south).values_list("user_id", flat=True)) == [
        lead.pk
    ]
    # A learner made a unit manager is given the manager role.
    assert accounts.role_of(lead) == "manager"
    assert {"person.placed", "org_unit.managers_set"} <= set(_actions())
    page = client.get(url).content.decode()
    assert f'data-user="{person.pk}"' in page and "lee" in page

    unknown = client.post(
        url, {"action": "place", "place-username": "nobody", "place-manager": "pat"}
    )
    assert unknown.status_code == 400
    html = unknown.content.decode()
    assert 'id="id_place-username-error"' in html and "nobody" in html
    own = client.post(url, {"action": "place", "place-username": "pat", "place-manager": "pat"})
    assert own.status_code == 400
    assert 'id="id_place-manager-error"' in own.content.decode()
    assert "their own line manager" in own.content.decode()
    wrong = client.post(url, {"action": "managers", "managers-usernames": "lee, ghost"})
    assert wrong.status_code == 400 and 'id="id_managers-usernames-error"' in wrong.content.decode()
    assert UnitManager.objects.filter(unit=org.south).count() == 1
