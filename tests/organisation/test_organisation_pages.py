"""Pages under the manager scope: a manager opens their people's progress and transcript
pages and gets the 404 of a missing one for anyone else; the people sync page is for
admins, and a file it cannot read is refused on the page, nothing staged."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from coursepack.learning import api as learning
from coursepack.organisation import api as organisation
from coursepack.organisation.models import PeopleSync
from tests.factories import make_admin, make_learner, make_published_package

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    admin = make_admin()
    company = organisation.create_unit(actor=admin, code="CO", name="Company")
    team = organisation.create_unit(actor=admin, code="TEAM", name="Team", parent_id=company.pk)
    other = organisation.create_unit(actor=admin, code="OTHER", name="Other", parent_id=company.pk)
    mine, theirs = make_learner(username="mine"), make_learner(username="theirs")
    organisation.place_person(actor=admin, user_id=mine.pk, org_unit_id=team.pk)
    organisation.place_person(actor=admin, user_id=theirs.pk, org_unit_id=other.pk)
    boss = make_learner(username="boss")
    organisation.set_unit_managers(actor=admin, unit_id=team.pk, user_ids=[boss.pk])
    version = make_published_package(actor=admin)
    enrollments = {
        person.username: learning.enroll(
            actor=admin, learner_id=person.pk, package_id=version.package_id
        ).pk
        for person in (mine, theirs)
    }
    client = Client()
    client.force_login(User.objects.get(pk=boss.pk))
    return {"admin": admin, "client": client, "mine": mine, "theirs": theirs, "e": enrollments}


def test_a_manager_reads_their_peoples_pages_and_nobody_elses(world: dict[str, Any]) -> None:
    client = world["client"]
    assert client.get(f"/enrollments/{world['e']['mine']}/").status_code == 200
    assert client.get(f"/learners/{world['mine'].pk}/transcript/").status_code == 200
    outside = client.get(f"/enrollments/{world['e']['theirs']}/")
    missing = client.get("/enrollments/987654321/")
    assert outside.status_code == missing.status_code == 404
    assert client.get(f"/learners/{world['theirs'].pk}/transcript/").status_code == 404
    people = client.get("/learners/").content.decode()
    assert "mine" in people and "theirs" not in people


def test_the_people_sync_page_is_for_admins_only(world: dict[str, Any]) -> None:
    assert world["client"].get("/people-sync/").status_code == 403


def test_a_file_that_cannot_be_read_is_refused_on_the_page(world: dict[str, Any]) -> None:
    client = Client()
    client.force_login(world["admin"])
    upload = SimpleUploadedFile("people.csv", b"username,shoe_size\nx,9\n", "text/csv")
    response = client.post("/people-sync/", {"people_file": upload})
    assert response.status_code == 400
    assert "shoe_size" in response.content.decode()
    assert PeopleSync.objects.count() == 0
