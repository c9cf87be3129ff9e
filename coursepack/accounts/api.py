"""Accounts, roles and personal API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from coursepack.accounts.errors import TokenNotFound, UsernameTaken
from coursepack.accounts.models import Account, ApiToken, Role
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.db_busy import WouldWait, without_waiting
from coursepack.validation import collecting

__all__ = [
    "IssuedToken",
    "authenticate_token",
    "create_user",
    "issue_token",
    "record_failed_sign_in",
    "record_lockout",
    "record_sign_in",
    "record_sign_out",
    "revoke_token",
    "role_of",
    "set_role",
]

_TOKEN_PREFIX = "cp_"
# Writing last_used_at on every request would make every read a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def role_of(user: User | AnonymousUser | None) -> Role | None:
    """Return the user's role: their account's, admin for superusers, else learner."""
    if user is None or not user.is_authenticated:
        return None
    # Cached on the user, None included (no account): a list of users that loaded
    # the accounts with select_related must not query again for each one without.
    if not hasattr(user, "_coursepack_account"):
        user._coursepack_account = Account.objects.filter(user_id=user.pk).first()  # type: ignore[attr-defined]
    account: Account | None = user._coursepack_account  # type: ignore[attr-defined]
    if account is not None:
        return Role(account.role)
    return Role.ADMIN if user.is_superuser else Role.LEARNER


def create_user(
    *,
    actor: Actor,
    username: str,
    role: str = Role.LEARNER,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    password: str | None = None,
) -> User:
    """Create a user with a role (learners are usually created by an HR integration)."""
    with collecting("The user cannot be created.") as problems:
        username = problems.text("username", username, max_length=150)
        first_name = problems.text("first_name", first_name, max_length=150, required=False)
        last_name = problems.text("last_name", last_name, max_length=150, required=False)
        email = problems.text("email", email, max_length=254, required=False)
        if role not in Role.values:
            problems.add("role", f"must be one of {', '.join(Role.values)}")
        if password is not None and ("\x00" in password or len(password) < 8):
            problems.add("password", "must be at least 8 characters, without NUL characters")
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise UsernameTaken(f"The username {username!r} is taken; choose another.")
        user = User.objects.create_user(
            username, email=email, password=password, first_name=first_name, last_name=last_name
        )
        Account.objects.create(user=user, role=role)
        audit.record(
            actor=actor,
            action="account.created",
            target=user,
            at=timezone.now(),
            after={"username": username, "role": role},
        )
    return user


def set_role(*, actor: Actor, user_id: int, role: str) -> Account:
    """Give a user a role."""
    with collecting("The role cannot be set.") as problems:
        if role not in Role.values:
            problems.add("role", f"must be one of {', '.join(Role.values)}")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        account, _ = Account.objects.get_or_create(user=user)
        before = account.role
        account.role = role
        account.save()
        audit.record(
            actor=actor,
            action="account.role_set",
            target=user,
            at=timezone.now(),
            before={"role": before},
            after={"role": role},
        )
    return account


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``secret`` is the only time the whole token is ever available."""

    token: ApiToken
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(
    *,
    actor: Actor,
    name: str,
    owner: User | None = None,
    expires_in_days: int | None = None,
) -> IssuedToken:
    """Create a personal API token; return it with its secret, shown once.

    The token belongs to ``owner`` (default: ``actor`` itself, who must then be a
    user); ``actor`` is who asked, as the audit record names them — an operator
    issuing a token for someone at the command line is not that someone. It
    expires after ``expires_in_days`` (default ``API_TOKEN_DEFAULT_DAYS``, at most
    ``API_TOKEN_MAX_DAYS``).
    """
    maximum = settings.API_TOKEN_MAX_DAYS
    days = settings.API_TOKEN_DEFAULT_DAYS if expires_in_days is None else expires_in_days
    with collecting("The token cannot be created.") as problems:
        name = problems.text("name", name, max_length=100)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= maximum:
            problems.add("expires_in_days", f"must be a whole number of days from 1 to {maximum}")
        if owner is None and not isinstance(actor, User):
            problems.add("owner", "is required when the actor is not a user")
    holder = owner if owner is not None else actor
    assert isinstance(holder, User)
    prefix = secrets.token_hex(6)
    secret = f"{_TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        now = timezone.now()
        expires_at = now + timedelta(days=days)
        token = ApiToken.objects.create(
            user=holder,
            name=name,
            prefix=prefix,
            digest=_digest(secret),
            created_at=now,
            expires_at=expires_at,
        )
        audit.record(
            actor=actor,
            action="token.issued",
            target=token,
            at=now,
            after={
                "name": name,
                "owner": holder.get_username(),
                "expires_at": expires_at.isoformat(),
            },
        )
    return IssuedToken(token=token, secret=secret)


def revoke_token(*, actor: User, token_id: int) -> ApiToken:
    """Revoke one of ``actor``'s tokens (admins may revoke anyone's)."""
    with transaction.atomic():
        tokens = ApiToken.objects.select_for_update()
        if role_of(actor) != Role.ADMIN:
            tokens = tokens.filter(user=actor)
        token = tokens.filter(pk=token_id).first()
        if token is None:
            raise TokenNotFound(f"There is no token with id {token_id}.")
        if token.revoked_at is None:
            now = timezone.now()
            token.revoked_at = now
            token.save(update_fields=["revoked_at"])
            audit.record(actor=actor, action="token.revoked", target=token, at=now)
    return token


def authenticate_token(secret: str) -> User | None:
    """Return the user a presented token belongs to, or None if it is not valid."""
    parts = secret.split("_")
    if len(parts) < 3 or not secret.startswith(_TOKEN_PREFIX):
        return None
    # Prefixes are unique (a constraint), so at most one row; no ordering needed.
    token = (
        ApiToken.objects.select_related("user", "user__account")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .order_by()
        .first()
    )
    if token is None or not hmac.compare_digest(token.digest, _digest(secret)):
        return None
    if not token.user.is_active:
        return None
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        # Best effort: a read must not wait behind a write for a usage stamp.
        try:
            with without_waiting():
                ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        except WouldWait:
            pass
    user: Any = token.user
    # The role comes with the token, so role_of asks nothing more.
    user._coursepack_account = getattr(user, "account", None)
    return user


def _address_note(address: str | None) -> str:
    return f"from {address}" if address else ""


def record_sign_in(*, user: User, address: str | None) -> None:
    """Audit a successful sign-in."""
    with transaction.atomic():
        audit.record(
            actor=user,
            action="account.signed_in",
            target=user,
            at=timezone.now(),
            notes=_address_note(address),
        )


def record_sign_out(*, user: User, address: str | None, idle: bool = False) -> None:
    """Audit a sign-out: asked for, or forced after the idle timeout (``idle``)."""
    with transaction.atomic():
        audit.record(
            actor=user,
            action="account.signed_out_idle" if idle else "account.signed_out",
            target=user,
            at=timezone.now(),
            notes=_address_note(address),
        )


def _named_user(username: str) -> User | audit.Named:
    user = User.objects.filter(username=username).first()
    return user if user is not None else audit.Named("auth.user", "", username[:150])


def record_failed_sign_in(*, username: str, address: str | None) -> None:
    """Audit a failed sign-in (wrong password, unknown or inactive user)."""
    username = str(username or "").replace("\x00", "")[:150]
    with transaction.atomic():
        audit.record(
            actor=AnonymousUser(),
            action="account.sign_in_failed",
            target=_named_user(username),
            at=timezone.now(),
            after={"username": username},
            notes=_address_note(address),
        )


def record_lockout(*, username: str, address: str | None) -> None:
    """Audit that sign-ins for ``username`` from ``address`` are now locked out."""
    username = str(username or "").replace("\x00", "")[:150]
    with transaction.atomic():
        audit.record(
            actor=AnonymousUser(),
            action="account.locked_out",
            target=_named_user(username),
            at=timezone.now(),
            after={"username": username},
            notes=_address_note(address),
        )
