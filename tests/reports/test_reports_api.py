"""GET /api/v1/reports/{packages,courses,learners}: the page's numbers, for auditors and admins."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from reports_dataset import Dataset

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role

pytestmark = pytest.mark.django_db

API = "/api/v1/reports"
Q1 = "from=2024-01-01&to=2024-04-01"


def token_client(role: Role, username: str) -> Client:
    """A client sending a personal API token of a new user with ``role``."""
    user = accounts.create_user(actor=None, username=username, role=role)
    secret = accounts.issue_token(actor=user, name="tests").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def auditor(dataset: Dataset) -> Client:
    return token_client(Role.AUDITOR, "auditor-api")


def get(client: Client, path: str) -> Any:
    response = client.get(f"{API}{path}")
    assert response.status_code == 200, response.content
    return response.json()


def test_packages_report_counts_per_package_and_version(auditor: Client) -> None:
    body = get(auditor, f"/packages?{Q1}")

    assert body["filters"] == {
        "from": "2024-01-01T00:00:00Z",
        "to": "2024-04-01T00:00:00Z",
        "package_id": None,
        "version_id": None,
        "as_of": None,
        "known_at": None,
        "timeline": "As of now, as known now (the stored statuses).",
    }
    safety = next(p for p in body["items"] if p["name"] == "Safety")
    assert safety["totals"] == {
        "enrolled": 4,
        "withdrawn": 1,
        "not_started": 1,
        "in_progress": 2,
        "completed": 1,
        "completion_rate_percent": 25.0,
        "completed_in_range": 2,
    }
    assert [(v["version_number"], v["status"], v["enrolled"]) for v in safety["versions"]] == [
        (1, "archived", 4),
        (2, "active", 0),
    ]
    assert safety["versions"][1]["completion_rate_percent"] is None


def test_packages_report_filters_by_package_and_version(auditor: Client, dataset: Dataset) -> None:
    by_package = get(auditor, f"/packages?package_id={dataset.privacy_id}")
    by_version = get(auditor, f"/packages?version_id={dataset.safety_v2.pk}")

    assert [p["name"] for p in by_package["items"]] == ["Privacy"]
    assert [v["version_id"] for v in by_version["items"][0]["versions"]] == [dataset.safety_v2.pk]


def test_courses_report_leaves_voided_events_out(auditor: Client) -> None:
    body = get(auditor, "/courses")

    course_b = next(c for c in body["items"] if c["code"] == "RPT-B")
    assert {k: course_b[k] for k in ("learners_completed", "failed_attempts", "events_voided")} == {
        "learners_completed": 4,
        "failed_attempts": 0,
        "events_voided": 1,
    }


def test_learners_report_is_paged(auditor: Client) -> None:
    first = get(auditor, "/learners?limit=2")
    last = get(auditor, "/learners?limit=2&offset=8")

    assert (first["count"], first["limit"], first["offset"]) == (9, 2, 0)
    assert [r["username"] for r in first["items"]] == ["ann", "ben"]
    assert first["items"][0] == {
        "learner_id": first["items"][0]["learner_id"],
        "username": "ann",
        "full_name": "Ann Archer",
        "enrollments": 2,
        "withdrawn": 0,
        "not_started": 0,
        "in_progress": 0,
        "completed": 2,
        "last_completed_at": "2024-03-20T12:00:00Z",
    }
    assert [r["username"] for r in last["items"]] == ["ivy"]


def test_admins_may_read_reports_learners_may_not(dataset: Dataset) -> None:
    admin = token_client(Role.ADMIN, "admin-api")
    learner = token_client(Role.LEARNER, "learner-api")

    refused = learner.get(f"{API}/packages")

    assert admin.get(f"{API}/courses").status_code == 200
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert Client().get(f"{API}/learners").status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2024-04-01&to=2024-01-01", "to"),
        ("from=yesterday", "from"),
        ("package_id=0", "package_id"),
        ("version_id=x", "version_id"),
    ],
)
def test_bad_filters_are_422_naming_the_field(auditor: Client, query: str, field: str) -> None:
    response = auditor.get(f"{API}/packages?{query}")

    assert response.status_code == 422
    assert [e["parameter"] for e in response.json()["errors"]] == [field]


def test_the_schema_documents_the_reports(auditor: Client) -> None:
    schema = auditor.get("/api/v1/openapi.json").json()

    for kind in ("packages", "courses", "learners"):
        operation = schema["paths"][f"/api/v1/reports/{kind}"]["get"]
        assert {"from", "to", "package_id", "version_id"} <= {
            p["name"] for p in operation["parameters"]
        }
        assert {"200", "401", "403", "422"} <= set(operation["responses"])


def test_packages_report_counts_a_past_moment_on_either_timeline(auditor: Client) -> None:
    """as_of 2024-03-01 noon, as known now: the events dated by then count (every one
    was recorded later, in this test's present); as known then, none was on record yet,
    so everyone was not started. Each answer says which timeline it counts."""
    moment = "2024-03-01T12:00:00Z"
    known_now = get(auditor, f"/packages?as_of={moment}")
    shown_then = get(auditor, f"/packages?as_of={moment}&known_at={moment}")

    assert known_now["filters"]["timeline"].startswith("As of 2024-03-01 12:00")
    assert "as known now" in known_now["filters"]["timeline"]
    assert "what the record showed at that moment" in shown_then["filters"]["timeline"]
    safety_now = next(p for p in known_now["items"] if p["name"] == "Safety")
    # ann (02-10) and eve (01-25, withdrawn only later) complete; ben, dan (B voided),
    # fay (failed 03-01 noon) and gus (A only) in progress; cat not started; hal and
    # ivy not enrolled yet
    assert {k: safety_now["totals"][k] for k in ("enrolled", "withdrawn")} == {
        "enrolled": 7,
        "withdrawn": 0,
    }
    assert (
        safety_now["totals"]["not_started"],
        safety_now["totals"]["in_progress"],
        safety_now["totals"]["completed"],
    ) == (1, 4, 2)
    safety_then = next(p for p in shown_then["items"] if p["name"] == "Safety")
    assert (safety_then["totals"]["not_started"], safety_then["totals"]["completed"]) == (7, 0)


def test_reports_refuse_a_moment_without_a_time_zone(auditor: Client) -> None:
    response = auditor.get(f"{API}/packages", {"as_of": "2024-03-01T12:00:00"})
    assert response.status_code in (400, 422)
