"""A busy database: a write that waits too long gets 503 + Retry-After, and reads
(with a token whose last-used stamp is due) do not wait at all. Against the real
server, with another connection holding the lock the request needs."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Account, Role

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_TIMEOUT = 2


@contextmanager
def _holding_the_write_lock(database_url: str) -> Iterator[None]:
    """Hold what every audited write needs: SQLite's write lock, or PostgreSQL's chain head
    and token rows."""
    if database_url.startswith("sqlite:///"):
        db = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            db.execute("ROLLBACK")
            db.close()
        return
    import psycopg

    with psycopg.connect(database_url) as db:
        db.execute("SELECT * FROM audit_auditchainhead FOR UPDATE")
        db.execute("SELECT * FROM accounts_apitoken FOR UPDATE")
        yield
        db.rollback()


def _send(url: str, method: str, token: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_a_write_that_waits_too_long_is_503_and_a_read_does_not_wait(
    serve: Callable[..., Any],
) -> None:
    admin = User.objects.create_user("busy-admin")
    Account.objects.create(user=admin, role=Role.ADMIN)
    token = accounts.issue_token(actor=admin, name="busy").secret
    assert connection.vendor in ("sqlite", "postgresql")
    served = serve(COURSEPACK_DB_LOCK_TIMEOUT=str(LOCK_TIMEOUT))

    with _holding_the_write_lock(served.database_url):
        started = time.monotonic()
        # The token was never used: authenticating it wants to stamp last_used_at.
        status, _, body = _send(served.url + "/api/v1/me", "GET", token)
        read_took = time.monotonic() - started
        status_w, headers_w, body_w = _send(
            served.url + "/api/v1/courses", "POST", token, {"code": "BUSY-1", "name": "Busy"}
        )

    assert status == 200, body
    assert read_took < LOCK_TIMEOUT, "the read waited for the write lock"
    assert status_w == 503, body_w
    assert headers_w["Content-Type"] == "application/problem+json"
    assert int(headers_w["Retry-After"]) >= 1
    assert json.loads(body_w)["code"] == "busy"

    # Once the lock is free, the same write succeeds.
    status, _, body = _send(
        served.url + "/api/v1/courses", "POST", token, {"code": "BUSY-1", "name": "Busy"}
    )
    assert status == 201, body
