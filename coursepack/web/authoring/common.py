"""What every authoring view shares: who acts, how a refusal becomes a message."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.audit.api import Actor
from coursepack.errors import DomainError, NotFound

ADMIN_ONLY_HINT = "Only a training admin can change this."


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


def safe_next(request: HttpRequest, fallback: str) -> str:
    """Return the ``next`` the form asked to go back to, if it is on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def int_or_404(value: str | None) -> int:
    """Return ``value`` as a whole number, or raise 404 (an id in a form that is not one)."""
    try:
        return int(value or "")
    except ValueError:
        raise Http404("That link does not point at anything.") from None


def is_admin(request: HttpRequest) -> bool:
    """Return whether the signed-in user may change things (auditors only read)."""
    return accounts.role_of(request.user) == Role.ADMIN


def require_admin(request: HttpRequest) -> None:
    """Refuse a change from anyone but a training admin (403)."""
    if not is_admin(request):
        raise PermissionDenied("Only a training admin can make this change; auditors can read it.")
