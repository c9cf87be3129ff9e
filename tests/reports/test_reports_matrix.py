"""The training matrix: scope (a manager sees their units and below, nobody else),
filters, paging and sorting, each cell's standing (equal to the state filter's verdict
at every moment), and the XLSX export with coloured cells and a legend."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from coursepack.accounts import api as accounts
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from coursepack.reports import matrix
from coursepack.reports.matrix import MatrixFilters, Scope
from tests.audiences.audience_helpers import make_org, make_person, manage, place
from tests.factories import make_admin, make_course, make_draft_package, make_published_package

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    admin = make_admin()
    org = make_org()
    boss = make_person(org.company, username="boss")
    accounts.set_role(actor=admin, user_id=boss.pk, role="manager")
    manage(boss, org.sales)
    north = [make_person(org.north, username=f"north-{i}") for i in range(3)]
    south = [make_person(org.south, username=f"south-{i}") for i in range(2)]
    desk = [make_person(org.desk, username=f"desk-{i}") for i in range(2)]
    for person in south:
        place(person, org.south, manager=boss)
    version = make_published_package(actor=admin, name="Fire safety")
    for person in north + desk:
        learning.enroll(actor=admin, learner_id=person.pk, package_id=version.package_id)
    return {
        "admin": admin,
        "org": org,
        "boss": boss,
        "north": north,
        "south": south,
        "desk": desk,
        "version": version,
    }


def _names(m: matrix.Matrix) -> list[str]:
    return [r.username for r in m.rows]


def test_a_manager_sees_the_people_of_their_units_and_below_only(world: dict[str, Any]) -> None:
    scope = matrix.scope_for(world["boss"])
    page = matrix.matrix_page(scope)
    assert _names(page) == [p.username for p in world["north"] + world["south"]]
    assert page.total == 5
    # A learner's scope is nobody; an admin's everyone (the admin has no placement).
    learner_scope = matrix.scope_for(world["desk"][0])
    assert matrix.matrix_page(learner_scope).total == 0
    assert matrix.matrix_page(matrix.scope_for(world["admin"])).total == 9


def test_filters_by_unit_manager_state_and_search(world: dict[str, Any]) -> None:
    everyone = Scope(everyone=True)
    org = world["org"]
    package_id = world["version"].package_id
    by_unit = matrix.matrix_page(everyone, MatrixFilters(org_unit_id=org.sales.pk))
    assert by_unit.total == 5
    by_manager = matrix.matrix_page(everyone, MatrixFilters(manager_id=world["boss"].pk))
    assert _names(by_manager) == ["south-0", "south-1"]
    started = matrix.matrix_page(
        Scope(everyone=True), MatrixFilters(state="not_started", package_ids=(package_id,))
    )
    assert _names(started) == ["desk-0", "desk-1", "north-0", "north-1", "north-2"]
    unassigned = matrix.matrix_page(
        matrix.scope_for(world["boss"]),
        MatrixFilters(state="not_assigned", package_ids=(package_id,)),
    )
    assert _names(unassigned) == ["south-0", "south-1"]
    assert _names(matrix.matrix_page(everyone, MatrixFilters(search="desk"))) == [
        "desk-0",
        "desk-1",
    ]


def test_pages_and_sorts_on_the_server(world: dict[str, Any]) -> None:
    scope = matrix.scope_for(world["boss"])
    first = matrix.matrix_page(scope, per_page=2)
    third = matrix.matrix_page(scope, per_page=2, page=3)
    assert (first.pages, _names(first), _names(third)) == (3, ["north-0", "north-1"], ["south-1"])
    backwards = matrix.matrix_page(scope, sort="-name")
    assert _names(backwards) == sorted(_names(backwards), reverse=True)
    by_unit = matrix.matrix_page(scope, sort="unit")
    assert [r.unit for r in by_unit.rows] == ["North"] * 3 + ["South"] * 2


def test_each_cell_agrees_with_the_state_filter_at_every_moment(world: dict[str, Any]) -> None:
    """A package valid 30 days (window 10, grace 5), due 7 days after enrolment: one
    learner completes, one is exempt, one never starts. At moments from now to a year
    on, every cell's standing is exactly the state filter's."""
    admin = world["admin"]
    course = make_course(actor=admin)
    draft = make_draft_package(actor=admin, items=[course], name="Forklift")
    packaging.set_version_lifecycle(
        actor=admin,
        version_id=draft.pk,
        due_kind="after_enrolment",
        due_days=7,
        valid_days=30,
        window_days=10,
        grace_days=5,
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="v1")
    done, exempt, idle = world["north"]
    enrollments = {
        p.pk: learning.enroll(actor=admin, learner_id=p.pk, package_id=draft.package_id)
        for p in (done, exempt, idle)
    }
    learning.record_completion(actor=admin, learner_id=done.pk, course_id=course.pk)
    learning.exempt(
        actor=admin, enrollment_ids=[enrollments[exempt.pk].pk], reason="administrative"
    )
    scope = Scope(everyone=True)
    seen: dict[int, list[str]] = {}
    for days in (0, 8, 21, 32, 40, 400):
        now = timezone.now() + timedelta(days=days)
        page = matrix.matrix_page(scope, MatrixFilters(package_ids=(draft.package_id,)), now=now)
        cells = {r.person_id: r.cells[0].state for r in page.rows}
        for state in matrix.STATES:
            kept = matrix.people(
                scope, MatrixFilters(state=state, package_ids=(draft.package_id,)), now=now
            )
            assert set(kept.values_list("pk", flat=True)) == {
                p for p, s in cells.items() if s == state
            }, (days, state)
        for person in (done, exempt, idle):
            seen.setdefault(person.pk, []).append(cells[person.pk])
    assert seen[done.pk] == [
        "current",
        "current",
        "due_for_recertification",
        "overdue",
        "expired",
        "expired",
    ]
    assert seen[exempt.pk] == ["exempt"] * 6
    assert seen[idle.pk] == ["not_started", "overdue", "overdue", "overdue", "overdue", "overdue"]


def test_the_overdue_list_is_the_scopes_overdue_people(world: dict[str, Any]) -> None:
    later = timezone.now() + timedelta(days=400)
    admin = world["admin"]
    draft = make_draft_package(actor=admin, name="Due soon")
    packaging.set_version_lifecycle(
        actor=admin, version_id=draft.pk, due_kind="after_enrolment", due_days=1
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="v1")
    for person in world["north"][:2] + world["desk"]:
        learning.enroll(actor=admin, learner_id=person.pk, package_id=draft.package_id)
    listed = matrix.overdue_list(matrix.scope_for(world["boss"]), now=later)
    assert sorted(e.username for e in listed) == ["north-0", "north-1"]


def test_the_xlsx_export_has_every_row_coloured_cells_and_a_legend(world: dict[str, Any]) -> None:
    out = io.BytesIO()
    written = matrix.write_matrix_xlsx(matrix.scope_for(world["boss"]), MatrixFilters(), out)
    book = load_workbook(io.BytesIO(out.getvalue()))
    sheet = book["Training matrix"]
    rows = list(sheet.iter_rows(values_only=True))
    assert written == 5
    assert rows[0] == ("Username", "Name", "Org unit", "Fire safety")
    assert [r[0] for r in rows[1:]] == [p.username for p in world["north"] + world["south"]]
    assert [r[3] for r in rows[1:]] == ["Not started"] * 3 + ["Not assigned"] * 2
    assert sheet["D2"].fill.start_color.rgb.endswith(matrix.STATES["not_started"][1])
    legend = [r[0] for r in book["Legend"].iter_rows(values_only=True)]
    assert [label for label, _ in matrix.STATES.values()] == legend[1 : len(matrix.STATES) + 1]
