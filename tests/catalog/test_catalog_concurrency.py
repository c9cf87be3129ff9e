"""Two admins creating the same course code at the same moment, on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from coursepack.catalog import api as catalog
from coursepack.catalog.errors import CourseCodeTaken
from coursepack.catalog.models import Course

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module", autouse=True)
def _postgresql_only(db_engine: str) -> None:
    if db_engine != "postgresql":
        pytest.skip(
            "races need concurrent writers: SQLite takes one write lock per database "
            "(BEGIN IMMEDIATE), so this runs on PostgreSQL only"
        )


@pytest.mark.parametrize("attempt", range(3))
def test_two_creates_of_the_same_code_at_once_leave_one_course_and_a_typed_error(
    attempt: int,
) -> None:
    """One course is created; the other caller gets CourseCodeTaken, not a database error.

    Repeated: the two inserts do not overlap every time.
    """
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def create(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = catalog.create_course(actor=None, code="RACE-1", name=f"Racer {index}")
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 1 and isinstance(failures[0], CourseCodeTaken), results
    assert Course.objects.filter(code="RACE-1").count() == 1
