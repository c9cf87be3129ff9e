"""Create a personal API token for a user and print it (the only time it is shown).

    manage.py issue_token USERNAME NAME [--days N] [--actor OPERATOR]
    TOKEN=$(manage.py issue_token admin "HR sync")

The audit record names who ran the command — ``--actor`` (a Coursepack user) or
else the OS user — not the token's owner. Only the token's SHA-256 is stored:
keep the printed token somewhere safe, or revoke it (DELETE /api/v1/tokens/{id})
and issue a new one. Tokens expire (default 90 days).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from coursepack.accounts import api as accounts
from coursepack.audit import api as audit
from coursepack.errors import DomainError


class Command(BaseCommand):
    help = "Create a personal API token for USERNAME, called NAME, and print it (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="Whose token it is; it acts with their role.")
        parser.add_argument("name", help='What it is for, e.g. "HR sync".')
        parser.add_argument("--days", type=int, default=None, help="Days until it expires.")
        parser.add_argument(
            "--actor",
            default=None,
            help="The Coursepack user running this, for the audit record (default: the OS user).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None or not user.is_active:
            raise CommandError(f"There is no active user {options['username']!r}.")
        try:
            actor = audit.operator(options["actor"])
            issued = accounts.issue_token(
                actor=actor, owner=user, name=options["name"], expires_in_days=options["days"]
            )
        except (DomainError, LookupError) as exc:
            raise CommandError(str(exc)) from exc
        # The token alone on stdout, so that TOKEN=$(manage.py issue_token ...) works;
        # the rest on stderr.
        self.stdout.write(issued.secret)
        self.stderr.write(
            f"Token {issued.token.name!r} (id {issued.token.pk}) for {user.get_username()}, "
            f"expires {issued.token.expires_at:%Y-%m-%d %H:%M} UTC: shown only now; store it safely."
        )
