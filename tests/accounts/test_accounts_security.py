"""Sign-in throttling, audited sign-in and sign-out, idle and absolute session limits,
expiring API tokens, password validators, and commands that name their operator."""

from __future__ import annotations

import getpass
import time
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.signing import get_cookie_signer
from django.test import Client
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.accounts.models import ApiToken
from coursepack.accounts.signals import SIGNED_IN_AT
from coursepack.audit.models import AuditEvent
from coursepack.errors import InvalidInput
from coursepack.http.middleware import SEEN_COOKIE
from tests.factories import make_admin, make_learner

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def _sign_in(client: Client, username: str, password: str) -> Any:
    return client.post("/login/", {"username": username, "password": password})


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_forty_wrong_passwords_lock_the_account_out_even_for_the_right_one() -> None:
    learner = make_learner(username="mallory-target", password=PASSWORD)
    client = Client()

    for _ in range(40):
        _sign_in(client, learner.username, "wrong password")
    response = _sign_in(client, learner.username, PASSWORD)

    assert not _signed_in(client)
    assert response.status_code in (403, 429)
    failed = AuditEvent.objects.filter(action="account.sign_in_failed", target_id=str(learner.pk))
    assert failed.count() >= 5
    assert failed.first().actor_label == "anonymous"
    assert AuditEvent.objects.filter(action="account.locked_out").exists()


def test_a_failed_sign_in_for_an_unknown_username_is_on_the_record() -> None:
    _sign_in(Client(), "nobody-here", "whatever")

    record = AuditEvent.objects.get(action="account.sign_in_failed")
    assert record.after == {"username": "nobody-here"}
    assert record.target_id == ""
    assert "127.0.0.1" in record.notes


def test_sign_in_and_sign_out_are_on_the_record() -> None:
    admin = make_admin(username="signer", password=PASSWORD)
    client = Client()

    _sign_in(client, "signer", PASSWORD)
    assert _signed_in(client)
    client.post("/logout/")

    actions = list(
        AuditEvent.objects.filter(target_id=str(admin.pk)).values_list("action", flat=True)
    )
    assert actions == ["account.signed_in", "account.signed_out"]


def test_a_session_idle_for_longer_than_the_timeout_is_signed_out(settings: Any) -> None:
    make_admin(username="idler", password=PASSWORD)
    client = Client()
    _sign_in(client, "idler", PASSWORD)
    assert client.get("/reports/").status_code == 200

    # Thirty-one minutes pass without a request.
    long_ago = time.time() - settings.SESSION_IDLE_TIMEOUT - 60
    session = client.session
    session[SIGNED_IN_AT] = long_ago
    session.save()
    signer = get_cookie_signer(salt=SEEN_COOKIE + "coursepack.session-idle")
    client.cookies[SEEN_COOKIE] = signer.sign(str(int(long_ago)))

    response = client.get("/reports/")

    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not _signed_in(client)
    assert AuditEvent.objects.filter(action="account.signed_out_idle").exists()


def test_an_active_session_stays_signed_in_without_writing_to_the_session(
    settings: Any,
) -> None:
    make_admin(username="busy-bee", password=PASSWORD)
    client = Client()
    _sign_in(client, "busy-bee", PASSWORD)
    expiry = client.session.get_expiry_date()

    for _ in range(3):
        assert client.get("/reports/").status_code == 200

    assert _signed_in(client)
    # The absolute lifetime: fixed at sign-in, not extended by activity.
    assert client.session.get_expiry_date() == expiry
    lifetime = expiry - timezone.now()
    assert timedelta(seconds=settings.SESSION_COOKIE_AGE - 60) < lifetime
    assert lifetime <= timedelta(seconds=settings.SESSION_COOKIE_AGE)


def test_tokens_expire_after_the_default_lifetime_and_stop_working() -> None:
    admin = make_admin()
    issued = accounts.issue_token(actor=admin, name="ci")
    token = issued.token
    lifetime = token.expires_at - token.created_at
    assert lifetime == timedelta(days=90)
    client = Client(headers={"Authorization": f"Bearer {issued.secret}"})
    assert client.get("/api/v1/me").status_code == 200

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert client.get("/api/v1/me").status_code == 401


def test_a_token_lifetime_beyond_the_maximum_is_refused(settings: Any) -> None:
    admin = make_admin()
    settings.API_TOKEN_MAX_DAYS = 30

    with pytest.raises(InvalidInput) as refused:
        accounts.issue_token(actor=admin, name="forever", expires_in_days=31)

    assert refused.value.problems == [
        "expires_in_days: must be a whole number of days from 1 to 30"
    ]
    assert accounts.issue_token(actor=admin, name="month", expires_in_days=30).token.expires_at


def test_the_api_issues_tokens_with_a_chosen_lifetime_within_the_maximum() -> None:
    admin = make_admin()
    client = Client()
    client.force_login(admin)

    short = client.post(
        "/api/v1/tokens", {"name": "short", "expires_in_days": 7}, content_type="application/json"
    )
    too_long = client.post(
        "/api/v1/tokens", {"name": "long", "expires_in_days": 3000}, content_type="application/json"
    )

    assert short.status_code == 201, short.content
    issued = short.json()["token"]
    assert issued["expires_at"] is not None
    assert too_long.status_code == 422


@pytest.mark.parametrize(
    "password", ["short1", "password123", "12345678901234", "busy-bee-account"]
)
def test_weak_passwords_are_refused_by_the_four_validators(password: str) -> None:
    user = make_learner(username="busy-bee-account")

    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_issue_token_records_the_operator_not_the_tokens_owner() -> None:
    owner = make_learner(username="hr-sync")
    out, err = StringIO(), StringIO()

    call_command("issue_token", "hr-sync", "HR sync", stdout=out, stderr=err)

    token = ApiToken.objects.get(user=owner)
    record = AuditEvent.objects.get(action="token.issued", target_id=str(token.pk))
    assert record.actor_label == f"os:{getpass.getuser()}"
    assert record.actor_id is None
    assert record.after["owner"] == "hr-sync"
    assert out.getvalue().strip().startswith("cp_")


def test_issue_token_with_actor_records_that_user() -> None:
    make_learner(username="hr-sync")
    admin = make_admin(username="ops-lead")

    call_command(
        "issue_token",
        "hr-sync",
        "HR sync",
        "--actor",
        "ops-lead",
        stdout=StringIO(),
        stderr=StringIO(),
    )

    assert AuditEvent.objects.get(action="token.issued").actor == admin
