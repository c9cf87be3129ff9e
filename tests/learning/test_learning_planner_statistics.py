"""On PostgreSQL the planner knows that an enrollment's version decides its package
(learning 0013's extended statistics): its estimate of a version's enrollments within
its package is the version's, not the product of the two conditions' selectivities
(which, at the full scale, planned the one-version learners page in parallel)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from learning_helpers import make_learners

from coursepack.learning import api as learning
from tests.factories import make_published_package

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgresql_only")]

PER_PACKAGE = 20


def _estimated_rows(package_id: int, version_id: int) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM learning_enrollment "
            "WHERE package_id = %s AND version_id = %s",
            [package_id, version_id],
        )
        (plan,) = cursor.fetchone()
    found = plan if isinstance(plan, list) else json.loads(plan)
    return float(found[0]["Plan"]["Plan Rows"])


def test_a_versions_enrollments_are_estimated_as_the_versions(admin: Any) -> None:
    versions = [make_published_package(name=f"Package {n}") for n in range(3)]
    learners = make_learners(PER_PACKAGE * len(versions))
    for index, version in enumerate(versions):
        for learner_id in learners[index * PER_PACKAGE : (index + 1) * PER_PACKAGE]:
            learning.enroll(actor=admin, learner_id=learner_id, package_id=version.package_id)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE learning_enrollment")
    # Independent conditions would give 60 x 1/3 x 1/3 ~ 7 rows.
    for version in versions:
        assert _estimated_rows(version.package_id, version.pk) == pytest.approx(PER_PACKAGE, abs=2)
