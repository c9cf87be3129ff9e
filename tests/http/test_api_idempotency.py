"""Idempotency-Key on every POST: a retry gets the first answer and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import Caller, make_caller, problem, where
from django.apps import apps

from coursepack.http.api import api
from tests.factories import make_published_package


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def _rows() -> dict[str, int]:
    return {
        m._meta.label: m.objects.count()
        for m in apps.get_models()
        if m._meta.app_label not in ("sessions", "integrations", "django_tasks_database")
    }


def _posts(admin: Caller) -> list[tuple[str, dict[str, Any]]]:
    version = make_published_package()
    learner = admin.call("POST", "/users", {"username": "kim"}).json()["id"]
    return [
        ("/courses", {"code": "SEC-1", "name": "Security basics"}),
        ("/groups", {"name": "Languages", "kind": "family"}),
        ("/packages", {"name": "Onboarding"}),
        ("/users", {"username": "lee", "email": "lee@example.com"}),
        ("/enrollments", {"learner_id": learner, "package_id": version.package_id}),
        ("/tokens", {"name": "nightly"}),
    ]


def test_every_post_replays_its_first_answer_for_the_same_key(admin: Caller) -> None:
    """The same key and body: the first status and body again, Idempotent-Replayed,
    nothing new stored. The same key with another body: 409, nothing stored."""
    for index, (path, body) in enumerate(_posts(admin)):
        key = {"Idempotency-Key": f"nightly-{index}"}
        first = admin.call("POST", path, body, key)
        assert first.status_code == 201, (path, first.content)
        after_first = _rows()

        retry = admin.call("POST", path, body, key)

        assert (retry.status_code, retry.json()) == (first.status_code, first.json()), path
        assert retry["Idempotent-Replayed"] == "true"
        assert _rows() == after_first, path
        other = admin.call("POST", path, {**body, "name": "Something else"}, key)
        assert other.status_code == 409, path
        assert problem(other)["code"] == "idempotency_conflict"
        assert _rows() == after_first, path


def test_without_a_key_a_retry_is_a_new_request_and_a_refusal_is_not_kept(admin: Caller) -> None:
    """No key: two groups. A refused request (422) with a key may be retried fixed."""
    for _ in range(2):
        admin.call("POST", "/groups", {"name": "Same", "kind": "family"})
    assert admin.call("GET", "/groups").json()["count"] == 2

    key = {"Idempotency-Key": "try-1"}
    refused = admin.call("POST", "/courses", {"code": "X-1"}, key)
    assert refused.status_code == 422
    fixed = admin.call("POST", "/courses", {"code": "X-1", "name": "X"}, key)
    assert fixed.status_code == 201


def test_keys_are_per_caller_and_must_be_visible_ascii(admin: Caller) -> None:
    """Another admin's same key is theirs; a key with spaces is 422 naming the header."""
    other = make_caller(role="admin")
    key = {"Idempotency-Key": "shared"}
    assert admin.call("POST", "/packages", {"name": "A"}, key).status_code == 201
    assert other.call("POST", "/packages", {"name": "B"}, key).status_code == 201

    bad = admin.call("POST", "/packages", {"name": "C"}, {"Idempotency-Key": "a b"})
    assert bad.status_code == 422
    assert [where(e) for e in problem(bad)["errors"]] == ["Idempotency-Key"]


def test_every_post_declares_the_key_and_its_409() -> None:
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    for path, operations in schema["paths"].items():
        if "post" in operations:
            post = operations["post"]
            names = [p["name"] for p in post.get("parameters", [])]
            assert "Idempotency-Key" in names, path
            assert 409 in post["responses"] or "409" in post["responses"], path


def test_a_409_that_something_exists_names_its_id(admin: Caller) -> None:
    """A taken course code, a taken username and an open enrollment: existing_id is theirs."""
    course = admin.call("POST", "/courses", {"code": "SEC-9", "name": "Security"}).json()
    again = admin.call("POST", "/courses", {"code": "SEC-9", "name": "Again"})
    assert (again.status_code, problem(again)["existing_id"]) == (409, course["id"])

    user = admin.call("POST", "/users", {"username": "ann"}).json()
    twice = admin.call("POST", "/users", {"username": "ann"})
    assert (twice.status_code, problem(twice)["existing_id"]) == (409, user["id"])

    version = make_published_package()
    body = {"learner_id": user["id"], "package_id": version.package_id}
    enrollment = admin.call("POST", "/enrollments", body).json()
    enrolled = admin.call("POST", "/enrollments", body)
    assert (enrolled.status_code, problem(enrolled)["existing_id"]) == (409, enrollment["id"])
