"""Your API tokens page through Django's test client: sign-in needed; someone else's
token cannot be revoked from it (404, nothing changed)."""

from __future__ import annotations

import pytest
from django.test import Client

from coursepack.accounts import api as accounts
from tests.factories import make_learner

pytestmark = pytest.mark.django_db


def test_the_page_needs_a_sign_in() -> None:
    response = Client().get("/account/tokens/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_someone_elses_token_is_not_found_and_stays_working() -> None:
    owner = make_learner(username="owner")
    other = make_learner(username="other")
    issued = accounts.issue_token(actor=owner, name="mine")
    client = Client()
    client.force_login(other)

    response = client.post(f"/account/tokens/{issued.token.pk}/revoke/")

    assert response.status_code == 404
    assert accounts.authenticate_token(issued.secret) == owner
    assert "mine" not in client.get("/account/tokens/").content.decode()
