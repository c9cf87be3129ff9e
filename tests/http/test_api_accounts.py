"""Accounts: personal API tokens, browser sessions with CSRF, users and roles."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from api_helpers import Caller, make_caller, problem, send
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from coursepack.accounts.models import ApiToken
from coursepack.audit.models import AuditEvent
from tests.factories import make_admin, make_learner


@pytest.fixture
def learner(db: None) -> Caller:
    return make_caller(role="learner")


def _database_text() -> str:
    """Every text value in every table, joined: to look for a secret anywhere."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(chunks)


def test_a_new_token_is_shown_once_and_only_its_digest_is_stored(learner: Caller) -> None:
    """POST /tokens returns the secret; it is in no table (only its SHA-256) and no later
    response repeats it."""
    response = learner.call("POST", "/tokens", {"name": "HR sync"})

    assert response.status_code == 201
    secret = response.json()["secret"]
    token = response.json()["token"]
    assert secret.startswith(f"cp_{token['prefix']}_")
    assert token["name"] == "HR sync" and token["last_used_at"] is None
    stored = ApiToken.objects.get(pk=token["id"])
    assert stored.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in _database_text()
    assert secret.split("_", 2)[2] not in _database_text()
    listed = learner.call("GET", "/tokens")
    assert secret not in listed.content.decode()
    assert token["id"] in {t["id"] for t in listed.json()["items"]}


def test_a_token_works_stamps_its_last_use_and_stops_working_when_revoked(
    learner: Caller,
) -> None:
    """Using a token sets last_used_at; after DELETE /tokens/{id} it is refused with 401."""
    issued = learner.call("POST", "/tokens", {"name": "script"}).json()
    client = Client(headers={"Authorization": f"Bearer {issued['secret']}"})

    assert send(client, "GET", "/me").json()["id"] == learner.user.pk
    token = ApiToken.objects.get(pk=issued["token"]["id"])
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < timedelta(minutes=1)

    revoked = learner.call("DELETE", f"/tokens/{token.pk}")
    assert revoked.status_code == 204
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None

    refused = send(client, "GET", "/me")
    assert refused.status_code == 401
    assert problem(refused)["code"] == "unauthenticated"
    assert refused["WWW-Authenticate"].startswith("Bearer ")
    # The caller's other token still works.
    assert learner.call("GET", "/me").status_code == 200


def test_a_token_with_the_right_prefix_but_a_wrong_secret_is_refused(learner: Caller) -> None:
    """The prefix finds the row; the digest must match too."""
    prefix = learner.secret.split("_")[1]
    client = Client(headers={"Authorization": f"Bearer cp_{prefix}_{'x' * 43}"})

    assert send(client, "GET", "/me").status_code == 401


def test_an_inactive_users_token_is_refused(learner: Caller) -> None:
    """Deactivating a user stops their tokens at once."""
    get_user_model().objects.filter(pk=learner.user.pk).update(is_active=False)

    assert learner.call("GET", "/me").status_code == 401


def test_a_browser_session_reads_and_writes_only_with_the_csrf_token(db: None) -> None:
    """Signed in (session cookie): GETs work; a write without the CSRF token is 403 and
    changes nothing; with the csrftoken cookie echoed in X-CSRFToken it goes through."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_learner())

    assert send(client, "GET", "/me").status_code == 200
    assert send(client, "GET", "/enrollments").status_code == 200
    before = (ApiToken.objects.count(), AuditEvent.objects.count())

    refused = send(client, "POST", "/tokens", {"name": "from the browser"})

    assert refused.status_code == 403
    assert problem(refused)["code"] == "csrf_failed"
    assert (ApiToken.objects.count(), AuditEvent.objects.count()) == before

    csrf = "k" * 32
    client.cookies["csrftoken"] = csrf
    accepted = send(client, "POST", "/tokens", {"name": "from the browser"}, {"X-CSRFToken": csrf})
    assert accepted.status_code == 201
    assert ApiToken.objects.count() == before[0] + 1


def test_a_token_needs_no_csrf_token(learner: Caller) -> None:
    """Bearer tokens are not sent by browsers on their own: no CSRF check applies."""
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {learner.secret}"})

    assert send(client, "POST", "/tokens", {"name": "cli"}).status_code == 201


def test_me_tells_the_role(db: None) -> None:
    """A superuser without an account is an admin; a user without one is a learner."""
    for user, role in ((make_admin(), "admin"), (make_learner(), "learner")):
        client = Client()
        client.force_login(user)
        assert send(client, "GET", "/me").json()["role"] == role


def test_an_admin_creates_users_with_roles(db: None) -> None:
    """POST /users: 201 with the role; a taken username is 409 username_taken."""
    admin = make_caller(role="admin")

    created = admin.call(
        "POST", "/users", {"username": "lee", "role": "auditor", "email": "lee@example.com"}
    )

    assert created.status_code == 201
    assert created.json()["role"] == "auditor"
    assert created.json()["email"] == "lee@example.com"
    again = admin.call("POST", "/users", {"username": "lee"})
    assert again.status_code == 409
    assert problem(again)["code"] == "username_taken"
    listed = admin.call("GET", "/users?limit=200").json()
    assert {u["username"]: u["role"] for u in listed["items"]}["lee"] == "auditor"
