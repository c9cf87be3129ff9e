"""Fixtures of the group, package and version tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import make_admin


@pytest.fixture
def admin(db: None) -> Any:
    """The training admin who acts in these tests."""
    return make_admin()
