"""User management through accounts.api: roles, activation, set-password links and
username rules, each change on the audit log; and Django admin refusing every write
to users and groups."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from coursepack.accounts import api as accounts
from coursepack.accounts.errors import (
    CannotChangeOwnAccess,
    InvalidPasswordLink,
    LastAdmin,
    UsernameReserved,
    UsernameTaken,
)
from coursepack.accounts.models import Role
from coursepack.accounts.usernames import username_key
from coursepack.audit.models import AuditEvent
from coursepack.errors import InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> User:
    return accounts.create_user(
        actor=None, username="jordan", role=Role.ADMIN, password="admin-pass-123"
    )


def _actions(user: User) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="auth.user", target_id=str(user.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


@pytest.mark.parametrize(
    ("taken", "wanted"),
    [
        ("alice", "ALICE"),
        ("alice", "\u0430lice"),  # Cyrillic a
        ("alice", "\uff41\uff4c\uff49\uff43\uff45"),  # full-width letters
        ("alice", "a1ice"),
        ("bob", "B0B"),
    ],
)
def test_a_username_that_reads_like_a_taken_one_is_refused(
    admin: User, taken: str, wanted: str
) -> None:
    """Case, Unicode forms and look-alike characters do not make a name new."""
    accounts.create_user(actor=admin, username=taken)
    with pytest.raises(UsernameTaken, match=f"reads the same as '{taken}'"):
        accounts.create_user(actor=admin, username=wanted)
    assert User.objects.count() == 2


def test_different_names_stay_different() -> None:
    """The look-alike rule maps to ASCII only: t and r, bot and bor, stay apart."""
    assert username_key("bot") != username_key("bor")
    assert username_key("dave.smith") != username_key("dave_smith")


@pytest.mark.parametrize("name", ["system", "SYSTEM", "sy\u0455tem"])
def test_reserved_names_are_refused(admin: User, name: str) -> None:
    """Nobody may be called "system" (the audit log's word for the system itself)."""
    with pytest.raises(UsernameReserved):
        accounts.create_user(actor=admin, username=name)


def test_a_user_made_outside_the_services_still_holds_their_name(admin: User) -> None:
    """A user created by createsuperuser (no account row) is compared by name."""
    User.objects.create_superuser("carol", password="x" * 10)
    with pytest.raises(UsernameTaken):
        accounts.create_user(actor=admin, username="Carol")


def test_a_user_without_a_password_sets_one_through_their_link(admin: User) -> None:
    """The link sets the password once; then it no longer works."""
    user = accounts.create_user(actor=admin, username="auditor1", role=Role.AUDITOR)
    assert not user.has_usable_password()
    link = accounts.password_link(user)
    accounts.set_password_from_link(
        uidb64=link.uidb64, token=link.token, password="a-good-password"
    )
    user.refresh_from_db()
    assert user.check_password("a-good-password")
    with pytest.raises(InvalidPasswordLink):
        accounts.set_password_from_link(
            uidb64=link.uidb64, token=link.token, password="another-password"
        )
    assert _actions(user) == ["account.created", "account.password_set"]


def test_a_short_password_is_refused_with_the_reason(admin: User) -> None:
    with pytest.raises(InvalidInput) as refused:
        accounts.create_user(actor=admin, username="dan", password="short")
    assert any(p.startswith("password:") for p in refused.value.problems)


def test_role_activation_and_reset_are_audited(admin: User) -> None:
    """Every change to a user's access is a record with before and after."""
    user = accounts.create_user(actor=admin, username="erin", password="erin-pass-123")
    accounts.set_role(actor=admin, user_id=user.pk, role=Role.AUDITOR)
    accounts.deactivate_user(actor=admin, user_id=user.pk, notes="Left the company")
    accounts.reactivate_user(actor=admin, user_id=user.pk)
    accounts.reset_password(actor=admin, user_id=user.pk)
    user.refresh_from_db()
    assert accounts.role_of(user) == Role.AUDITOR
    assert user.is_active and not user.has_usable_password()
    assert _actions(user) == [
        "account.created",
        "account.role_set",
        "account.deactivated",
        "account.reactivated",
        "account.password_reset",
    ]
    role_set = AuditEvent.objects.get(action="account.role_set")
    assert (role_set.before, role_set.after, role_set.actor_label) == (
        {"role": "learner"},
        {"role": "auditor"},
        "jordan",
    )
    assert AuditEvent.objects.get(action="account.deactivated").notes == "Left the company"


def test_the_last_admin_keeps_their_access(admin: User) -> None:
    """Nobody takes away their own admin role or deactivates themselves, and the last
    active admin cannot be demoted or deactivated by anyone."""
    with pytest.raises(CannotChangeOwnAccess):
        accounts.set_role(actor=admin, user_id=admin.pk, role=Role.LEARNER)
    with pytest.raises(CannotChangeOwnAccess):
        accounts.deactivate_user(actor=admin, user_id=admin.pk)
    with pytest.raises(LastAdmin):
        accounts.deactivate_user(actor=None, user_id=admin.pk)
    other = accounts.create_user(actor=admin, username="pat", role=Role.ADMIN)
    accounts.deactivate_user(actor=admin, user_id=other.pk)
    assert accounts.role_of(admin) == Role.ADMIN


def test_a_deactivated_users_token_stops_working(admin: User) -> None:
    user = accounts.create_user(actor=admin, username="hr-sync", role=Role.AUDITOR)
    issued = accounts.issue_token(actor=user, name="HR sync")
    assert accounts.authenticate_token(issued.secret) == user
    accounts.deactivate_user(actor=admin, user_id=user.pk)
    assert accounts.authenticate_token(issued.secret) is None


def test_an_admin_revokes_anyones_token_on_the_record(admin: User) -> None:
    user = accounts.create_user(actor=admin, username="ivy", role=Role.AUDITOR)
    issued = accounts.issue_token(actor=user, name="reports")
    accounts.revoke_token(actor=admin, token_id=issued.token.pk)
    assert accounts.authenticate_token(issued.secret) is None
    revoked = AuditEvent.objects.get(action="token.revoked")
    assert revoked.actor_label == "jordan"
    assert (revoked.before, revoked.after) == (
        {"revoked": False},
        {"revoked": True, "owner": "ivy"},
    )


# --- Django admin: users and groups are read-only -------------------------------------


@pytest.fixture
def superuser_client() -> tuple[Client, User]:
    root = User.objects.create_superuser("root-admin", password="root-pass-123")
    client = Client()
    client.force_login(root)
    return client, root


def _user_form(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }


def test_django_admin_refuses_every_write_to_users_and_groups(
    superuser_client: tuple[Client, User],
) -> None:
    """Add, change, password change and delete: refused for users and groups, even
    for a superuser; the lists and details can still be read."""
    client, _root = superuser_client
    target = User.objects.create_user("target", password="target-pass-1")
    group = Group.objects.create(name="Editors")
    before = (
        list(User.objects.order_by("pk").values()),
        list(Group.objects.order_by("pk").values()),
    )
    writes = [
        (
            "/admin/auth/user/add/",
            {"username": "sneaky", "password1": "x" * 12, "password2": "x" * 12},
        ),
        (f"/admin/auth/user/{target.pk}/change/", {**_user_form(target), "is_superuser": "on"}),
        (f"/admin/auth/user/{target.pk}/password/", {"password1": "y" * 12, "password2": "y" * 12}),
        (f"/admin/auth/user/{target.pk}/delete/", {"post": "yes"}),
        (
            "/admin/auth/user/",
            {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"},
        ),
        ("/admin/auth/group/add/", {"name": "Sneaky"}),
        (f"/admin/auth/group/{group.pk}/change/", {"name": "Renamed"}),
        (f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"}),
    ]
    for url, data in writes:
        response = client.post(url, data)
        assert response.status_code in (403, 302, 200), (url, response.status_code)
    after = (
        list(User.objects.order_by("pk").values()),
        list(Group.objects.order_by("pk").values()),
    )
    assert after == before
    for url in (
        "/admin/auth/user/add/",
        "/admin/auth/group/add/",
        f"/admin/auth/user/{target.pk}/password/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.get("/admin/auth/user/").status_code == 200
    assert client.get(f"/admin/auth/user/{target.pk}/change/").status_code == 200
