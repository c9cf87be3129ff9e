"""No N+1: the number of queries of a list endpoint does not grow with the number of rows.

Each list is read with n rows and again with 3n rows; the query counts must be equal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import Caller, make_caller
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coursepack.accounts import api as accounts
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from tests.factories import (
    make_course,
    make_group,
    make_learner,
    make_published_package,
    publish_new_version,
)

N = 3


class Context:
    """What the builders share: the admin, and one package whose history grows."""

    def __init__(self, admin: Caller) -> None:
        self.admin = admin
        self.version = make_published_package(items=[make_course(), make_course()])
        self.serial = 0

    def next(self) -> int:
        self.serial += 1
        return self.serial


def _course(ctx: Context) -> None:
    make_course()


def _group(ctx: Context) -> None:
    gv = make_group(items=[make_course(), (make_course(), True)])
    if ctx.next() % 2:
        packaging.new_group_draft(actor=None, group_id=gv.group_id)


def _package(ctx: Context) -> None:
    version = make_published_package(items=[make_course()])
    if ctx.next() % 2:
        packaging.create_draft_from(actor=None, version_id=version.pk)


def _version(ctx: Context) -> None:
    ctx.version = publish_new_version(from_version=ctx.version, add=[make_course()])


def _enrollment(ctx: Context) -> None:
    learner = make_learner()
    learning.enroll(actor=None, learner_id=learner.pk, package_id=ctx.version.package_id)
    course = ctx.version.items.order_by("position").first().course  # type: ignore[union-attr]
    learning.record_completion(actor=None, learner_id=learner.pk, course_id=course.pk)


def _event(ctx: Context) -> None:
    learning.record_completion(actor=None, learner_id=make_learner().pk, course_id=make_course().pk)


def _user(ctx: Context) -> None:
    # With an account (a role) and without one (a plain Django user: a learner).
    if ctx.next() % 2:
        accounts.create_user(actor=None, username=f"user-{ctx.serial}", role="auditor")
    else:
        make_learner()


def _token(ctx: Context) -> None:
    accounts.issue_token(actor=ctx.admin.user, name=f"token {ctx.next()}")


LISTS: dict[str, tuple[Callable[[Context], str], Callable[[Context], None]]] = {
    "courses": (lambda ctx: "/courses?limit=200", _course),
    "groups": (lambda ctx: "/groups?limit=200", _group),
    "packages": (lambda ctx: "/packages?limit=200", _package),
    "versions": (lambda ctx: f"/packages/{ctx.version.package_id}/versions", _version),
    "publish-log": (lambda ctx: f"/packages/{ctx.version.package_id}/publish-log", _version),
    "enrollments": (lambda ctx: "/enrollments?limit=200", _enrollment),
    "completions": (lambda ctx: "/completions?limit=200", _event),
    "users": (lambda ctx: "/users?limit=200", _user),
    "tokens": (lambda ctx: "/tokens", _token),
}


def _items(body: Any) -> list[Any]:
    return body["items"] if isinstance(body, dict) else body  # type: ignore[no-any-return]


def _read(admin: Caller, path: str) -> tuple[int, int]:
    """Return (queries, items) of one GET."""
    with CaptureQueriesContext(connection) as queries:
        response = admin.call("GET", path)
    assert response.status_code == 200, response.content
    return len(queries), len(_items(response.json()))


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_list_makes_as_many_queries_for_3n_rows_as_for_n(db: None, name: str) -> None:
    """n rows, then 3n rows: the same number of queries, and 2n more items listed."""
    path_of, add = LISTS[name]
    ctx = Context(make_caller(role="admin"))
    for _ in range(N):
        add(ctx)
    # The first use of a token stamps it (one write); read once so that both counts skip it.
    ctx.admin.call("GET", "/me")

    few_queries, few_items = _read(ctx.admin, path_of(ctx))
    for _ in range(2 * N):
        add(ctx)
    many_queries, many_items = _read(ctx.admin, path_of(ctx))

    # (A publish that archives the previous version logs two records.)
    assert many_items >= few_items + 2 * N
    assert many_queries == few_queries, f"{name}: {few_queries} queries, then {many_queries}"


def test_a_learners_lists_make_as_many_queries_for_3n_rows_as_for_n(db: None) -> None:
    """The learner's own enrollments and events: the same counts for n and 3n rows."""
    learner = make_caller(role="learner")
    courses = [make_course() for _ in range(3 * N)]

    def add(count: int) -> None:
        for _ in range(count):
            version = make_published_package(items=[courses[0]])
            learning.enroll(actor=None, learner_id=learner.user.pk, package_id=version.package_id)
            learning.record_completion(
                actor=None,
                learner_id=learner.user.pk,
                course_id=courses[version.pk % len(courses)].pk,
            )

    add(N)
    learner.call("GET", "/me")
    counts = [
        _read(learner, "/enrollments?limit=200")[0],
        _read(learner, "/completions?limit=200")[0],
    ]
    add(2 * N)
    assert [
        _read(learner, "/enrollments?limit=200")[0],
        _read(learner, "/completions?limit=200")[0],
    ] == counts


@pytest.mark.parametrize("role", ["admin", "learner"])
def test_progress_reads_the_token_once_and_the_enrollment_once(db: None, role: str) -> None:
    """The hot read path: the token brings its user and role in one query, the enrollment
    is read once (not again by the evaluation), the events once."""
    caller = make_caller(role=role)
    course = make_course()
    version = make_published_package(items=[course, make_course()])
    learner_id = caller.user.pk if role == "learner" else make_learner().pk
    enrollment = learning.enroll(actor=None, learner_id=learner_id, package_id=version.package_id)
    learning.record_completion(actor=None, learner_id=learner_id, course_id=course.pk)
    caller.call("GET", "/me")  # the first use of a token stamps it

    with CaptureQueriesContext(connection) as captured:
        response = caller.call("GET", f"/enrollments/{enrollment.pk}/progress")

    assert response.status_code == 200, response.content
    assert response.json()["done"] == 1

    def reading(table: str) -> int:
        return sum(1 for q in captured.captured_queries if f'FROM "{table}"' in q["sql"])

    assert reading("accounts_apitoken") == 1
    assert reading("accounts_account") == 0  # joined to the token's query
    assert reading("learning_enrollment") == 1
    assert reading("learning_completionevent") == 1
