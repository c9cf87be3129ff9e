"""Lists page by an opaque cursor in id order: nothing read twice, nothing skipped."""

from __future__ import annotations

import pytest
from api_helpers import Caller, make_caller, problem, where

from coursepack.catalog.models import Course
from tests.factories import make_course


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def test_a_list_read_by_cursor_returns_each_row_once_while_it_changes(admin: Caller) -> None:
    """Courses renamed and added between pages (codes sort differently from ids) are
    each read once; `next` is in the body and the Link header; the last page has none."""
    made = [make_course(code=f"C-{n:02}").pk for n in range(5)]
    first = admin.call("GET", "/courses?limit=2")
    page = first.json()
    assert [c["id"] for c in page["items"]] == made[:2]
    assert page["count"] == 5 and page["next"]
    assert first["Link"].endswith('>; rel="next"') and f"after={page['next']}" in first["Link"]

    # Meanwhile: a course renamed to sort first, and one added.
    Course.objects.filter(pk=made[4]).update(code="A-00")
    made.append(make_course(code="B-00").pk)

    seen = [c["id"] for c in page["items"]]
    while page["next"]:
        response = admin.call("GET", f"/courses?limit=2&after={page['next']}")
        page = response.json()
        seen += [c["id"] for c in page["items"]]
    assert seen == made
    assert "Link" not in response


def test_a_cursor_of_another_list_is_refused(admin: Caller) -> None:
    """A course list's cursor on /users is 422 naming `after`."""
    make_course(), make_course()
    cursor = admin.call("GET", "/courses?limit=1").json()["next"]

    response = admin.call("GET", f"/users?after={cursor}")

    assert response.status_code == 422
    assert [where(e) for e in problem(response)["errors"]] == ["after"]
