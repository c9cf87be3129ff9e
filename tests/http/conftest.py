"""Fixtures of the HTTP API tests: callers with a role and a token, and a JSON client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.packaging import selectors

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_tree_cache() -> None:
    """Start every test with an empty requirement-tree cache.

    live_server tests commit, and SQLite hands the same ids out again in the next
    test: a cached tree of a flushed version must not answer for a new one.
    """
    selectors._tree_cache.clear()


@dataclass
class Caller:
    """A user with a personal API token, and a client that sends it."""

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
        """Send ``method path`` (relative to /api/v1) with ``body`` as JSON; return the response."""
        kwargs: dict[str, Any] = {"headers": headers or {}}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method.lower())(API + path, **kwargs)


def make_caller(*, role: str, username: str | None = None) -> Caller:
    """Return a caller of ``role`` ("admin", "auditor" or "learner") with a fresh token."""
    user = accounts.create_user(
        actor=None, username=username or f"{role}-{_next_id()}", role=Role(role)
    )
    issued = accounts.issue_token(actor=user, name="tests")
    client = Client(headers={"Authorization": f"Bearer {issued.secret}"})
    return Caller(user=user, secret=issued.secret, client=client)


_ids = iter(range(1, 1_000_000))


def _next_id() -> int:
    return next(_ids)


def problem(response: Any) -> dict[str, Any]:
    """Return the problem+json body of ``response`` (and check that it is one)."""
    assert response["Content-Type"] == "application/problem+json", response.content
    body: dict[str, Any] = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "code"}, body
    assert body["status"] == response.status_code
    return body
