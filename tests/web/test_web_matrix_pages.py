"""The matrix and audience pages through Django's client: who may open them, a
manager's home, and a refused audience shown with its errors."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from coursepack.accounts import api as accounts
from tests.audiences.audience_helpers import make_org, make_person, manage
from tests.factories import make_admin, make_learner, make_published_package

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_who_opens_the_matrix_and_where_a_manager_lands() -> None:
    admin = make_admin()
    org = make_org()
    boss = make_person(org.company)
    accounts.set_role(actor=admin, user_id=boss.pk, role="manager")
    manage(boss, org.sales)
    learner = make_learner()

    assert _client(admin).get("/matrix/").status_code == 200
    assert _client(learner).get("/matrix/").status_code == 403
    assert _client(learner).get("/team/").status_code == 403
    home = _client(boss).get("/")
    assert home.status_code == 302 and home["Location"] == "/team/"
    assert _client(boss).get("/team/").status_code == 200
    assert _client(boss).get("/matrix.xlsx").status_code == 200


def test_a_refused_audience_says_why_beside_the_form() -> None:
    admin = make_admin()
    version = make_published_package(actor=admin)
    url = f"/packages/{version.package_id}/audience/"
    response = _client(admin).post(url, {"leaver_policy": "withdraw", "step": "preview"})
    assert response.status_code == 400
    assert b"There is a problem" in response.content
    assert b"at least one org unit, job title or hire date" in response.content
    # An auditor reads the page but gets no form.
    auditor = make_learner()
    accounts.set_role(actor=admin, user_id=auditor.pk, role="auditor")
    page = _client(auditor).get(url)
    assert page.status_code == 200 and b"Only a training admin" in page.content
