"""The org-unit pages in Chromium, by keyboard: an admin adds a unit to the tree, sees a
taken code refused beside its field, places a person with a line manager, names the
unit's manager, and is told why a unit with people cannot be deactivated; no serious
accessibility violation, and the pages fit 390 px."""

from __future__ import annotations

from typing import Any

from browser_checks import (
    click_main_nav,
    page_overflows_viewport,
    serious_accessibility_violations,
)
from playwright.sync_api import Page, expect

from coursepack.organisation import api as organisation
from coursepack.organisation.models import OrgUnit, Placement, UnitManager
from tests.factories import make_admin, make_learner

LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _check(page: Page) -> None:
    assert serious_accessibility_violations(page) == []
    assert page_overflows_viewport(page) == 0


def _type_into(page: Page, selector: str, text: str) -> None:
    page.focus(selector)
    page.keyboard.press("Control+a")
    page.keyboard.type(text)


def test_an_admin_manages_org_units_by_keyboard(live_server: Any, page: Page, shoot: Any) -> None:
    admin = make_admin(username="oona", password="org-units-pw")
    company = organisation.create_unit(actor=admin, code="CO", name="Northwind")
    sales = organisation.create_unit(actor=admin, code="SALES", name="Sales", parent_id=company.pk)
    organisation.create_unit(actor=admin, code="IT", name="IT", parent_id=company.pk)
    make_learner(username="pia")
    make_learner(username="max")
    page.set_viewport_size(LAPTOP)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "oona")
    page.fill("#id_password", "org-units-pw")
    page.click("form.login button[type=submit]")

    click_main_nav(page, "Org units")
    expect(page.locator("h1")).to_have_text("Org units")
    _check(page)
    shoot(page, "org-units-tree", docs=True)

    # A taken code: refused, the summary links to the field, the field says why.
    _type_into(page, "#id_code", "SALES")
    _type_into(page, "#id_name", "Field sales")
    page.select_option("#id_parent", str(sales.pk))
    page.focus("#id_parent")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".error-summary")).to_contain_text("exists already")
    expect(page.locator("#id_code-error")).to_contain_text("exists already")
    _check(page)
    shoot(page, "org-units-code-taken")
    _type_into(page, "#id_code", "FIELD")
    page.focus("#id_parent")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Field sales")
    expect(page.locator(".messages, [role=status]").first).to_contain_text("was created")
    field = OrgUnit.objects.get(code="FIELD")
    assert field.parent_id == sales.pk

    # Place Pia here with Max as line manager; make Max the unit's manager.
    _type_into(page, "#id_place-username", "pia")
    _type_into(page, "#id_place-manager", "max")
    page.keyboard.press("Enter")
    expect(page.locator("table.data")).to_contain_text("pia")
    _type_into(page, "#id_managers-usernames", "max")
    page.focus("#id_managers-usernames")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#managers-title + p")).to_contain_text("max")
    placement = Placement.objects.get(user__username="pia")
    assert placement.org_unit_id == field.pk and placement.manager.username == "max"  # type: ignore[union-attr]
    assert UnitManager.objects.filter(unit=field, user__username="max").exists()

    # Pia is active here: deactivating is refused, with the reason at the top.
    page.set_viewport_size(PHONE)
    page.click("button:has-text('Deactivate Field sales')")
    expect(page.locator(".error-summary")).to_contain_text("still has 1 active person placed in it")
    assert OrgUnit.objects.get(pk=field.pk).active
    _check(page)
    shoot(page, "org-unit-refused-phone", docs=True)
    page.goto(f"{live_server.url}/org-units/")
    expect(page.locator(f'[data-unit="{field.pk}"]')).to_contain_text("managed by max")
    _check(page)
    shoot(page, "org-units-tree-phone")
