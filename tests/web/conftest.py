"""Fixtures of the authoring pages' server-side tests."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.factories import make_admin


@pytest.fixture
def admin(db: None) -> Any:
    """The training admin who acts in these tests."""
    return make_admin(username="ada")


@pytest.fixture
def client_as_admin(admin: Any) -> Client:
    """A browser session signed in as the admin."""
    client = Client()
    client.force_login(admin)
    return client
