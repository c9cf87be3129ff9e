"""Helpers of the HTTP API tests: callers with a role and a token, problem bodies."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from django.test import Client

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role

API = "/api/v1"

_serial = itertools.count(1)


@dataclass
class Caller:
    """A user with a personal API token, and a test client that sends it."""

    user: Any
    secret: str
    client: Client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send ``method path`` (path relative to /api/v1) with ``body`` as JSON."""
        return send(self.client, method, path, body, headers)


def send(
    client: Client,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """Send ``method path`` (relative to /api/v1) with ``client``; ``body`` goes as JSON."""
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if body is not None:
        kwargs["data"] = json.dumps(body)
        kwargs["content_type"] = "application/json"
    return getattr(client, method.lower())(API + path, **kwargs)


def make_caller(*, role: str, username: str | None = None) -> Caller:
    """Return a caller of ``role`` ("admin", "auditor" or "learner") with a fresh token."""
    user = accounts.create_user(
        actor=None, username=username or f"{role}-{next(_serial)}", role=Role(role)
    )
    issued = accounts.issue_token(actor=user, name="tests")
    client = Client(headers={"Authorization": f"Bearer {issued.secret}"})
    return Caller(user=user, secret=issued.secret, client=client)


def problem(response: Any) -> dict[str, Any]:
    """Return the problem+json body of ``response``, checking that it is one."""
    assert response["Content-Type"] == "application/problem+json", response.content
    body: dict[str, Any] = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "code"}, body
    assert body["status"] == response.status_code, body
    assert body["type"] == f"urn:coursepack:problem:{body['code']}", body
    return body


def where(error: dict[str, Any]) -> str:
    """Return where a problem's error is: its JSON Pointer into the body, or its parameter."""
    return str(error["pointer"] if error.get("pointer") is not None else error.get("parameter"))
