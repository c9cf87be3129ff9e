"""What the operations pages share: roles, and domain errors shown on forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from coursepack.accounts.models import Role
from coursepack.errors import DomainError

ADMINS = (Role.ADMIN,)
PER_PAGE = 50


def show_error(form: forms.Form, exc: DomainError) -> None:
    """Put a refused action's message at the top of the form, and each problem that
    names a field beside that field (the error summary links to it)."""
    form.add_error(None, exc.message)
    for problem in exc.problems:
        name, _, message = problem.partition(": ")
        if message and name in form.fields:
            form.add_error(name, message)
        else:
            form.add_error(None, problem)


def done(request: HttpRequest, message: str) -> None:
    """Say on the next page what just happened."""
    messages.success(request, message)


def safe_next(request: HttpRequest, fallback: str) -> str:
    """Return the ``next`` the form came with if it is a page of this site."""
    wanted: Any = request.POST.get("next") or request.GET.get("next")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return str(wanted)
    return fallback
