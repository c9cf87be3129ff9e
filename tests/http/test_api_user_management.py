"""Managing people over the API: a user created without a password gets a
set-password link; roles, deactivation and password resets are audited; the last
admin keeps their access; a look-alike username is refused."""

from __future__ import annotations

import pytest
from api_helpers import Caller, make_caller, problem
from django.contrib.auth import get_user_model
from django.test import Client

from coursepack.accounts.models import Account
from coursepack.audit.models import AuditEvent


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin", username="ops-admin")


def test_a_user_created_without_a_password_gets_a_link_that_sets_it(admin: Caller) -> None:
    response = admin.call("POST", "/users", {"username": "quinn", "role": "auditor"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "auditor" and body["is_active"] is True
    link = body["set_password"]["url"]
    assert "/set-password/" in link

    browser = Client()
    path = link.split("testserver", 1)[1]
    page = browser.get(path)
    assert page.status_code == 200
    done = browser.post(path, {"password": "quinn-password", "confirm": "quinn-password"})
    assert done.status_code == 302
    # Signing in through the page (django-axes needs the request, which Client.login lacks).
    browser.post("/login/", {"username": "quinn", "password": "quinn-password"})
    assert "_auth_user_id" in browser.session
    assert browser.get(path).status_code == 400  # used once


def test_a_user_created_with_a_password_gets_no_link(admin: Caller) -> None:
    response = admin.call("POST", "/users", {"username": "rosa", "password": "rosa-password"})
    assert response.status_code == 201
    assert response.json()["set_password"] is None


def test_role_deactivation_and_reset_are_audited_with_the_actor(admin: Caller) -> None:
    user_id = admin.call("POST", "/users", {"username": "sam"}).json()["id"]
    assert admin.call("POST", f"/users/{user_id}/role", {"role": "auditor"}).json()["role"] == (
        "auditor"
    )
    deactivated = admin.call("POST", f"/users/{user_id}/deactivate", {"notes": "Left"})
    assert deactivated.json()["is_active"] is False
    reset = admin.call("POST", f"/users/{user_id}/password-reset")
    assert reset.status_code == 200 and "/set-password/" in reset.json()["url"]
    assert admin.call("POST", f"/users/{user_id}/reactivate", {}).json()["is_active"] is True
    records = AuditEvent.objects.filter(target_type="auth.user", target_id=str(user_id))
    assert [(e.action, e.actor_label) for e in records.order_by("id")] == [
        ("account.created", "ops-admin"),
        ("account.role_set", "ops-admin"),
        ("account.deactivated", "ops-admin"),
        ("account.password_reset", "ops-admin"),
        ("account.reactivated", "ops-admin"),
    ]


def test_an_admin_cannot_deactivate_themselves(admin: Caller) -> None:
    me = admin.user.pk
    refused = admin.call("POST", f"/users/{me}/deactivate", {})
    assert refused.status_code == 409
    assert problem(refused)["code"] == "cannot_change_own_access"
    assert get_user_model().objects.get(pk=me).is_active


def test_a_look_alike_username_is_refused(admin: Caller) -> None:
    admin.call("POST", "/users", {"username": "paul"})
    refused = admin.call("POST", "/users", {"username": "PAUL"})
    assert refused.status_code == 409
    assert "reads the same as 'paul'" in problem(refused)["detail"]
    reserved = admin.call("POST", "/users", {"username": "system"})
    assert reserved.status_code == 422
    assert problem(reserved)["code"] == "username_reserved"


def test_an_admin_lists_and_revokes_someone_elses_tokens(admin: Caller) -> None:
    other = make_caller(role="auditor")
    tokens = admin.call("GET", f"/users/{other.user.pk}/tokens").json()["items"]
    assert [t["name"] for t in tokens] == ["tests"]
    assert admin.call("DELETE", f"/tokens/{tokens[0]['id']}").status_code == 204
    assert other.call("GET", "/me").status_code == 401


def test_an_admin_issues_a_token_for_a_user_who_then_sees_it_as_their_own(
    admin: Caller,
) -> None:
    """POST /users/{id}/tokens: 201 with the secret once; the token works as that user,
    who lists it among their own; the audit record names the admin as actor and the
    user as owner; a lifetime past the maximum is 422; a missing user 404."""
    service = make_caller(role="auditor", username="hr-sync")
    response = admin.call(
        "POST", f"/users/{service.user.pk}/tokens", {"name": "HR sync", "expires_in_days": 30}
    )
    assert response.status_code == 201, response.content
    issued = response.json()
    as_service = Client(headers={"Authorization": f"Bearer {issued['secret']}"})
    me = as_service.get("/api/v1/me").json()
    assert me["username"] == "hr-sync"
    own = [t["name"] for t in as_service.get("/api/v1/tokens").json()["items"]]
    assert sorted(own) == ["HR sync", "tests"]
    record = AuditEvent.objects.get(action="token.issued", target_id=str(issued["token"]["id"]))
    assert record.actor_label == "ops-admin" and record.after["owner"] == "hr-sync"
    too_long = admin.call(
        "POST", f"/users/{service.user.pk}/tokens", {"name": "x", "expires_in_days": 3000}
    )
    assert too_long.status_code == 422
    assert problem(admin.call("POST", "/users/987654321/tokens", {"name": "x"}))["status"] == 404


def test_users_are_found_by_external_id_and_filtered(db: None) -> None:
    """/users/by-external-id/{id} and ?external_id=, ?email=, ?role=, ?active= each find
    exactly the users they name."""
    admin = make_caller(role="admin")
    made = admin.call(
        "POST", "/users", {"username": "hr-7", "email": "Kim@Example.com", "role": "auditor"}
    ).json()
    Account.objects.filter(user_id=made["id"]).update(external_id="E-7")
    gone = admin.call("POST", "/users", {"username": "hr-8"}).json()
    admin.call("POST", f"/users/{gone['id']}/deactivate", {})

    found = admin.call("GET", "/users/by-external-id/E-7")
    assert (found.status_code, found.json()["id"], found.json()["external_id"]) == (
        200,
        made["id"],
        "E-7",
    )
    assert admin.call("GET", "/users/by-external-id/E-0").status_code == 404

    def ids(query: str) -> list[int]:
        response = admin.call("GET", f"/users?{query}")
        assert response.status_code == 200, response.content
        return [u["id"] for u in response.json()["items"]]

    assert ids("external_id=E-7") == [made["id"]]
    assert ids("email=kim@example.com") == [made["id"]]
    assert ids("username=hr-8") == [gone["id"]]
    assert ids("role=auditor") == [made["id"]]
    assert ids("active=false") == [gone["id"]]
    assert admin.user.pk in ids("role=admin") and made["id"] not in ids("role=learner")
