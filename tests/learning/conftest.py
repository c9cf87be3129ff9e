"""Fixtures of the enrollment and completion tests."""

from __future__ import annotations

from typing import Any

import pytest

from coursepack.packaging import selectors as packaging_selectors
from tests.factories import make_admin, make_learner


@pytest.fixture(autouse=True)
def _fresh_tree_cache() -> None:
    """Start every test with empty requirement-tree and course-id caches.

    They are keyed by version id, and SQLite hands out the ids of rolled-back rows
    again: without this, a test could see the trees of an earlier (committed) test.
    """
    packaging_selectors._tree_cache.clear()
    packaging_selectors._course_id_cache.clear()


@pytest.fixture
def admin(db: None) -> Any:
    """The training admin who acts in these tests."""
    return make_admin()


@pytest.fixture
def learner(db: None) -> Any:
    """One learner."""
    return make_learner()
