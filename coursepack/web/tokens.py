"""Your own API tokens (every signed-in user): list, create (the secret shown once) and
revoke. Admins manage other people's tokens on each person's page."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from coursepack.accounts import api as accounts
from coursepack.errors import DomainError
from coursepack.web.access import EVERYONE, role_required
from coursepack.web.operations.common import done, show_error
from coursepack.web.operations.forms import TokenForm

# A new token's secret is shown once, on the next page, then forgotten.
_ISSUED_KEY = "cp_own_token"


class OwnTokenForm(TokenForm):
    """A token for yourself: its name and lifetime (the service checks the maximum)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].help_text = "What will use it, e.g. “Reporting script”."


def _own_id(request: HttpRequest) -> int:
    # role_required lets only signed-in users in.
    pk: int = request.user.pk  # type: ignore[assignment]
    return pk


@role_required(*EVERYONE)
def own_tokens(request: HttpRequest) -> HttpResponse:
    """Your API tokens, the form to create one, and a new token's secret once."""
    return _page(request)


def _page(
    request: HttpRequest, *, form: OwnTokenForm | None = None, status: int = 200
) -> HttpResponse:
    issued = request.session.pop(_ISSUED_KEY, None)
    if issued:
        issued = {**issued, "expires_at": parse_datetime(issued["expires_at"] or "")}
    tokens = sorted(accounts.tokens_of(_own_id(request)), key=lambda t: t.pk, reverse=True)
    return render(
        request,
        "web/tokens.html",
        {
            "tokens": tokens,
            "active": sum(1 for t in tokens if t.revoked_at is None),
            "form": form or OwnTokenForm(initial={"expires_in_days": 90}),
            "issued": issued,
        },
        status=status,
    )


@require_POST
@role_required(*EVERYONE)
def create(request: HttpRequest) -> HttpResponse:
    """Create a token for yourself (audited); its secret is shown once, on the next page."""
    form = OwnTokenForm(request.POST)
    if form.is_valid():
        try:
            issued = accounts.issue_token(
                actor=request.user,
                name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            expires = issued.token.expires_at
            request.session[_ISSUED_KEY] = {
                "name": issued.token.name,
                "secret": issued.secret,
                "expires_at": expires.isoformat() if expires else "",
            }
            done(request, f"Created the token “{issued.token.name}”. Copy it now.")
            return redirect("web:own-tokens")
    return _page(request, form=form, status=400)


@require_POST
@role_required(*EVERYONE)
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of your tokens (audited): it stops working at once."""
    if not any(t.pk == token_id for t in accounts.tokens_of(_own_id(request))):
        # Someone else's token gets the answer of one that does not exist.
        raise Http404("You have no such token.")
    actor: Any = request.user
    token = accounts.revoke_token(actor=actor, token_id=token_id)
    done(request, f"Revoked the token “{token.name}”: it no longer works.")
    return redirect("web:own-tokens")
