"""People and access (admins): users with role and status, creating a user with a
set-password link or an initial password, roles, deactivation, password resets and
API tokens; and the page where a person sets their password from a link."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.audit import selectors as audit
from coursepack.errors import DomainError
from coursepack.web.access import role_required
from coursepack.web.operations.common import ADMINS, PER_PAGE, done, show_error
from coursepack.web.operations.forms import (
    CreateUserForm,
    NotesForm,
    RoleForm,
    SetPasswordForm,
    TokenForm,
)

# A new set-password link is shown once, on the next page, then forgotten.
_LINK_KEY = "cp_password_link"
# So is a token issued for someone.
_TOKEN_KEY = "cp_issued_token"


def _with_role(user: Any) -> Any:
    user._coursepack_account = getattr(user, "account", None)
    user.role = accounts.role_of(user)
    return user


def _people(search: str, role: str, state: str) -> Any:
    users = get_user_model().objects.select_related("account").order_by("username", "pk")
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(email__icontains=search)
        )
    if role == Role.ADMIN:
        users = users.filter(Q(account__role=role) | Q(account__isnull=True, is_superuser=True))
    elif role == Role.LEARNER:
        users = users.filter(Q(account__role=role) | Q(account__isnull=True, is_superuser=False))
    elif role == Role.AUDITOR:
        users = users.filter(account__role=role)
    if state == "active":
        users = users.filter(is_active=True)
    elif state == "deactivated":
        users = users.filter(is_active=False)
    return users


@role_required(*ADMINS)
def people(request: HttpRequest) -> HttpResponse:
    """Everyone, with their role and whether they can sign in; searchable, filterable."""
    search = request.GET.get("q", "").strip()
    role = request.GET.get("role", "")
    state = request.GET.get("state", "")
    page = Paginator(_people(search, role, state), PER_PAGE).get_page(request.GET.get("page"))
    rows = [_with_role(u) for u in page.object_list]
    return render(
        request,
        "web/ops/people.html",
        {
            "page": page,
            "rows": rows,
            "search": search,
            "role": role,
            "state": state,
            "roles": Role.choices,
            "filtered": bool(search or role or state),
        },
    )


def _link_url(request: HttpRequest, link: accounts.PasswordLink) -> str:
    path = reverse("web:set-password", kwargs={"uidb64": link.uidb64, "token": link.token})
    return request.build_absolute_uri(path)


def _remember_link(request: HttpRequest, user_id: int, link: accounts.PasswordLink) -> None:
    request.session[_LINK_KEY] = {
        "user": user_id,
        "url": _link_url(request, link),
        "expires_at": link.expires_at.isoformat(),
    }


@role_required(*ADMINS)
def create_person(request: HttpRequest) -> HttpResponse:
    """Create a user with a role and either a set-password link or an initial password."""
    form = CreateUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with_password = data["password_choice"] == "password"
        try:
            user = accounts.create_user(
                actor=request.user,
                username=data["username"],
                role=data["role"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                password=data["password"] if with_password else None,
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            if not with_password:
                _remember_link(request, user.pk, accounts.password_link(user))
            done(request, f"Created {user.username} as {Role(data['role']).label.lower()}.")
            return redirect("web:person", user_id=user.pk)
    return render(
        request, "web/ops/person_new.html", {"form": form}, status=400 if form.errors else 200
    )


def _person_or_404(user_id: int) -> Any:
    user = get_user_model().objects.select_related("account").filter(pk=user_id).first()
    if user is None:
        raise Http404("There is no such person.")
    return _with_role(user)


@role_required(*ADMINS)
def person(request: HttpRequest, user_id: int) -> HttpResponse:
    """One person: role, status, password, API tokens and the record of changes."""
    return _person_page(request, _person_or_404(user_id))


def _person_page(
    request: HttpRequest,
    user: Any,
    *,
    role_form: RoleForm | None = None,
    notes_form: NotesForm | None = None,
    token_form: TokenForm | None = None,
    status: int = 200,
) -> HttpResponse:
    issued = request.session.get(_TOKEN_KEY)
    if issued and issued.get("user") == user.pk:
        del request.session[_TOKEN_KEY]
        issued = {**issued, "expires_at": parse_datetime(issued["expires_at"] or "")}
    else:
        issued = None
    link = request.session.get(_LINK_KEY)
    if link and link.get("user") == user.pk:
        del request.session[_LINK_KEY]
        link = {**link, "expires_at": parse_datetime(link["expires_at"])}
    else:
        link = None
    tokens = accounts.tokens_of(user.pk)
    history = audit.audit_events(audit.AuditFilters()).filter(
        Q(target_type="auth.user", target_id=str(user.pk))
        | Q(target_type="accounts.apitoken", target_id__in=[str(t.pk) for t in tokens])
    )[:20]
    return render(
        request,
        "web/ops/person.html",
        {
            "person": user,
            "role_form": role_form or RoleForm(initial={"role": user.role}),
            "notes_form": notes_form or NotesForm(),
            "token_form": token_form or TokenForm(initial={"expires_in_days": 90}),
            "issued": issued,
            "tokens": tokens,
            "link": link,
            "history": history,
            "is_self": user.pk == request.user.pk,
        },
        status=status,
    )


@require_POST
@role_required(*ADMINS)
def change_role(request: HttpRequest, user_id: int) -> HttpResponse:
    """Give the person another role."""
    user = _person_or_404(user_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            accounts.set_role(actor=request.user, user_id=user.pk, role=form.cleaned_data["role"])
        except DomainError as exc:
            show_error(form, exc)
        else:
            label = Role(form.cleaned_data["role"]).label.lower()
            done(request, f"{user.username} is now a {label}.")
            return redirect("web:person", user_id=user.pk)
    return _person_page(request, user, role_form=form, status=400)


def _set_active(request: HttpRequest, user_id: int, *, active: bool) -> HttpResponse:
    user = _person_or_404(user_id)
    form = NotesForm(request.POST)
    if form.is_valid():
        service = accounts.reactivate_user if active else accounts.deactivate_user
        try:
            service(actor=request.user, user_id=user.pk, notes=form.cleaned_data["notes"])
        except DomainError as exc:
            show_error(form, exc)
        else:
            if active:
                done(request, f"Reactivated {user.username}: they can sign in again.")
            else:
                done(
                    request,
                    f"Deactivated {user.username}: they can no longer sign in "
                    "and their API tokens no longer work.",
                )
            return redirect("web:person", user_id=user.pk)
    return _person_page(request, user, notes_form=form, status=400)


@require_POST
@role_required(*ADMINS)
def deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    """Stop the person signing in (their records stay)."""
    return _set_active(request, user_id, active=False)


@require_POST
@role_required(*ADMINS)
def reactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    """Let a deactivated person sign in again."""
    return _set_active(request, user_id, active=True)


@require_POST
@role_required(*ADMINS)
def reset_password(request: HttpRequest, user_id: int) -> HttpResponse:
    """Stop the person's password working and show a set-password link to give them."""
    user = _person_or_404(user_id)
    link = accounts.reset_password(actor=request.user, user_id=user.pk)
    _remember_link(request, user.pk, link)
    done(request, f"{user.username}'s password no longer works; give them the link below.")
    return redirect("web:person", user_id=user.pk)


@require_POST
@role_required(*ADMINS)
def issue_token(request: HttpRequest, user_id: int) -> HttpResponse:
    """Issue an API token for the person (its secret is shown once, on the next page)."""
    user = _person_or_404(user_id)
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            issued = accounts.issue_token(
                actor=request.user,
                owner=user,
                name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            request.session[_TOKEN_KEY] = {
                "user": user.pk,
                "name": issued.token.name,
                "secret": issued.secret,
                "expires_at": issued.token.expires_at.isoformat()
                if issued.token.expires_at
                else "",
            }
            done(request, f"Issued the token “{issued.token.name}” for {user.username}.")
            return redirect("web:person", user_id=user.pk)
    return _person_page(request, user, token_form=form, status=400)


@require_POST
@role_required(*ADMINS)
def revoke_token(request: HttpRequest, user_id: int, token_id: int) -> HttpResponse:
    """Revoke one of the person's API tokens."""
    user = _person_or_404(user_id)
    if not any(t.pk == token_id for t in accounts.tokens_of(user.pk)):
        raise Http404("That person has no such token.")
    actor: Any = request.user
    token = accounts.revoke_token(actor=actor, token_id=token_id)
    done(request, f"Revoked {user.username}'s token “{token.name}”: it no longer works.")
    return redirect("web:person", user_id=user.pk)


def set_password(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Where a person opens their set-password link and chooses a password."""
    try:
        user = accounts.user_of_link(uidb64=uidb64, token=token)
    except DomainError as exc:
        return render(request, "web/ops/set_password.html", {"invalid": exc.message}, status=400)
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.set_password_from_link(
                uidb64=uidb64, token=token, password=form.cleaned_data["password"]
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            done(request, "Your password is set. Sign in with it now.")
            return redirect("web:login")
    return render(
        request,
        "web/ops/set_password.html",
        {"form": form, "person": user},
        status=400 if form.errors else 200,
    )
