"""Two admins creating the same course code at the same moment, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coursepack.catalog import api as catalog
from coursepack.catalog.errors import CourseCodeTaken
from coursepack.catalog.models import Course
from tests.concurrency import at_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgresql_only")]


@pytest.mark.parametrize("attempt", range(3))
def test_two_creates_of_the_same_code_at_once_leave_one_course_and_a_typed_error(
    attempt: int,
) -> None:
    """One course is created; the other caller gets CourseCodeTaken, not a database error.

    Repeated: the two inserts do not overlap every time.
    """

    def create(index: int) -> Callable[[], object]:
        return lambda: catalog.create_course(actor=None, code="RACE-1", name=f"Racer {index}")

    results = at_once([create(0), create(1)], timeout=60)

    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 1 and isinstance(failures[0], CourseCodeTaken), results
    assert Course.objects.filter(code="RACE-1").count() == 1
