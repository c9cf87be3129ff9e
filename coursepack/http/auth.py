"""Who is calling: personal API tokens (Bearer) or the browser session, and their role."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from coursepack.accounts import api as accounts
from coursepack.accounts.errors import PermissionDenied
from coursepack.accounts.models import Role
from coursepack.organisation import selectors as organisation


class CsrfFailed(HttpError):
    """A write from a browser session without the CSRF token."""


class TokenAuth(HttpBearer):
    """``Authorization: Bearer cp_…``: a personal API token."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        return accounts.authenticate_token(token)


_SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class BrowserSession(APIKeyCookie):
    """The signed-in browser session, with Django's CSRF check on writes.

    A request without a signed-in session is simply not authenticated by this
    scheme (401 if no token either); only a real session is held to CSRF.
    """

    param_name = "sessionid"

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if request.method not in _SAFE_METHODS and check_csrf(request) is not None:
            raise CsrfFailed(
                403,
                "CSRF check failed: send the X-CSRFToken header with the csrftoken cookie's value.",
            )
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return None  # __call__ decides; never reached.


def caller(request: HttpRequest) -> User:
    """Return the authenticated user of this request."""
    user: User = request.auth  # type: ignore[attr-defined]
    return user


def require(request: HttpRequest, *roles: Role) -> User:
    """Return the caller if their role is one of ``roles``; otherwise refuse with 403."""
    user = caller(request)
    role = accounts.role_of(user)
    if role not in roles:
        allowed = " or ".join(r.label.lower() for r in roles)
        raise PermissionDenied(
            f"This needs the role {allowed}; you are signed in as a {role.label.lower() if role else 'guest'}."
        )
    return user


def is_staff_reader(user: User) -> bool:
    """Return whether the user may read everyone's data (admins and auditors)."""
    return accounts.role_of(user) in (Role.ADMIN, Role.AUDITOR)


def in_scope(user: User, rows: QuerySet[Any], field: str = "learner") -> QuerySet[Any]:
    """Keep the rows about people ``user`` may read (ADR 0024): everyone's for admins
    and auditors, their units' people (and their own) for managers, else their own."""
    scope: Q | None = organisation.person_scope(user, field)
    return rows if scope is None else rows.filter(scope)


def can_read_person(user: User, person_id: int) -> bool:
    """Return whether ``user`` may read person ``person_id``'s records (False if missing)."""
    return organisation.can_read_person(user, person_id)


ADMIN = (Role.ADMIN,)
READERS = (Role.ADMIN, Role.AUDITOR)
