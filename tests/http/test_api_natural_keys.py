"""Natural keys: courses by code, packages and groups by key; a retried create with a
taken key is 409 naming what exists, never a duplicate (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import Caller, make_caller, problem, where

from coursepack.packaging.models import CourseGroup, Package
from tests.factories import make_course, make_draft_package


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def _created_id(response: Any) -> int:
    assert response.status_code == 201, response.content
    return int(response["Location"].rstrip("/").rsplit("/", 1)[-1])


def test_a_package_created_with_a_key_is_found_by_it_and_a_retry_names_it(
    admin: Caller,
) -> None:
    """POST /packages with a key: 201, GET /packages/by-key/{key} finds it; the same POST
    again (a retry without Idempotency-Key) is 409 `package_key_taken` with `existing_id`,
    and no second package exists."""
    body = {"key": "fire-safety-2027", "name": "Fire safety"}
    created = admin.call("POST", "/packages", body)
    package_id = _created_id(created)
    assert created.json()["package"]["key"] == "fire-safety-2027"

    found = admin.call("GET", "/packages/by-key/fire-safety-2027")
    assert found.status_code == 200
    assert (found.json()["id"], found.json()["name"]) == (package_id, "Fire safety")

    retried = admin.call("POST", "/packages", body)
    assert retried.status_code == 409
    refused = problem(retried)
    assert (refused["code"], refused["existing_id"]) == ("package_key_taken", package_id)
    assert Package.objects.filter(name="Fire safety").count() == 1


def test_a_group_created_with_a_key_is_found_by_it_and_a_retry_names_it(
    admin: Caller,
) -> None:
    body = {"key": "first-aid-any", "name": "First aid", "kind": "family"}
    created = admin.call("POST", "/groups", body)
    assert created.status_code == 201, created.content
    group_id = created.json()["group_id"]
    assert created.json()["group_key"] == "first-aid-any"

    found = admin.call("GET", "/groups/by-key/first-aid-any").json()
    assert (found["id"], found["key"], found["name"]) == (group_id, "first-aid-any", "First aid")

    retried = problem(admin.call("POST", "/groups", body))
    assert (retried["code"], retried["existing_id"]) == ("group_key_taken", group_id)
    assert CourseGroup.objects.count() == 1


def test_without_a_key_one_is_derived_from_the_name_and_made_unique(admin: Caller) -> None:
    """Two packages of one name get `annual-review` and `annual-review-2`."""
    first = admin.call("POST", "/packages", {"name": "Annual review"}).json()["package"]
    second = admin.call("POST", "/packages", {"name": "Annual  Review!"}).json()["package"]
    assert (first["key"], second["key"]) == ("annual-review", "annual-review-2")
    group = admin.call("POST", "/groups", {"name": "Annual review", "kind": "series"}).json()
    assert group["group_key"] == "annual-review"


@pytest.mark.parametrize("key", ["Fire Safety", "fire--safety", "-fire", "fire/safety", ""])
def test_a_key_that_is_no_slug_is_422_naming_it(admin: Caller, key: str) -> None:
    response = admin.call("POST", "/packages", {"key": key, "name": "Fire safety"})
    assert response.status_code == 422
    assert [where(e) for e in problem(response)["errors"]] == ["/key"]
    assert not Package.objects.exists()


def test_unknown_keys_and_codes_are_404_problems(admin: Caller) -> None:
    make_draft_package(name="Kept")
    for path, code in [
        ("/packages/by-key/nope", "package_not_found"),
        ("/groups/by-key/nope", "group_not_found"),
        ("/courses/by-code/NOPE", "course_not_found"),
    ]:
        response = admin.call("GET", path)
        assert response.status_code == 404
        assert problem(response)["code"] == code


def test_a_course_is_found_by_its_code(admin: Caller) -> None:
    course = make_course(code="FIRE-101")
    found = admin.call("GET", "/courses/by-code/FIRE-101")
    assert found.status_code == 200
    assert (found.json()["id"], found.json()["code"]) == (course.pk, "FIRE-101")
