"""The audiences and matrix API: preview then save an audience (at once, or as a job),
refusals as problems, and a manager's matrix holding their people and nobody else."""

from __future__ import annotations

import io
from typing import Any

import pytest
from api_helpers import Caller, make_caller, problem
from openpyxl import load_workbook

from coursepack.learning import api as learning
from coursepack.organisation import api as organisation
from tests.factories import make_draft_package, make_learner, make_published_package

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> dict[str, Any]:
    admin = make_caller(role="admin")
    manager = make_caller(role="manager")
    actor = admin.user
    company = organisation.create_unit(actor=actor, code="CO", name="Company")
    team = organisation.create_unit(actor=actor, code="TEAM", name="Team", parent_id=company.pk)
    other = organisation.create_unit(actor=actor, code="OTHER", name="Other", parent_id=company.pk)
    organisation.set_unit_managers(actor=actor, unit_id=team.pk, user_ids=[manager.user.pk])
    mine = [make_learner(username=f"mine-{i}") for i in range(3)]
    theirs = [make_learner(username=f"theirs-{i}") for i in range(2)]
    for person in mine:
        organisation.place_person(actor=actor, user_id=person.pk, org_unit_id=team.pk)
    for person in theirs:
        organisation.place_person(actor=actor, user_id=person.pk, org_unit_id=other.pk)
    version = make_published_package(actor=actor, name="Hygiene")
    learning.enroll(actor=actor, learner_id=theirs[0].pk, package_id=version.package_id)
    return {
        "admin": admin,
        "manager": manager,
        "team": team,
        "other": other,
        "mine": mine,
        "theirs": theirs,
        "package": version.package_id,
    }


def test_preview_then_save_enrols_the_members(org: dict[str, Any]) -> None:
    admin: Caller = org["admin"]
    body = {"org_unit_ids": [org["team"].pk]}
    preview = admin.call("POST", f"/packages/{org['package']}/audience/preview", body)
    assert preview.status_code == 200, preview.content
    assert preview.json()["summary"] == "3 learners would be enrolled, 0 withdrawn"
    saved = admin.call("PUT", f"/packages/{org['package']}/audience", body)
    assert saved.status_code == 200, saved.content
    assert saved.json()["applied"] is True and saved.json()["job"] is None
    assert saved.json()["impact"]["enrol"] == sorted(p.pk for p in org["mine"])
    got = admin.call("GET", f"/packages/{org['package']}/audience").json()
    assert got["org_unit_ids"] == [org["team"].pk] and got["leaver_policy"] == "withdraw"
    assert [a["package_id"] for a in admin.call("GET", "/audiences").json()["items"]] == [
        org["package"]
    ]


def test_a_large_save_answers_with_its_job(org: dict[str, Any], settings: Any) -> None:
    settings.AUDIENCE_INLINE_LIMIT = 1
    saved = org["admin"].call(
        "PUT", f"/packages/{org['package']}/audience", {"org_unit_ids": [org["team"].pk]}
    )
    assert saved.status_code == 200
    assert saved.json()["applied"] is False
    assert saved.json()["job"]["kind"] == "audience_sync"


def test_refusals_are_problems(org: dict[str, Any]) -> None:
    admin: Caller = org["admin"]
    path = f"/packages/{org['package']}/audience"
    unknown = problem(admin.call("PUT", path, {"org_unit_ids": [987654]}))
    assert unknown["code"] == "invalid_input" and "987654" in unknown["detail"] + str(unknown)
    empty = problem(admin.call("PUT", path, {}))
    assert "at least one" in str(empty)
    nul = admin.call("PUT", path, {"job_titles": ["\x00"]})
    assert nul.status_code == 422
    draft = make_draft_package(actor=admin.user)
    no_version = problem(
        admin.call("PUT", f"/packages/{draft.package_id}/audience", {"job_titles": ["Nurse"]})
    )
    assert no_version["code"] == "no_active_version"
    assert problem(admin.call("GET", f"/packages/{draft.package_id}/audience"))["status"] == 404


def test_a_managers_matrix_holds_their_people_only(org: dict[str, Any]) -> None:
    manager: Caller = org["manager"]
    page = manager.call("GET", "/matrix")
    assert page.status_code == 200, page.content
    assert [r["username"] for r in page.json()["rows"]] == ["mine-0", "mine-1", "mine-2"]
    outside = manager.call("GET", f"/matrix?org_unit_id={org['other'].pk}")
    assert outside.json()["total"] == 0
    export = manager.call("GET", "/matrix/export")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(export.streaming_content)))["Training matrix"]
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == [
        "mine-0",
        "mine-1",
        "mine-2",
    ]
    # The admin sees everyone, with the standing in each cell.
    admin = org["admin"].call("GET", f"/matrix?package_id={org['package']}&state=not_started")
    assert [r["username"] for r in admin.json()["rows"]] == ["theirs-0"]
    assert admin.json()["rows"][0]["cells"][0]["state"] == "not_started"
