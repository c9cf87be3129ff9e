"""Fixtures of the enrollment and completion tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import make_admin, make_learner


@pytest.fixture
def admin(db: None) -> Any:
    """The training admin who acts in these tests."""
    return make_admin()


@pytest.fixture
def learner(db: None) -> Any:
    """One learner."""
    return make_learner()
