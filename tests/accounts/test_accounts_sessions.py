"""A signed-in request finds its session and its user with two statements written once
(ADR 0035, amended): the same rows Django's own session store and model backend read,
on SQLite and PostgreSQL alike; signed out, expired, deactivated and unknown stay so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends import db as django_sessions
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.accounts.backends import AccountBackend
from coursepack.accounts.models import Account, Role
from coursepack.http.sessions import SessionStore
from tests.factories import make_admin, make_learner

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
_USER_COLUMNS = [f.attname for f in User._meta.concrete_fields]
_ACCOUNT_COLUMNS = [f.attname for f in Account._meta.concrete_fields]


def _columns(obj: Any, names: list[str]) -> tuple[Any, ...]:
    return tuple(getattr(obj, name) for name in names)


def test_the_signed_in_user_is_the_querysets_user_with_their_account() -> None:
    admin = make_admin()
    auditor = make_learner(username="auditor-1")
    accounts.set_role(actor=admin, user_id=auditor.pk, role=Role.AUDITOR)
    Account.objects.filter(user=auditor).update(
        hire_date=timezone.localdate() - timedelta(days=40), job_title="Auditor", external_id="E-7"
    )
    learner = make_learner(username="no-account")
    User.objects.filter(pk=learner.pk).update(last_login=timezone.now(), first_name="Ada")
    assert not Account.objects.filter(user=learner).exists()

    for person, role in ((auditor, Role.AUDITOR), (learner, Role.LEARNER)):
        expected = User.objects.select_related("account").get(pk=person.pk)
        with CaptureQueriesContext(connection) as queries:
            found = accounts.signed_in_user(str(person.pk))  # the session keeps a string
            assert found is not None
            assert accounts.role_of(found) == role
            account = getattr(found, "account", None)
        assert len(queries) == 1
        assert _columns(found, _USER_COLUMNS) == _columns(expected, _USER_COLUMNS)
        assert found._state.adding is False and found._state.db == "default"
        expected_account = Account.objects.filter(user=person).first()
        if expected_account is None:
            assert account is None
        else:
            assert _columns(account, _ACCOUNT_COLUMNS) == _columns(
                expected_account, _ACCOUNT_COLUMNS
            )


@pytest.mark.parametrize("user_id", ["999999", "not a number", "", None, "1.5"])
def test_no_user_is_found_for_an_unknown_or_malformed_id(user_id: Any) -> None:
    assert accounts.signed_in_user(user_id) is None


def test_the_backend_finds_no_deactivated_user() -> None:
    person = make_learner()
    assert AccountBackend().get_user(person.pk) is not None
    User.objects.filter(pk=person.pk).update(is_active=False)
    assert AccountBackend().get_user(person.pk) is None


def test_a_signed_in_page_reads_its_session_and_user_with_two_statements() -> None:
    make_admin(username="reader", password=PASSWORD)
    client = Client()
    client.post("/login/", {"username": "reader", "password": PASSWORD})
    assert client.session[BACKEND_SESSION_KEY] == "coursepack.accounts.backends.AccountBackend"

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/account/tokens/")
    assert response.status_code == 200 and b"reader" in response.content
    session_table = connection.ops.quote_name(Session._meta.db_table)
    account_table = connection.ops.quote_name(Account._meta.db_table)
    reads = [q["sql"] for q in queries]
    assert reads[0].startswith(f"SELECT {connection.ops.quote_name('session_data')} ")
    assert session_table in reads[0]
    assert f"LEFT OUTER JOIN {account_table}" in reads[1]
    # The account came with the user: nothing else reads it.
    assert not any(f"FROM {account_table}" in sql for sql in reads)


def test_a_deactivated_persons_session_signs_them_out() -> None:
    person = make_admin(username="leaver", password=PASSWORD)
    client = Client()
    client.post("/login/", {"username": "leaver", "password": PASSWORD})
    assert client.get("/reports/").status_code == 200

    User.objects.filter(pk=person.pk).update(is_active=False)

    response = client.get("/reports/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_session_store_loads_what_djangos_store_loads() -> None:
    ours = SessionStore()
    ours["answer"] = 42
    ours["when"] = "2026-12-04"
    ours.save()
    key = ours.session_key
    assert key is not None

    mine, djangos = SessionStore(key), django_sessions.SessionStore(key)
    assert dict(mine.items()) == dict(djangos.items()) == {"answer": 42, "when": "2026-12-04"}
    assert mine.session_key == djangos.session_key == key

    # Expired: nothing, and the key dropped (a new one is made if the session is saved).
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    mine, djangos = SessionStore(key), django_sessions.SessionStore(key)
    assert dict(mine.items()) == dict(djangos.items()) == {}
    assert mine.session_key is None and djangos.session_key is None

    # Unknown, too short to be a key, none at all.
    for unknown in ("x" * 32, "short", None):
        mine, djangos = SessionStore(unknown), django_sessions.SessionStore(unknown)
        assert dict(mine.items()) == dict(djangos.items()) == {}
        assert mine.session_key is None and djangos.session_key is None


def test_a_signed_out_session_cookie_signs_no_one_in() -> None:
    make_admin(username="leaving", password=PASSWORD)
    client = Client()
    client.post("/login/", {"username": "leaving", "password": PASSWORD})
    cookie = client.cookies["sessionid"].value
    client.post("/logout/")

    replay = Client()
    replay.cookies["sessionid"] = cookie
    response = replay.get("/reports/")
    assert response.status_code == 302 and "/login/" in response["Location"]
