"""A CSV download reads at one moment: in its own read transaction when served outside
any transaction (as in production), which ends with the download."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client

from coursepack.learning import api as learning
from tests.factories import make_learner, make_published_package


@pytest.mark.django_db(transaction=True)
def test_a_csv_outside_any_transaction_reads_in_one_read_transaction_that_ends(
    admin: Any,
) -> None:
    """Served as in production (no enclosing transaction), the CSV is read in its own
    read transaction (repeatable read on PostgreSQL, a deferred read on SQLite) that is
    over once the download is: the connection is back in autocommit, writes work."""
    version = make_published_package()
    learner = make_learner(username="streamed")
    learning.enroll(actor=admin, learner_id=learner.pk, package_id=version.package_id)
    client = Client()
    client.force_login(admin)
    response = client.get("/reports/learners.csv")
    chunks = iter(response.streaming_content)  # type: ignore[attr-defined]
    first = next(chunks)
    assert first.startswith("\ufeff".encode())
    assert connection.in_atomic_block or connection.vendor == "sqlite"
    rest = b"".join(chunks)
    assert b"streamed" in first + rest
    assert connection.get_autocommit() and not connection.in_atomic_block
    # The connection takes writes again (SQLite: no transaction left open).
    learning.withdraw(actor=admin, enrollment_id=learner.enrollments.get().pk)
