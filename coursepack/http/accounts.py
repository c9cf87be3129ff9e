"""The caller, users and personal API tokens."""

from __future__ import annotations

from typing import Any, Literal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status

from coursepack.accounts import api as accounts
from coursepack.accounts.errors import UserNotFound
from coursepack.accounts.models import ApiToken, Role
from coursepack.http.auth import ADMIN, READERS, caller, in_scope, require
from coursepack.http.pagination import PageParams, page_of, paginate
from coursepack.http.problems import responses
from coursepack.http.schemas import (
    AccessNotesIn,
    MeOut,
    PasswordLinkOut,
    RoleIn,
    TokenIn,
    TokenIssued,
    TokenOut,
    UserCreated,
    UserIn,
    UserOut,
    UserPatch,
)
from coursepack.organisation import api as organisation

router = Router()


def _me(user: User) -> dict[str, Any]:
    role = accounts.role_of(user)
    return {
        "id": user.pk,
        "username": user.get_username(),
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": role.value if role else "learner",
    }


def _user(user: User) -> dict[str, Any]:
    # Lists and lookups load the account with the user; otherwise read it now.
    if hasattr(user, "_coursepack_account"):
        account = user._coursepack_account
    else:
        account = getattr(user, "account", None)
    return {
        **_me(user),
        "email": user.email,
        "is_active": user.is_active,
        "external_id": account.external_id if account is not None else None,
    }


class UserFilters(Schema):
    username: str | None = Field(None, max_length=150, description="Exactly this username.")
    email: str | None = Field(
        None, max_length=254, description="This email address (any letter case)."
    )
    external_id: str | None = Field(
        None, max_length=64, description="The person's id in the HR system (exact)."
    )
    role: Literal["admin", "auditor", "manager", "learner"] | None = Field(
        None, description="Only users with this role."
    )
    active: bool | None = Field(None, description="true: active users only; false: deactivated.")


@router.get("/me", response=responses({200: MeOut}), tags=["accounts"])
def me(request: HttpRequest) -> Any:
    """Who you are signed in as, and your role."""
    return _me(caller(request))


@router.get("/users", response=responses({200: page_of(UserOut)}), tags=["accounts"])
def list_users(request: HttpRequest, page: Query[PageParams], filters: Query[UserFilters]) -> Any:
    """List users with their roles, in id order; filter by username, email, external
    id, role or whether they are active. Managers: the people they manage and themselves."""
    user = require(request, *READERS, Role.MANAGER)
    users = in_scope(user, User.objects.select_related("account").order_by("id"), field="")
    if filters.username is not None:
        users = users.filter(username=filters.username)
    if filters.email is not None:
        users = users.filter(email__iexact=filters.email)
    if filters.external_id is not None:
        users = users.filter(account__external_id=filters.external_id)
    if filters.active is not None:
        users = users.filter(is_active=filters.active)
    if filters.role is not None:
        # Superusers are admins; users without an account are learners.
        if filters.role == "admin":
            users = users.filter(Q(account__role="admin") | Q(is_superuser=True))
        elif filters.role == "learner":
            users = users.filter(
                Q(account__isnull=True) | Q(account__role="learner"), is_superuser=False
            )
        else:
            users = users.filter(account__role=filters.role, is_superuser=False)
    result = paginate(users, page, request)
    for u in result["items"]:
        u._coursepack_account = getattr(u, "account", None)
    result["items"] = [_user(u) for u in result["items"]]
    return result


def _link(request: HttpRequest, link: accounts.PasswordLink) -> dict[str, Any]:
    path = reverse("web:set-password", kwargs={"uidb64": link.uidb64, "token": link.token})
    return {"url": request.build_absolute_uri(path), "expires_at": link.expires_at}


def _found(user_id: int, viewer: User | None = None) -> User:
    """Return the user (only one ``viewer`` may read, if given), or raise UserNotFound:
    the same for someone outside the viewer's scope as for a missing id."""
    users = User.objects.select_related("account")
    if viewer is not None:
        users = in_scope(viewer, users, field="")
    user = users.filter(pk=user_id).first()
    if user is None:
        raise UserNotFound(f"There is no user with id {user_id}.")
    user._coursepack_account = getattr(user, "account", None)  # type: ignore[attr-defined]
    return user


@router.post("/users", response=responses({201: UserCreated}, 409), tags=["accounts"])
def create_user(request: HttpRequest, body: UserIn) -> Any:
    """Create a user (e.g. a learner from the HR system) with a role.

    Without ``password`` the person cannot sign in until they open the
    ``set_password`` link in the response (give it to them privately).
    """
    actor = require(request, *ADMIN)
    user = accounts.create_user(actor=actor, **body.dict())
    link = None if body.password is not None else _link(request, accounts.password_link(user))
    return Status(201, {**_user(user), "set_password": link})


@router.get(
    "/users/by-external-id/{external_id}",
    response=responses({200: UserOut}, 404),
    tags=["accounts"],
)
def get_user_by_external_id(request: HttpRequest, external_id: str) -> Any:
    """One user, addressed by their id in the HR system (``external_id``). Managers:
    only the people they manage (anyone else is answered as not found)."""
    viewer = require(request, *READERS, Role.MANAGER)
    users = in_scope(viewer, User.objects.select_related("account"), field="")
    user = users.filter(account__external_id=external_id).first()
    if user is None:
        raise UserNotFound(f"There is no user with external id {external_id!r}.")
    user._coursepack_account = user.account
    return _user(user)


@router.get("/users/{user_id}", response=responses({200: UserOut}, 404), tags=["accounts"])
def get_user(request: HttpRequest, user_id: int) -> Any:
    """One user with their role and whether they are active. Managers: only the people
    they manage and themselves (anyone else is answered as not found)."""
    viewer = require(request, *READERS, Role.MANAGER)
    return _user(_found(user_id, viewer))


@router.patch("/users/{user_id}", response=responses({200: UserOut}, 404, 409), tags=["accounts"])
def update_user(request: HttpRequest, user_id: int, body: UserPatch) -> Any:
    """Change a user in one transaction: email and external id (as PATCH /people/{id}),
    role (as POST /users/{id}/role) and `active` (as deactivate / reactivate), each
    audited as those are, with `notes`. Fields left out (or null) stay as they are."""
    actor = require(request, *ADMIN)
    given = body.model_fields_set
    with transaction.atomic():
        _found(user_id)
        details = {name: getattr(body, name) for name in ("email", "external_id") if name in given}
        if details:
            organisation.set_person_details(actor=actor, user_id=user_id, **details)
        if body.role is not None:
            accounts.set_role(actor=actor, user_id=user_id, role=body.role)
        if body.active is not None and body.active != _found(user_id).is_active:
            change = accounts.reactivate_user if body.active else accounts.deactivate_user
            change(actor=actor, user_id=user_id, notes=body.notes)
    return _user(_found(user_id))


@router.post(
    "/users/{user_id}/role", response=responses({200: UserOut}, 404, 409), tags=["accounts"]
)
def set_role(request: HttpRequest, user_id: int, body: RoleIn) -> Any:
    """Give a user a role (audited). The last active admin keeps theirs."""
    actor = require(request, *ADMIN)
    accounts.set_role(actor=actor, user_id=user_id, role=body.role)
    return _user(_found(user_id))


@router.post(
    "/users/{user_id}/deactivate", response=responses({200: UserOut}, 404, 409), tags=["accounts"]
)
def deactivate_user(request: HttpRequest, user_id: int, body: AccessNotesIn) -> Any:
    """Deactivate a user: no more sign-ins, their tokens stop working; records stay."""
    actor = require(request, *ADMIN)
    accounts.deactivate_user(actor=actor, user_id=user_id, notes=body.notes)
    return _user(_found(user_id))


@router.post(
    "/users/{user_id}/reactivate", response=responses({200: UserOut}, 404, 409), tags=["accounts"]
)
def reactivate_user(request: HttpRequest, user_id: int, body: AccessNotesIn) -> Any:
    """Let a deactivated user sign in again."""
    actor = require(request, *ADMIN)
    accounts.reactivate_user(actor=actor, user_id=user_id, notes=body.notes)
    return _user(_found(user_id))


@router.post(
    "/users/{user_id}/password-reset",
    response=responses({200: PasswordLinkOut}, 404),
    tags=["accounts"],
)
def reset_password(request: HttpRequest, user_id: int) -> Any:
    """Stop the user's password working; return a set-password link to give them."""
    actor = require(request, *ADMIN)
    return _link(request, accounts.reset_password(actor=actor, user_id=user_id))


@router.get(
    "/users/{user_id}/tokens",
    response=responses({200: page_of(TokenOut)}, 404),
    tags=["accounts"],
)
def list_user_tokens(request: HttpRequest, user_id: int, page: Query[PageParams]) -> Any:
    """A user's API tokens (never their secrets), oldest first; revoke one with
    DELETE /tokens/{id}."""
    require(request, *ADMIN)
    return paginate(ApiToken.objects.filter(user=_found(user_id)), page, request)


@router.post(
    "/users/{user_id}/tokens",
    response=responses({201: TokenIssued}, 404),
    tags=["accounts"],
)
def issue_user_token(request: HttpRequest, user_id: int, body: TokenIn) -> Any:
    """Issue an API token for a user (e.g. an integration's service account); its
    secret is in this response and nowhere else. Audited; the expiry is at most the
    server's maximum."""
    actor = require(request, *ADMIN)
    owner = _found(user_id)
    issued = accounts.issue_token(
        actor=actor, owner=owner, name=body.name, expires_in_days=body.expires_in_days
    )
    return Status(201, {"token": issued.token, "secret": issued.secret})


@router.get("/tokens", response=responses({200: page_of(TokenOut)}), tags=["accounts"])
def list_tokens(request: HttpRequest, page: Query[PageParams]) -> Any:
    """Your personal API tokens (never their secrets), oldest first."""
    return paginate(ApiToken.objects.filter(user=caller(request)), page, request)


@router.post("/tokens", response=responses({201: TokenIssued}, 422), tags=["accounts"])
def issue_token(request: HttpRequest, body: TokenIn) -> Any:
    """Create a personal API token; its secret is in this response and nowhere else."""
    issued = accounts.issue_token(
        actor=caller(request), name=body.name, expires_in_days=body.expires_in_days
    )
    return Status(201, {"token": issued.token, "secret": issued.secret})


@router.delete("/tokens/{token_id}", response=responses({204: None}, 404), tags=["accounts"])
def revoke_token(request: HttpRequest, token_id: int) -> Any:
    """Revoke one of your tokens (admins: anyone's); it stops working at once (204, as
    every DELETE answers; revoking a revoked token again is 204 too)."""
    accounts.revoke_token(actor=caller(request), token_id=token_id)
    return Status(204, None)
