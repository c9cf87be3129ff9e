"""How a signed-in session finds its user: Django's model backend, with the user and
their account read by one statement written once (ADR 0035, amended)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User

from coursepack.accounts import api as accounts


class AccountBackend(ModelBackend):
    """Django's ``ModelBackend`` (sign-in by username and password, permissions), whose
    ``get_user`` — run on every request of a signed-in session — reads the user with
    their account in one statement instead of two compiled querysets."""

    def get_user(self, user_id: Any) -> User | None:
        user = accounts.signed_in_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
