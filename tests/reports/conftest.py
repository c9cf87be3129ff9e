"""Fixtures of the report tests: the hand-built history of reports_dataset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from reports_dataset import Dataset, build_dataset

from tests.factories import make_admin


@pytest.fixture
def admin(db: None) -> Any:
    """The training admin who acts in these tests."""
    return make_admin()


@pytest.fixture(scope="module")
def _module_dataset(django_db_setup: None, django_db_blocker: Any) -> Iterator[Dataset]:
    """Build the history once per test module, in a transaction rolled back after it.

    Each test still runs in its own savepoint inside it (the ``db`` fixture), so
    what a test adds is gone before the next one.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_dataset(make_admin())
        transaction.set_rollback(True)


@pytest.fixture
def dataset(_module_dataset: Dataset, db: None) -> Dataset:
    """The history described in reports_dataset, built through the services."""
    return _module_dataset
