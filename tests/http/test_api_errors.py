"""Every error leaves as RFC 9457 problem+json with a stable code; invalid input names each field."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import Caller, make_caller, problem, send, where
from django.test import Client

from coursepack.catalog.models import Course
from coursepack.http.api import api
from tests.factories import make_course


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def _fields(body: dict[str, Any]) -> dict[str, str]:
    return {where(e): e["message"] for e in body["errors"]}


def test_an_invalid_body_names_every_bad_field(admin: Caller) -> None:
    """Wrong types, a blank name, a NUL character and an unknown field: one 422 naming each."""
    response = admin.call(
        "POST",
        "/courses",
        {"code": 7, "name": "   ", "description": "a\x00b", "duration_minutes": True, "colour": 1},
    )

    assert response.status_code == 422
    body = problem(response)
    assert body["code"] == "invalid_input"
    assert body["title"] and body["detail"]
    fields = _fields(body)
    # Each named by its JSON Pointer into the body.
    assert set(fields) == {"/code", "/name", "/description", "/duration_minutes", "/colour"}
    assert fields["/name"] == "must not be blank or contain NUL characters"
    assert fields["/description"] == "must not contain NUL characters"
    assert "integer" in fields["/duration_minutes"]  # true is not 1
    # problems repeats them as plain sentences, field first.
    assert sorted(body["problems"]) == sorted(f"{f}: {m}" for f, m in fields.items())
    assert Course.objects.count() == 0


def test_a_missing_required_field_and_a_bad_query_parameter_are_named(admin: Caller) -> None:
    """A body without a required field, and ?limit out of range, both name the field."""
    assert _fields(problem(admin.call("POST", "/courses", {"code": "X-1"}))) == {
        "/name": "Field required"
    }
    body = problem(admin.call("GET", "/courses?limit=0&after=nonsense"))
    assert set(_fields(body)) == {"limit"}


def test_an_unknown_query_parameter_is_refused_not_ignored(admin: Caller) -> None:
    """?updated_sinse=… (misspelt) is 422 naming it, not every course with 200."""
    response = admin.call("GET", "/courses?updated_sinse=2025-01-01&limit=5&offset=3")

    assert response.status_code == 422
    body = problem(response)
    assert [(e["parameter"], e["in"]) for e in body["errors"]] == [
        ("offset", "query"),
        ("updated_sinse", "query"),
    ]


def test_a_body_that_is_not_a_json_object_is_refused(admin: Caller) -> None:
    """A JSON array is 422; text that is not JSON is 400 (malformed_body); both problem+json."""
    array = admin.call("POST", "/courses", ["code", "name"])
    assert array.status_code == 422
    # The empty JSON Pointer is the whole body.
    assert _fields(problem(array)) == {"": "the body must be a JSON object"}

    garbage = admin.client.post(
        "/api/v1/courses", data="{not json", content_type="application/json"
    )
    assert garbage.status_code == 400
    assert problem(garbage)["code"] == "malformed_body"


def test_a_body_that_is_not_json_is_415_after_authentication(admin: Caller) -> None:
    """text/plain or a form is 415 naming application/json; without credentials it is 401 first."""
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        refused = admin.client.post(
            "/api/v1/courses", data='{"code": "X-1", "name": "X"}', content_type=content_type
        )
        assert refused.status_code == 415
        assert problem(refused)["code"] == "unsupported_media_type"
        assert refused["Accept-Post"] == "application/json"
    anonymous = Client().post("/api/v1/courses", data="x", content_type="text/plain")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer ")
    assert Course.objects.count() == 0


def test_a_domain_error_has_its_own_code_and_the_services_message(admin: Caller) -> None:
    """A taken course code: 409 course_code_taken, with the message that says what to do."""
    make_course(code="SEC-1")

    response = admin.call("POST", "/courses", {"code": "SEC-1", "name": "Again"})

    assert response.status_code == 409
    body = problem(response)
    assert body["code"] == "course_code_taken"
    assert body["type"] == "urn:coursepack:problem:course_code_taken"
    assert "choose another code" in body["detail"]


def test_a_refused_publish_lists_every_problem(admin: Caller) -> None:
    """Publishing an empty draft: 422 publish_validation_failed with each problem listed."""
    created = admin.call("POST", "/packages", {"name": "Empty"}).json()

    response = admin.call("POST", f"/versions/{created['draft_version_id']}/publish", {})

    assert response.status_code == 422
    body = problem(response)
    assert body["code"] == "publish_validation_failed"
    assert body["problems"], body


def test_a_missing_thing_is_a_404_with_the_kind_of_thing(admin: Caller) -> None:
    """Each kind of missing resource has its own not-found code."""
    for path, code in [
        ("/courses/999999", "course_not_found"),
        ("/packages/999999", "package_not_found"),
        ("/versions/999999", "version_not_found"),
        ("/groups/999999", "group_not_found"),
        ("/enrollments/999999", "enrollment_not_found"),
        ("/learners/999999/transcript", "learner_not_found"),
    ]:
        response = admin.call("GET", path)
        assert response.status_code == 404, path
        assert problem(response)["code"] == code


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer nonsense", "Bearer cp_abc_def", "Basic YWRtaW46YWRtaW4=", "Bearer "],
)
def test_no_or_a_bad_credential_is_a_401_problem(db: None, authorization: str | None) -> None:
    """Without a valid token or session: 401 unauthenticated, saying how to authenticate."""
    client = Client(headers={"Authorization": authorization} if authorization else {})

    response = send(client, "GET", "/me")

    assert response.status_code == 401
    body = problem(response)
    assert body["code"] == "unauthenticated"
    assert "Bearer" in body["detail"]


def test_the_schema_declares_every_error_as_problem_json() -> None:
    """Every 4xx response of every operation is application/problem+json with the Problem schema."""
    schema = api.get_openapi_schema()
    problem_schema = schema["components"]["schemas"]["Problem"]
    assert set(problem_schema["required"]) >= {"type", "title", "status", "detail", "code"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {str(s): r for s, r in operation["responses"].items() if int(s) >= 400}
            assert {"401", "403", "422"} <= errors.keys(), (method, path)
            for status, response in errors.items():
                assert set(response["content"]) == {"application/problem+json"}, (
                    method,
                    path,
                    status,
                )
                assert response["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }


def test_operation_ids_are_view_names_and_no_parameter_is_nullable() -> None:
    """Generated clients call ``create_course``; no parameter schema admits null."""
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    operations = [op for ops in schema["paths"].values() for op in ops.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert "create_course" in ids and "record_completion" in ids
    for operation in operations:
        for parameter in operation.get("parameters", []):
            variants = parameter["schema"].get("anyOf", [parameter["schema"]])
            assert all(v.get("type") != "null" for v in variants), parameter
