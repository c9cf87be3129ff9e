"""Fixtures of the group, package and version tests."""

from __future__ import annotations

from typing import Any

import pytest

from coursepack.packaging import selectors
from tests.factories import make_admin


@pytest.fixture(autouse=True)
def _fresh_tree_cache() -> None:
    """Start every test with an empty requirement-tree cache.

    Transactional tests commit, so released versions' trees may be cached; SQLite
    then hands the same ids out again in the next test.
    """
    selectors._tree_cache.clear()


@pytest.fixture
def admin(db: None) -> Any:
    """The training admin who acts in these tests."""
    return make_admin()
