"""The pages' authorization matrix for the reads a manager shares with admins and
auditors (ADR 0024, 0034): every page and download for admin, auditor, a manager (whose
unit holds "inside" and not "outside") and a learner. A manager's page shows the
people of their units and never anyone else — not in a list, a count or a download."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import openpyxl
import pytest
from django.test import Client

from coursepack.accounts import api as accounts
from coursepack.learning import api as learning
from coursepack.organisation import api as organisation
from tests.factories import make_admin, make_course, make_learner, make_published_package

pytestmark = pytest.mark.django_db


@dataclass
class World:
    admin: Any
    auditor: Any
    manager: Any
    learner: Any
    inside: Any
    outside: Any
    package_id: int


@pytest.fixture
def world() -> World:
    admin = make_admin()
    auditor = make_learner(username="audrey")
    accounts.set_role(actor=admin, user_id=auditor.pk, role="auditor")
    inside = make_learner(username="inside-ivan")
    outside = make_learner(username="outside-olga")
    learner = make_learner(username="lone-learner")
    manager = make_learner(username="boss-bea")
    company = organisation.create_unit(actor=admin, code="CO", name="Company")
    team = organisation.create_unit(actor=admin, code="TEAM", name="Team", parent_id=company.pk)
    other = organisation.create_unit(actor=admin, code="OTHER", name="Other", parent_id=company.pk)
    organisation.place_person(actor=admin, user_id=inside.pk, org_unit_id=team.pk)
    organisation.place_person(actor=admin, user_id=outside.pk, org_unit_id=other.pk)
    organisation.set_unit_managers(actor=admin, unit_id=team.pk, user_ids=[manager.pk])
    course = make_course(actor=admin)
    version = make_published_package(actor=admin, items=[course])
    for person in (inside, outside):
        enrollment = learning.enroll(
            actor=admin, learner_id=person.pk, package_id=version.package_id
        )
        learning.record_completion(actor=admin, learner_id=person.pk, course_id=course.pk)
        # An exemption each, so the exceptions pages have someone to show or hide.
        learning.exempt(
            actor=admin, enrollment_ids=[enrollment.pk], course_id=course.pk, reason="tested_out"
        )
    return World(admin, auditor, manager, learner, inside, outside, version.package_id)


def _pages(world: World) -> list[str]:
    p = world.package_id
    return [
        "/reports/",
        "/reports/learners.csv",
        "/reports/report.xlsx",
        f"/packages/{p}/standing/?standing=current",
        f"/packages/{p}/standing.csv?standing=current",
        f"/packages/{p}/standing.xlsx?standing=current",
        f"/packages/{p}/exceptions/?section=exempt",
        f"/packages/{p}/exceptions.csv?section=exempt",
        "/learners/",
        "/matrix/",
    ]


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _text(response: Any) -> str:
    """The page, the CSV, or every cell of every sheet of the workbook, as text."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if body[:2] == b"PK":
        workbook = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
        return "\n".join(
            str(cell)
            for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)
            for cell in row
            if cell is not None
        )
    return body.decode()


def test_every_shared_page_for_every_role(world: World) -> None:
    for url in _pages(world):
        assert Client().get(url).status_code == 302, url  # to sign in
        assert _client(world.learner).get(url).status_code == 403, url
        for reader in (world.admin, world.auditor):
            page = _client(reader).get(url)
            assert page.status_code == 200, (reader, url)
            assert "outside-olga" in _text(page), (reader, url)
        page = _client(world.manager).get(url)
        assert page.status_code == 200, url
        text = _text(page)
        assert "outside-olga" not in text, url
        assert "inside-ivan" in text, url


def test_a_managers_counts_hold_their_people_only(world: World) -> None:
    mine = _text(_client(world.manager).get(f"/packages/{world.package_id}/standing/"))
    everyone = _text(_client(world.admin).get(f"/packages/{world.package_id}/standing/"))
    # The "Current" count links to its list: one completed person for the manager, two
    # for the admin.
    assert "aria-current" in mine
    assert ">1</a>" in mine.split("Current")[1].split("</tr>")[0]
    assert ">2</a>" in everyone.split("Current")[1].split("</tr>")[0]
    report = _text(_client(world.manager).get("/reports/"))
    assert "Your people only" in report
    assert "Your people only" not in _text(_client(world.admin).get("/reports/"))
