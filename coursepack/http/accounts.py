"""The caller, users and personal API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Query, Router, Status

from coursepack.accounts import api as accounts
from coursepack.accounts.models import ApiToken
from coursepack.http.auth import ADMIN, READERS, caller, require
from coursepack.http.pagination import PageParams, page_of, paginate
from coursepack.http.problems import responses
from coursepack.http.schemas import MeOut, TokenIn, TokenIssued, TokenOut, UserIn, UserOut

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
    return {**_me(user), "email": user.email, "is_active": user.is_active}


@router.get("/me", response=responses({200: MeOut}), tags=["accounts"])
def me(request: HttpRequest) -> Any:
    """Who you are signed in as, and your role."""
    return _me(caller(request))


@router.get("/users", response=responses({200: page_of(UserOut)}), tags=["accounts"])
def list_users(request: HttpRequest, page: Query[PageParams]) -> Any:
    """List users with their roles."""
    require(request, *READERS)
    result = paginate(User.objects.select_related("account").order_by("id"), page)
    for u in result["items"]:
        u._coursepack_account = getattr(u, "account", None)
    result["items"] = [_user(u) for u in result["items"]]
    return result


@router.post("/users", response=responses({201: UserOut}, 409), tags=["accounts"])
def create_user(request: HttpRequest, body: UserIn) -> Any:
    """Create a user (e.g. a learner from the HR system) with a role."""
    actor = require(request, *ADMIN)
    return Status(201, _user(accounts.create_user(actor=actor, **body.dict())))


@router.get("/tokens", response=responses({200: list[TokenOut]}), tags=["accounts"])
def list_tokens(request: HttpRequest) -> Any:
    """Your personal API tokens (never their secrets)."""
    return list(ApiToken.objects.filter(user=caller(request)))


@router.post("/tokens", response=responses({201: TokenIssued}, 422), tags=["accounts"])
def issue_token(request: HttpRequest, body: TokenIn) -> Any:
    """Create a personal API token; its secret is in this response and nowhere else."""
    issued = accounts.issue_token(
        actor=caller(request), name=body.name, expires_in_days=body.expires_in_days
    )
    return Status(201, {"token": issued.token, "secret": issued.secret})


@router.delete("/tokens/{token_id}", response=responses({200: TokenOut}, 404), tags=["accounts"])
def revoke_token(request: HttpRequest, token_id: int) -> Any:
    """Revoke one of your tokens; it stops working at once."""
    return accounts.revoke_token(actor=caller(request), token_id=token_id)
