"""Who may see which page: the same roles as the API."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role

# HttpResponseBase: downloads are streamed (StreamingHttpResponse, FileResponse).
View = Callable[..., HttpResponseBase]


def role_required(*roles: Role) -> Callable[[View], View]:
    """Let signed-in users with one of ``roles`` in; send others to sign in, or refuse."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if accounts.role_of(request.user) not in roles:
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


STAFF = (Role.ADMIN, Role.AUDITOR)
EVERYONE = (Role.ADMIN, Role.AUDITOR, Role.MANAGER, Role.LEARNER)
# Who reads people's records, each within their scope (organisation.selectors, ADR 0024).
PEOPLE_READERS = (Role.ADMIN, Role.AUDITOR, Role.MANAGER)
ADMIN = (Role.ADMIN,)
