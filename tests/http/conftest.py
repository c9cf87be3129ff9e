"""Fixtures of the HTTP API tests."""

from __future__ import annotations

import pytest

from coursepack.packaging import selectors


@pytest.fixture(autouse=True)
def _fresh_tree_cache() -> None:
    """Start every test with an empty requirement-tree cache.

    live_server tests commit, and SQLite hands the same ids out again in the next
    test: a cached tree of a flushed version must not answer for a new one.
    """
    selectors._tree_cache.clear()
