"""The planner's statistics of tables a transaction fills (PostgreSQL): a bulk load
samples what it wrote, in its own transaction, each time the table has doubled."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from learning_helpers import make_learners

from coursepack.learning import api as learning
from tests.factories import make_course, make_published_package

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL plans by statistics; SQLite does not"
    ),
]


def _sampled(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_stats WHERE tablename = %s", [table])
        return int(cursor.fetchone()[0]) > 0


def test_a_resampler_samples_a_table_once_it_has_doubled(admin: Any) -> None:
    with connection.cursor() as cursor:
        # Statistics left by earlier tests go (this test's transaction is rolled back).
        cursor.execute("DELETE FROM pg_statistic WHERE starelid = 'learning_enrollment'::regclass")
        cursor.execute("UPDATE pg_class SET reltuples = -1 WHERE relname = 'learning_enrollment'")
    first = make_published_package(items=[make_course()]).package_id
    second = make_published_package(items=[make_course()]).package_id
    learners = make_learners(6)
    resampler = learning.Resampler(("learning_enrollment",), at_least=6)

    learning.bulk_enroll(actor=admin, package_id=first, learner_ids=learners[:5])
    resampler.wrote(5)
    assert not _sampled("learning_enrollment"), "5 rows: not yet the 6 it waits for"

    learning.bulk_enroll(actor=admin, package_id=second, learner_ids=learners)
    resampler.wrote(11)
    assert _sampled("learning_enrollment")
    assert resampler.sampled == 11, "the next sample waits for 22 rows"
