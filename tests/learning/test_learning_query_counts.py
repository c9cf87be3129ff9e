"""Moving and rebuilding work per chunk, not per enrollment.

Inside the publish that moves enrollments the new version's tree is not cached
yet (the cache learns a version only once its publish commits), and neither is
anything in a rebuild's first chunk: the work must still not grow with the
number of enrollments.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from learning_helpers import base_time, make_learners

from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from tests.factories import add_items, make_course, make_group, make_published_package

pytestmark = pytest.mark.django_db


def _queries(admin: Any, learners: int) -> tuple[int, int]:
    """Return the queries of a publish moving ``learners`` enrollments, and of a rebuild."""
    a = make_course()
    family = make_group(kind="family", items=[make_course(), make_course()])
    v1 = make_published_package(items=[a, family])
    ids = make_learners(learners, prefix=f"q{learners}-")
    learning.bulk_enroll(actor=admin, package_id=v1.package_id, learner_ids=ids)
    for learner_id in ids[::2]:
        learning.record_completion(
            actor=admin, learner_id=learner_id, course_id=a.pk, occurred_at=base_time()
        )
    draft = packaging.create_draft_from(actor=admin, version_id=v1.pk)
    add_items(version=draft, items=[make_course()])
    with CaptureQueriesContext(connection) as publish:
        outcome = packaging.publish_version(
            actor=admin, version_id=draft.pk, inflight_policy="move_in_progress"
        )
    assert outcome.moved_enrollments == learners
    with CaptureQueriesContext(connection) as rebuild:
        assert learning.rebuild_statuses(actor=admin, fix=False).drifted == []
    return len(publish.captured_queries), len(rebuild.captured_queries)


def test_moving_and_rebuilding_do_not_query_per_enrollment(admin: Any) -> None:
    few = _queries(admin, 5)
    many = _queries(admin, 40)
    # Eight times the enrollments: the publish makes the same queries; the second
    # rebuild also loads the first package's two trees, a few queries more (when
    # trees were loaded per enrollment, it made 300 more).
    assert many[0] <= few[0] + 2, (few, many)
    assert many[1] <= few[1] + 10, (few, many)
