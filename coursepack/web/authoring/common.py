"""What every authoring view shares: who acts, how a refusal becomes a message."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.audit.api import Actor
from coursepack.errors import DomainError, NotFound


def actor(request: HttpRequest) -> Actor:
    """Return the signed-in user, the actor every service records."""
    return request.user


def not_found(exc: NotFound) -> Http404:
    """Turn a domain NotFound into the styled 404 page with its message."""
    return Http404(exc.message)


def refused(request: HttpRequest, exc: DomainError) -> None:
    """Show a refused action as an error banner on the next page, with every problem."""
    text = exc.message
    if exc.problems:
        text += " " + " ".join(exc.problems)
    messages.error(request, text)


def is_admin(request: HttpRequest) -> bool:
    """Return whether the signed-in user may change things (auditors only read)."""
    return accounts.role_of(request.user) == Role.ADMIN


def require_admin(request: HttpRequest) -> None:
    """Refuse a change from anyone but a training admin (403)."""
    if not is_admin(request):
        raise PermissionDenied("Only a training admin can make this change; auditors can read it.")
