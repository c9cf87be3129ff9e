"""Accounts, roles and personal API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from coursepack.accounts.errors import TokenNotFound, UsernameTaken
from coursepack.accounts.models import Account, ApiToken, Role
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.validation import collecting

__all__ = [
    "IssuedToken",
    "NewLearner",
    "authenticate_token",
    "create_learners",
    "create_user",
    "issue_token",
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


@dataclass(frozen=True)
class NewLearner:
    """A learner account to create in bulk (e.g. from another system's users)."""

    username: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""


def create_learners(
    *,
    actor: Actor,
    learners: Iterable[NewLearner],
    notes: str = "",
    chunk_size: int = 2000,
) -> dict[str, int]:
    """Create learner accounts in bulk, in one transaction; return every username's id.

    Usernames that exist already are left as they are and returned too, so a
    repeated call creates nothing. The accounts have no usable password: the people
    sign in once an admin sets one (or through single sign-on). One audit record
    lists the usernames created.
    """
    ids: dict[str, int] = {}
    created: list[str] = []
    last: User | None = None
    with transaction.atomic():
        iterator = iter(learners)
        while chunk := list(islice(iterator, chunk_size)):
            with collecting("The learners cannot be created.") as problems:
                for learner in chunk:
                    problems.text("username", learner.username, max_length=150)
                    problems.text("first_name", learner.first_name, max_length=150, required=False)
                    problems.text("last_name", learner.last_name, max_length=150, required=False)
                    problems.text("email", learner.email, max_length=254, required=False)
            wanted = {learner.username: learner for learner in chunk if learner.username not in ids}
            ids.update(User.objects.filter(username__in=wanted).values_list("username", "pk"))
            new = [
                User(
                    username=learner.username,
                    first_name=learner.first_name,
                    last_name=learner.last_name,
                    email=learner.email,
                    password=make_password(None),
                )
                for name, learner in wanted.items()
                if name not in ids
            ]
            if not new:
                continue
            User.objects.bulk_create(new, batch_size=1000)
            Account.objects.bulk_create(
                [Account(user_id=user.pk, role=Role.LEARNER) for user in new], batch_size=1000
            )
            for user in new:
                ids[user.username] = user.pk
                created.append(user.username)
            last = new[-1]
        if last is not None:
            audit.record(
                actor=actor,
                action="account.bulk_created",
                target=last,
                at=timezone.now(),
                after={"role": Role.LEARNER, "created": len(created), "usernames": created},
                notes=notes,
            )
    return ids


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


def issue_token(*, actor: User, name: str) -> IssuedToken:
    """Create a personal API token for ``actor``; return it with its secret, shown once."""
    with collecting("The token cannot be created.") as problems:
        name = problems.text("name", name, max_length=100)
    prefix = secrets.token_hex(6)
    secret = f"{_TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        now = timezone.now()
        token = ApiToken.objects.create(
            user=actor, name=name, prefix=prefix, digest=_digest(secret), created_at=now
        )
        audit.record(actor=actor, action="token.issued", target=token, at=now, after={"name": name})
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
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    user: Any = token.user
    # The role comes with the token, so role_of asks nothing more.
    user._coursepack_account = getattr(user, "account", None)
    return user
