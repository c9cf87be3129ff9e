"""Accounts, roles and personal API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from coursepack import statements
from coursepack.accounts import usernames
from coursepack.accounts.errors import (
    CannotChangeOwnAccess,
    ExternalIdTaken,
    InvalidPasswordLink,
    LastAdmin,
    TokenNotFound,
    UsernameReserved,
    UsernameTaken,
    UserNotFound,
)
from coursepack.accounts.models import Account, ApiToken, Role
from coursepack.audit import api as audit
from coursepack.audit.api import Actor
from coursepack.db_busy import WouldWait, without_waiting
from coursepack.validation import collecting

__all__ = [
    "IssuedToken",
    "NewLearner",
    "PasswordLink",
    "authenticate_token",
    "create_learners",
    "create_user",
    "deactivate_user",
    "issue_token",
    "password_link",
    "reactivate_user",
    "record_failed_sign_in",
    "record_lockout",
    "record_sign_in",
    "record_sign_out",
    "reset_password",
    "revoke_token",
    "role_of",
    "set_password_from_link",
    "set_role",
    "signed_in_user",
    "tokens_of",
    "user_of_link",
]

_TOKEN_PREFIX = "cp_"
# Writing last_used_at on every request would make every read a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def role_of(user: User | AnonymousUser | audit.Operator | None) -> Role | None:
    """Return the user's role: their account's, admin for superusers, else learner.

    None for no one, an anonymous visitor, or an operator at the command line.
    """
    if user is None or isinstance(user, audit.Operator) or not user.is_authenticated:
        return None
    # Cached on the user, None included (no account): a list of users that loaded
    # the accounts with select_related must not query again for each one without.
    if not hasattr(user, "_coursepack_account"):
        user._coursepack_account = Account.objects.filter(user_id=user.pk).first()  # type: ignore[attr-defined]
    account: Account | None = user._coursepack_account  # type: ignore[attr-defined]
    if account is not None:
        return Role(account.role)
    return Role.ADMIN if user.is_superuser else Role.LEARNER


def _problems_of_password(problems: Any, password: str, user: User | None) -> None:
    """Add the password's problems (Django's validators, and no NUL characters)."""
    if "\x00" in password:
        problems.add("password", "must not contain NUL characters")
        return
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        for message in exc.messages:
            problems.add("password", message)


def _key_holder(key: str) -> str | None:
    """Return the username of the user whose name has ``key``, if any.

    Accounts carry their key (unique); users made outside these services (the
    ``createsuperuser`` command, bulk loads) may have no account or key yet, and
    are compared by name.
    """
    holder = Account.objects.filter(username_key=key).select_related("user").first()
    if holder is not None:
        return holder.user.get_username()
    unkeyed = User.objects.filter(Q(account__isnull=True) | Q(account__username_key__isnull=True))
    for name in unkeyed.values_list("username", flat=True).iterator(chunk_size=5000):
        if usernames.username_key(name) == key:
            return name
    return None


def create_user(
    *,
    actor: Actor,
    username: str,
    role: str = Role.LEARNER,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    password: str | None = None,
    external_id: str | None = None,
) -> User:
    """Create a user with a role (learners are usually created by an HR integration).

    ``external_id`` is the id another system knows the person by (unique): an
    integration finds them again at ``/users/by-external-id/{id}``.

    Without ``password`` the user cannot sign in until they set one through a
    set-password link (``password_link``). A username is refused when it is
    reserved or when it reads the same as an existing one: case, Unicode forms
    and look-alike characters are ignored (``accounts.usernames``).
    """
    with collecting("The user cannot be created.") as problems:
        username = problems.text("username", username, max_length=150)
        first_name = problems.text("first_name", first_name, max_length=150, required=False)
        last_name = problems.text("last_name", last_name, max_length=150, required=False)
        email = problems.text("email", email, max_length=254, required=False)
        if external_id is not None:
            external_id = problems.text("external_id", external_id, max_length=64)
        if username and any(c.isspace() or not c.isprintable() for c in username):
            problems.add("username", "must not contain spaces or invisible characters")
        if role not in Role.values:
            problems.add("role", f"must be one of {', '.join(Role.values)}")
        if password is not None:
            _problems_of_password(problems, password, User(username=username, email=email))
    if usernames.is_reserved(username):
        raise UsernameReserved(
            f"The username {username!r} is reserved for the system; choose another."
        )
    key = usernames.username_key(username)
    with transaction.atomic():
        now = timezone.now()
        chain = audit.lock_chain()  # serialises user creation, so the key check holds
        taken = _key_holder(key)
        if taken is not None:
            same = "is taken" if taken == username else f"reads the same as {taken!r}"
            raise UsernameTaken(
                f"The username {username!r} {same}; choose another.",
                existing_id=User.objects.filter(username=taken)
                .values_list("pk", flat=True)
                .first(),
            )
        if external_id is not None:
            holder = Account.objects.filter(external_id=external_id).values_list(
                "user_id", flat=True
            )
            if holder:
                raise ExternalIdTaken(
                    f"Another user has the external id {external_id!r}.", existing_id=holder[0]
                )
        user = User.objects.create_user(
            username, email=email, password=password, first_name=first_name, last_name=last_name
        )
        Account.objects.create(user=user, role=role, username_key=key, external_id=external_id)
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="account.created",
                    target=user,
                    at=now,
                    after={
                        "username": username,
                        "role": role,
                        "active": True,
                        "password": "set" if password is not None else "set-password link",
                        "external_id": external_id,
                    },
                )
            ],
            head=chain,
        )
    return user


def _lock_user(user_id: int) -> User:
    try:
        return User.objects.select_for_update().get(pk=user_id)
    except User.DoesNotExist:
        raise UserNotFound(f"There is no user with id {user_id}.") from None


def _other_active_admins(user_id: int) -> bool:
    """Return whether an active admin other than ``user_id`` exists."""
    others = User.objects.filter(is_active=True).exclude(pk=user_id)
    return others.filter(
        Q(account__role=Role.ADMIN) | Q(account__isnull=True, is_superuser=True)
    ).exists()


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
            # The same rule as create_user: no name that reads like another's.
            keys = {user.username: usernames.username_key(user.username) for user in new}
            clashes = set(
                Account.objects.filter(username_key__in=keys.values()).values_list(
                    "username_key", flat=True
                )
            )
            if clashes or len(set(keys.values())) < len(keys):
                taken = sorted(name for name, key in keys.items() if key in clashes)
                raise UsernameTaken(
                    "These usernames read like existing ones (or like each other): "
                    f"{', '.join(taken) or 'two in this list'}. Rename them and try again."
                )
            User.objects.bulk_create(new, batch_size=1000)
            Account.objects.bulk_create(
                [
                    Account(user_id=user.pk, role=Role.LEARNER, username_key=keys[user.username])
                    for user in new
                ],
                batch_size=1000,
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
    """Give a user a role.

    An admin cannot take their own admin role away, and the last active admin
    cannot lose theirs: someone must be left who can give roles.
    """
    with collecting("The role cannot be set.") as problems:
        if role not in Role.values:
            problems.add("role", f"must be one of {', '.join(Role.values)}")
    with transaction.atomic():
        chain = audit.lock_chain()
        user = _lock_user(user_id)
        before = role_of(user) or Role.LEARNER
        account = Account.objects.filter(user=user).first() or Account(user=user, username_key=None)
        if before == role:
            return account
        if before == Role.ADMIN:
            if getattr(actor, "pk", None) == user.pk:
                raise CannotChangeOwnAccess(
                    "You cannot take away your own admin role; ask another admin."
                )
            if user.is_active and not _other_active_admins(user.pk):
                raise LastAdmin(
                    f"{user.get_username()} is the only active admin; "
                    "make someone else an admin first."
                )
        account.role = role
        account.save()
        user._coursepack_account = account  # type: ignore[attr-defined]
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="account.role_set",
                    target=user,
                    at=timezone.now(),
                    before={"role": str(before)},
                    after={"role": role},
                )
            ],
            head=chain,
        )
    return account


def _set_active(*, actor: Actor, user_id: int, active: bool, notes: str) -> User:
    with collecting("The account cannot be changed.") as problems:
        notes = problems.text("notes", notes, max_length=20_000, required=False)
    with transaction.atomic():
        chain = audit.lock_chain()
        user = _lock_user(user_id)
        if user.is_active == active:
            return user
        if not active:
            if getattr(actor, "pk", None) == user.pk:
                raise CannotChangeOwnAccess("You cannot deactivate yourself; ask another admin.")
            if role_of(user) == Role.ADMIN and not _other_active_admins(user.pk):
                raise LastAdmin(
                    f"{user.get_username()} is the only active admin; "
                    "make someone else an admin first."
                )
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="account.reactivated" if active else "account.deactivated",
                    target=user,
                    at=timezone.now(),
                    before={"active": not active},
                    after={"active": active},
                    notes=notes,
                )
            ],
            head=chain,
        )
    return user


def deactivate_user(*, actor: Actor, user_id: int, notes: str = "") -> User:
    """Deactivate a user: they can no longer sign in, and their API tokens stop working.

    Their records stay. Nobody can deactivate themselves or the last active admin.
    """
    return _set_active(actor=actor, user_id=user_id, active=False, notes=notes)


def reactivate_user(*, actor: Actor, user_id: int, notes: str = "") -> User:
    """Let a deactivated user sign in again (their revoked tokens stay revoked)."""
    return _set_active(actor=actor, user_id=user_id, active=True, notes=notes)


@dataclass(frozen=True)
class PasswordLink:
    """What a set-password link carries: the user (base64) and a one-time token.

    The token stops working once the password changes, or after
    ``settings.PASSWORD_RESET_TIMEOUT`` seconds.
    """

    uidb64: str
    token: str
    expires_at: datetime


def password_link(user: User) -> PasswordLink:
    """Return a set-password link's parts for the user (nothing is written)."""
    return PasswordLink(
        uidb64=urlsafe_base64_encode(force_bytes(user.pk)),
        token=default_token_generator.make_token(user),
        expires_at=timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT),
    )


def reset_password(*, actor: Actor, user_id: int) -> PasswordLink:
    """Stop the user's password working and return a link for them to set a new one."""
    with transaction.atomic():
        chain = audit.lock_chain()
        user = _lock_user(user_id)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        audit.record_all(
            [
                audit.Entry(
                    actor=actor,
                    action="account.password_reset",
                    target=user,
                    at=timezone.now(),
                    after={"password": "set-password link"},
                )
            ],
            head=chain,
        )
    return password_link(user)


def user_of_link(*, uidb64: str, token: str) -> User:
    """Return the user a valid set-password link is for, or raise InvalidPasswordLink."""
    try:
        user_id = int(urlsafe_base64_decode(uidb64).decode())
        user = User.objects.get(pk=user_id, is_active=True)
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError, User.DoesNotExist):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        raise InvalidPasswordLink(
            "This set-password link is not valid: it was used already, has expired, "
            "or was copied incompletely. Ask a training admin for a new one."
        )
    return user


def set_password_from_link(*, uidb64: str, token: str, password: str) -> User:
    """Set a user's password through their set-password link (the link then stops working)."""
    user = user_of_link(uidb64=uidb64, token=token)
    with collecting("The password cannot be set.") as problems:
        _problems_of_password(problems, password, user)
    with transaction.atomic():
        chain = audit.lock_chain()
        user = _lock_user(user.pk)
        if not default_token_generator.check_token(user, token):
            raise InvalidPasswordLink("This set-password link was used already.")
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record_all(
            [
                audit.Entry(
                    actor=user,
                    action="account.password_set",
                    target=user,
                    at=timezone.now(),
                    after={"password": "set through link"},
                )
            ],
            head=chain,
        )
    return user


def tokens_of(user_id: int) -> list[ApiToken]:
    """Return a user's API tokens, newest first (never their secrets)."""
    if not User.objects.filter(pk=user_id).exists():
        raise UserNotFound(f"There is no user with id {user_id}.")
    return list(ApiToken.objects.filter(user_id=user_id))


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
        tokens = ApiToken.objects.select_for_update().select_related("user")
        if role_of(actor) != Role.ADMIN:
            tokens = tokens.filter(user=actor)
        token = tokens.filter(pk=token_id).first()
        if token is None:
            raise TokenNotFound(f"There is no token with id {token_id}.")
        if token.revoked_at is None:
            now = timezone.now()
            token.revoked_at = now
            token.save(update_fields=["revoked_at"])
            audit.record(
                actor=actor,
                action="token.revoked",
                target=token,
                at=now,
                before={"revoked": False},
                after={"revoked": True, "owner": token.user.get_username()},
            )
    return token


def authenticate_token(secret: str) -> User | None:
    """Return the user a presented token belongs to, or None if it is not valid."""
    parts = secret.split("_")
    if len(parts) < 3 or not secret.startswith(_TOKEN_PREFIX):
        return None
    token = _live_token(parts[1])
    if token is None or not hmac.compare_digest(token.digest, _digest(secret)):
        return None
    user: Any = token.user
    if not user.is_active:
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
    return user


@dataclass(frozen=True)
class _LiveToken:
    pk: int
    digest: str
    expires_at: datetime | None
    last_used_at: datetime | None
    user: User


_TOKEN_COLUMNS = ("id", "digest", "expires_at", "last_used_at")


def _live_token(prefix: str) -> _LiveToken | None:
    """Return the unrevoked token with this prefix, with its user and their account
    (the role), read by one statement written once (ADR 0035): every API request
    authenticates, and compiling the equivalent queryset cost more than running it.

    Prefixes are unique (a constraint), so at most one row. The user comes with their
    account cached (None: none), so ``role_of`` and ``user.account`` ask nothing more.
    """
    token_cols = statements.columns(ApiToken, _TOKEN_COLUMNS)
    user_cols, account_cols = _person_columns()
    sql = _TOKEN_SQL.get(connection.vendor)
    if sql is None:
        q = connection.ops.quote_name
        token_table, user_table = q(ApiToken._meta.db_table), q(User._meta.db_table)
        sql = _TOKEN_SQL[connection.vendor] = (
            f"SELECT {token_cols.sql}, {user_cols.sql}, {account_cols.sql} "
            f"FROM {token_table} "
            f"INNER JOIN {user_table} ON {user_table}.{q('id')} = {token_table}.{q('user_id')} "
            f"{_account_join()} "
            f"WHERE {token_table}.{q('prefix')} = %s AND {token_table}.{q('revoked_at')} IS NULL"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    n_token = len(token_cols.attnames)
    pk, digest, expires_at, last_used_at = statements.from_row(token_cols, row[:n_token])
    user = _person(user_cols, account_cols, row[n_token:])
    return _LiveToken(pk, digest, expires_at, last_used_at, user)


_TOKEN_SQL: dict[str, str] = {}


def signed_in_user(user_id: Any) -> User | None:
    """Return the user of a session's user id with their account, or None: one
    statement written once (ADR 0035), for every signed-in page's request.

    What ``ModelBackend.get_user`` and ``role_of`` read with two compiled querysets
    (the user by primary key, then their account); the user comes with their account
    cached (None: none), so ``role_of`` and ``user.account`` ask nothing more. Always
    the primary's rows, as the router keeps every read of people (``replica``).
    """
    try:
        pk = User._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    if pk is None:
        return None
    user_cols, account_cols = _person_columns()
    sql = _USER_SQL.get(connection.vendor)
    if sql is None:
        q = connection.ops.quote_name
        user_table = q(User._meta.db_table)
        sql = _USER_SQL[connection.vendor] = (
            f"SELECT {user_cols.sql}, {account_cols.sql} FROM {user_table} "
            f"{_account_join()} WHERE {user_table}.{q('id')} = %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    return None if row is None else _person(user_cols, account_cols, row)


_USER_SQL: dict[str, str] = {}


def _person_columns() -> tuple[statements.Columns, statements.Columns]:
    """The select lists of a user and of their account (every concrete column)."""
    return (
        statements.columns(User, [f.attname for f in User._meta.concrete_fields]),
        statements.columns(Account, [f.attname for f in Account._meta.concrete_fields]),
    )


def _account_join() -> str:
    """The user's account, joined (a user may have none), for a statement reading users."""
    q = connection.ops.quote_name
    user_table, account_table = q(User._meta.db_table), q(Account._meta.db_table)
    return (
        f"LEFT OUTER JOIN {account_table} "
        f"ON {account_table}.{q('user_id')} = {user_table}.{q('id')}"
    )


def _person(
    user_cols: statements.Columns, account_cols: statements.Columns, row: Sequence[Any]
) -> User:
    """The user of a row of their columns then their account's (``_person_columns``),
    with the account cached as ``select_related("account")`` leaves it (None: none) and
    as ``role_of`` caches it: neither asks the database again."""
    n_user = len(user_cols.attnames)
    user: User = statements.instance(user_cols, row[:n_user])
    account_row = row[n_user:]
    account = None if account_row[0] is None else statements.instance(account_cols, account_row)
    user._state.fields_cache["account"] = account
    user._coursepack_account = account  # type: ignore[attr-defined]
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
