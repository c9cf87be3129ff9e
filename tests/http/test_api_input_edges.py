"""Input at the edges: integers beyond 64 bits, dates beyond the calendar, large bodies,
unknown paths and methods — each a 4xx problem+json (or a 4xx page), never a 500."""

from __future__ import annotations

import json

import pytest
from api_helpers import Caller, make_caller, problem, where
from django.contrib.auth.models import User
from django.test import Client, RequestFactory

from coursepack.accounts.models import Account, Role
from coursepack.http.middleware import server_error_response
from tests.factories import make_course

HUGE = "1" + "0" * 30
MAX_INT64 = 2**63 - 1


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


@pytest.mark.parametrize(
    "path",
    [
        f"/enrollments?learner_id={HUGE}",
        f"/enrollments?package_id=-{HUGE}",
        f"/completions?course_id={MAX_INT64 + 1}",
        f"/packages/{HUGE}",
        "/packages/99999999999999999999999",
        f"/enrollments/{HUGE}/progress",
    ],
)
def test_an_integer_beyond_64_bits_is_refused_as_invalid_input(admin: Caller, path: str) -> None:
    response = admin.call("GET", path)

    assert response.status_code == 422, response.content
    body = problem(response)
    assert body["code"] == "invalid_input"
    assert "9223372036854775807" in body["detail"]


def test_the_largest_64_bit_integer_is_simply_not_found(admin: Caller) -> None:
    response = admin.call("GET", f"/packages/{MAX_INT64}")

    assert response.status_code in (404, 422)
    assert problem(response)["code"] in ("not_found", "package_not_found", "invalid_input")


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:00-14:00"])
def test_a_completion_date_beyond_the_calendar_in_utc_is_invalid_input(
    admin: Caller, occurred_at: str
) -> None:
    course = make_course(code="EDGE-1")
    learner = User.objects.create_user("edge-learner")

    response = admin.call(
        "POST",
        "/completions",
        {"learner_id": learner.pk, "course_id": course.pk, "occurred_at": occurred_at},
    )

    assert response.status_code == 422, response.content
    body = problem(response)
    assert [where(e) for e in body["errors"]] == ["/occurred_at"]
    assert "out of range" in body["errors"][0]["message"]


def test_a_transcript_as_of_the_end_of_the_calendar_is_invalid_input(admin: Caller) -> None:
    learner = User.objects.create_user("edge-learner-2")

    response = admin.call(
        "GET", f"/learners/{learner.pk}/transcript?as_of=9999-12-31T23:59:00-14:00"
    )

    assert response.status_code == 422, response.content
    assert problem(response)["code"] == "invalid_input"


def test_pages_refuse_out_of_range_ids_and_dates_with_4xx(db: None) -> None:
    staff = User.objects.create_user("edge-admin", is_staff=True)
    Account.objects.create(user=staff, role=Role.ADMIN)
    client = Client()
    client.force_login(staff)

    assert client.get("/packages/99999999999999999999999/").status_code == 404
    assert client.get(f"/learners/{HUGE}/transcript/").status_code == 404
    for path in ("/audit/?to=9999-12-31", "/audit/?from=0001-01-01", "/reports/?to=9999-12-31"):
        response = client.get(path)
        assert 200 <= response.status_code < 500, (path, response.status_code)


def test_a_body_over_the_limit_is_413_problem_json(admin: Caller, settings: object) -> None:
    body = b'{"name": "' + b"x" * (3 * 1024 * 1024) + b'"}'

    response = admin.client.generic("POST", "/api/v1/tokens", body, content_type="application/json")

    assert response.status_code == 413
    assert problem(response)["code"] == "body_too_large"


def test_unknown_paths_and_methods_under_api_are_problem_json(admin: Caller) -> None:
    missing = admin.call("GET", "/no/such/resource")
    wrong_method = admin.call("PATCH", "/tokens", {})

    assert missing.status_code == 404
    assert problem(missing)["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert problem(wrong_method)["code"] == "method_not_allowed"
    assert "GET" in wrong_method["Allow"] or "POST" in wrong_method["Allow"]


def test_a_server_error_under_api_is_problem_json_without_a_traceback() -> None:
    request = RequestFactory().get("/api/v1/packages")

    response = server_error_response(request, RuntimeError("boom: secret internals"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["code"] == "server_error"
    assert "secret internals" not in response.content.decode()


def test_a_page_error_is_not_problem_json() -> None:
    response = server_error_response(RequestFactory().get("/reports/"), RuntimeError("boom"))

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/")


def test_a_late_completion_over_the_api_needs_a_reason_and_is_marked_late(admin: Caller) -> None:
    course = make_course(code="LATE-1")
    learner = User.objects.create_user("late-learner")
    body = {"learner_id": learner.pk, "course_id": course.pk, "occurred_at": "2001-01-01T00:00:00Z"}

    refused = admin.call("POST", "/completions", body)
    recorded = admin.call("POST", "/completions", {**body, "late_reason": "Found in archive"})

    assert refused.status_code == 422
    assert [where(e) for e in problem(refused)["errors"]] == ["/late_reason"]
    assert recorded.status_code == 201, recorded.content
    event = recorded.json()["event"]
    assert (event["late_reason"], event["recorded_late"]) == ("Found in archive", True)
