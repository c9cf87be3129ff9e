"""Every cursor list takes `updated_since`: only what was created or changed since,
read from the audit log (which records every write), in the same id order."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from api_helpers import Caller, make_caller, problem
from django.utils import timezone

from coursepack.catalog import api as catalog
from coursepack.http.api import api
from coursepack.packaging import api as packaging
from tests.factories import make_course, make_group, make_published_package


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def _ids(admin: Caller, path: str) -> list[int]:
    response = admin.call("GET", path)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def _since() -> str:
    """Now (after everything written so far), as a query value."""
    return quote(timezone.now().isoformat())


def test_only_courses_created_or_changed_since_are_listed(admin: Caller) -> None:
    """A course edited and one created after the moment are listed, in id order; one
    left alone is not; with no updated_since all three are."""
    old, edited = make_course(actor=admin.user), make_course(actor=admin.user)
    since = _since()
    assert _ids(admin, f"/courses?updated_since={since}") == []
    new = make_course(actor=admin.user)
    catalog.update_course(actor=admin.user, course_id=edited.pk, name="Renamed")

    assert _ids(admin, f"/courses?updated_since={since}") == [edited.pk, new.pk]
    assert _ids(admin, "/courses") == [old.pk, edited.pk, new.pk]


def test_a_package_changes_with_its_versions_and_a_group_with_its_versions(
    admin: Caller,
) -> None:
    """Publishing a new version of a package lists the package; a new group draft lists
    its group; their untouched neighbours are not listed."""
    course = make_course(actor=admin.user)
    quiet_package = make_published_package(actor=admin.user, items=[course])
    busy_package = make_published_package(actor=admin.user, items=[course])
    quiet_group = make_group(actor=admin.user, items=[course])
    busy_group = make_group(actor=admin.user, items=[course])
    since = _since()

    draft = packaging.create_draft_from(actor=admin.user, version_id=busy_package.pk)
    packaging.new_group_draft(actor=admin.user, group_id=busy_group.group_id)

    assert _ids(admin, f"/packages?updated_since={since}") == [busy_package.package_id]
    assert _ids(admin, f"/groups?updated_since={since}") == [busy_group.group_id]
    assert draft.package_id != quiet_package.package_id
    assert quiet_group.group_id not in _ids(admin, f"/groups?updated_since={since}")


def test_updated_since_takes_a_date_and_refuses_nonsense(admin: Caller) -> None:
    """A date alone means the end of that day; text that is no moment is 422 naming it."""
    make_course(actor=admin.user)
    assert _ids(admin, "/courses?updated_since=2000-01-01") != []
    assert _ids(admin, "/courses?updated_since=9000-01-01") == []
    refused = problem(admin.call("GET", "/courses?updated_since=yesterday"))
    assert refused["errors"][0]["parameter"] == "updated_since"


def test_every_cursor_list_declares_updated_since() -> None:
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    lists = [
        (path, {p["name"] for p in operation.get("parameters", [])})
        for path, operations in schema["paths"].items()
        for verb, operation in operations.items()
        if verb == "get" and any(p["name"] == "after" for p in operation.get("parameters", []))
    ]
    assert len(lists) >= 9
    assert [path for path, names in lists if "updated_since" not in names] == ["/api/v1/events"]
