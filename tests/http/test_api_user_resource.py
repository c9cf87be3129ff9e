"""One user is one resource: GET, PATCH (details, role, active) and POST with an
external id, every change audited, a refused PATCH changing nothing."""

from __future__ import annotations

import pytest
from api_helpers import Caller, make_caller, problem

from coursepack.audit.models import AuditEvent


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin", username="hr-admin")


def test_a_user_created_with_an_external_id_is_found_by_it_and_patched(admin: Caller) -> None:
    """POST with external_id; GET by it; PATCH email, role and active in one request:
    each change is audited with the actor, and GET shows the result."""
    created = admin.call("POST", "/users", {"username": "rae", "external_id": "E-77"})
    assert created.status_code == 201, created.content
    user_id = created.json()["id"]
    assert created["Location"] == f"/api/v1/users/{user_id}"
    found = admin.call("GET", "/users/by-external-id/E-77").json()
    assert found["id"] == user_id and found["external_id"] == "E-77"

    patched = admin.call(
        "PATCH",
        f"/users/{user_id}",
        {"email": "rae@example.com", "role": "manager", "active": False, "notes": "Left"},
    )

    assert patched.status_code == 200, patched.content
    body = patched.json()
    assert (body["email"], body["role"], body["is_active"]) == ("rae@example.com", "manager", False)
    assert admin.call("GET", f"/users/{user_id}").json() == body
    actions = set(
        AuditEvent.objects.filter(target_id=str(user_id), actor=admin.user).values_list(
            "action", flat=True
        )
    )
    assert {"account.created", "account.role_set", "account.deactivated"} <= actions


def test_a_taken_external_id_is_a_409_naming_its_holder(admin: Caller) -> None:
    first = admin.call("POST", "/users", {"username": "sol", "external_id": "E-1"}).json()
    refused = admin.call("POST", "/users", {"username": "tam", "external_id": "E-1"})
    assert refused.status_code == 409
    assert problem(refused)["code"] == "external_id_taken"
    assert problem(refused)["existing_id"] == first["id"]


def test_a_refused_patch_changes_nothing(admin: Caller) -> None:
    """A role change the rules refuse (the caller's own admin role) rolls back the
    email change sent with it."""
    me = admin.call("GET", "/me").json()
    before = admin.call("GET", f"/users/{me['id']}").json()

    refused = admin.call(
        "PATCH", f"/users/{me['id']}", {"email": "new@example.com", "role": "learner"}
    )

    assert refused.status_code == 409, refused.content
    assert admin.call("GET", f"/users/{me['id']}").json() == before
