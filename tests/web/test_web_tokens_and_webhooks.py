"""Through Django's test client: an admin issues an API token for a person on their
page (the secret shown once, the lifetime bounded); the webhook pages refuse a bad
address beside the field, and only admins reach them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from coursepack.accounts import api as accounts
from coursepack.audit.models import AuditEvent
from coursepack.integrations.models import WebhookSubscription
from tests.factories import make_learner

pytestmark = pytest.mark.django_db


def test_an_admin_issues_a_token_for_a_person_and_sees_its_secret_once(
    client_as_admin: Client,
) -> None:
    person = make_learner(username="hr-bot")
    url = f"/people/{person.pk}/"

    response = client_as_admin.post(
        f"{url}tokens/new/", {"name": "HR sync", "expires_in_days": "30"}, follow=True
    )

    page = response.content.decode()
    secret = re.search(r'id="issued-token"[^>]*value="(cp_[^"]+)"', page)
    assert secret is not None, page
    assert accounts.authenticate_token(secret.group(1)) == person
    assert AuditEvent.objects.filter(action="token.issued", actor_label="ada").count() == 1
    again = client_as_admin.get(url).content.decode()
    assert secret.group(1) not in again and "HR sync" in again


def test_a_token_lifetime_past_the_maximum_is_refused_beside_the_field(
    client_as_admin: Client, settings: Any
) -> None:
    settings.API_TOKEN_MAX_DAYS = 30
    person = make_learner(username="hr-bot-2")

    response = client_as_admin.post(
        f"/people/{person.pk}/tokens/new/", {"name": "HR sync", "expires_in_days": "31"}
    )

    assert response.status_code == 400
    assert "from 1 to 30" in response.content.decode()
    assert accounts.tokens_of(person.pk) == []


def test_the_webhook_form_refuses_a_private_address_beside_the_field(
    client_as_admin: Client,
) -> None:
    response = client_as_admin.post("/webhooks/", {"url": "http://10.0.0.7/hook"})

    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_url-error"' in page and "private, loopback or link-local" in page
    assert not WebhookSubscription.objects.exists()


def test_webhook_pages_are_for_admins_only(db: None) -> None:
    learner = make_learner(username="curious")
    client = Client()
    client.force_login(learner)
    assert client.get("/webhooks/").status_code == 403
