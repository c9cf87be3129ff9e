"""Sign-in, sign-out, failed sign-in and lockout: each goes on the audit record.

Django and django-axes announce these with signals; the handlers only collect
the request's facts and call the accounts services, which write the record.
A signed-in session also gets its absolute lifetime here: the expiry is fixed
at sign-in (``SESSION_COOKIE_AGE`` from now) and never extended.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from axes.signals import user_locked_out  # type: ignore[import-untyped]
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from coursepack.accounts import api as accounts

#: The session key holding when the user signed in (the idle clock's start).
SIGNED_IN_AT = "_coursepack_signed_in_at"


def _address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR")


@receiver(user_logged_in, dispatch_uid="coursepack.accounts.signed_in")
def _signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = time.time()
        request.session.set_expiry(timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE))
    accounts.record_sign_in(user=user, address=_address(request))


@receiver(user_logged_out, dispatch_uid="coursepack.accounts.signed_out")
def _signed_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    idle = bool(getattr(request, "coursepack_signed_out_idle", False))
    accounts.record_sign_out(user=user, address=_address(request), idle=idle)


@receiver(user_login_failed, dispatch_uid="coursepack.accounts.sign_in_failed")
def _sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    accounts.record_failed_sign_in(
        username=str(credentials.get("username", "")), address=_address(request)
    )


@receiver(user_locked_out, dispatch_uid="coursepack.accounts.locked_out")
def _locked_out(
    sender: Any,
    request: HttpRequest | None = None,
    username: str | None = None,
    ip_address: str | None = None,
    **kwargs: Any,
) -> None:
    accounts.record_lockout(username=username or "", address=ip_address or _address(request))
